# mlflowd — the two commands of the quick start are `make run` and `make test`.
# Meson + Ninja do the building; this file only names the everyday tasks.

RELEASE_DIR := build/release
TEST_DIR    := build/test
PYTHON      := /usr/bin/python3
ARGS        ?=

.PHONY: bench-pg all deps build build-test run test unit e2e integration integration-pg test-tools fuzz-smoke \
        bench fuzz format clean hardening soak deploy-checks helm-check
FUZZ_SECONDS ?= 60
SOAK_REQUESTS ?= 200000

all: build

deps:
	@scripts/install-deps.sh

$(RELEASE_DIR)/build.ninja:
	meson setup $(RELEASE_DIR) --buildtype=release -Db_pie=true

$(TEST_DIR)/build.ninja:
	meson setup $(TEST_DIR) --buildtype=debug -Db_sanitize=address,undefined

build: deps $(RELEASE_DIR)/build.ninja
	ninja -C $(RELEASE_DIR)

build-test: deps $(TEST_DIR)/build.ninja
	ninja -C $(TEST_DIR)

# Starts mlflowd on SQLite (./mlflow.db) and local artifacts (./mlartifacts)
# at http://127.0.0.1:5000. Extra flags: make run ARGS="--port 8080".
run: build
	./$(RELEASE_DIR)/mlflowd server $(ARGS)

# Every test: C unit tests, the HTTP integration suite against the ASan+UBSan
# build, and a short libFuzzer smoke run of every parser from its seed corpus;
# the release binary's hardening (PIE, RELRO, BIND_NOW, stack protector, FORTIFY);
# the web UI end-to-end in headless Chromium; then the integration suite again on PostgreSQL.
test: build-test unit fuzz-smoke hardening e2e deploy-checks integration integration-pg

unit:
	meson test -C $(TEST_DIR) --print-errorlogs

# The web UI (web/) in headless Chromium against the ASan+UBSan build: node --test runs
# tests/e2e/*.test.mjs, one file at a time. Screenshots and the performance report
# (perf-report.txt) land in build/e2e-screenshots/.
e2e: build-test
	MLFLOWD_BIN=$(CURDIR)/$(TEST_DIR)/mlflowd node --test --test-concurrency=1 tests/e2e/

# The container image and the Helm chart, checked without Docker or a cluster (tests/deploy):
# the Dockerfile's runtime packages against the release binary's libraries, yamllint,
# values.schema.json with ajv-cli, rendered manifests against golden files and the chart's
# R-HELM requirements. helm itself is not a Debian package: `make helm-check`, where helm is
# installed, adds helm lint and helm template against the same goldens.
deploy-checks: build
	@scripts/install-deps.sh --deploy-checks
	MLFLOWD_RELEASE_BIN=$(CURDIR)/$(RELEASE_DIR)/mlflowd $(PYTHON) -m pytest -q -rs -m "not helm" tests/deploy

helm-check: deps
	@scripts/install-deps.sh --deploy-checks
	$(PYTHON) -m pytest -q -rs -m helm tests/deploy

# Node test servers the integration suite starts (s3rver for the S3 artifact tests, the OIDC
# issuers for the single sign-on tests).
test-tools: deps
	scripts/s3-test-server.sh install
	scripts/oidc-test-tools.sh install

integration: test-tools
	MLFLOWD_BIN=$(CURDIR)/$(TEST_DIR)/mlflowd $(PYTHON) -m pytest -q tests/integration

# The integration suite on PostgreSQL 15: a throw-away cluster on 127.0.0.1:25432
# (scripts/pg-test-server.sh), a new database per test server; the cluster is
# removed afterwards even when tests fail. The pytest summary stays the last line.
integration-pg: test-tools
	@uri=$$(scripts/pg-test-server.sh start) || exit 1; \
	MLFLOWD_TEST_DB=postgres MLFLOWD_TEST_PG_URI=$$uri MLFLOWD_BIN=$(CURDIR)/$(TEST_DIR)/mlflowd \
	  $(PYTHON) -m pytest -q tests/integration; \
	status=$$?; scripts/pg-test-server.sh stop; exit $$status

fuzz-smoke: deps
	scripts/fuzz.sh 5 1

# The release binary carries the hardening meson.build and -Db_pie=true ask for.
hardening: build
	scripts/check-hardening.sh $(RELEASE_DIR)/mlflowd

# Nightly-style soak (a few minutes): mixed reads and writes at 64 connections against
# the ASan+UBSan build; fails on any error, RSS growth or sanitizer report at stop.
# tests/integration/test_soak.py runs a brief one. More: make soak SOAK_REQUESTS=1000000
soak: build-test
	$(PYTHON) bench/soak.py --bin $(CURDIR)/$(TEST_DIR)/mlflowd --connections 64 \
	  --requests $(SOAK_REQUESTS)

# Longer fuzzing: make fuzz FUZZ_SECONDS=600
fuzz: deps
	scripts/fuzz.sh $(FUZZ_SECONDS)

bench: build
	$(PYTHON) bench/run.py --bin $(CURDIR)/$(RELEASE_DIR)/mlflowd

# The PostgreSQL figures (log-batch, search over 100,000 runs) on a throw-away cluster.
bench-pg: build
	$(PYTHON) bench/run.py --pg --bin $(CURDIR)/$(RELEASE_DIR)/mlflowd

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
