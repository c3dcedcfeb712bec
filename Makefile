# mlflowd — the two commands of the quick start are `make run` and `make test`.
# Meson + Ninja do the building; this file only names the everyday tasks.

RELEASE_DIR := build/release
TEST_DIR    := build/test
PYTHON      := /usr/bin/python3
ARGS        ?=

.PHONY: all deps build build-test run test unit integration integration-pg test-tools fuzz-smoke \
        bench fuzz format clean
FUZZ_SECONDS ?= 60

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
# then the integration suite again on PostgreSQL.
test: build-test unit fuzz-smoke integration integration-pg

unit:
	meson test -C $(TEST_DIR) --print-errorlogs

# Node test servers the integration suite starts (s3rver for the S3 artifact tests).
test-tools: deps
	scripts/s3-test-server.sh install

integration: test-tools
	MLFLOWD_BIN=$(CURDIR)/$(TEST_DIR)/mlflowd $(PYTHON) -m pytest -q tests/integration

# The integration suite on PostgreSQL 15: a throw-away cluster on 127.0.0.1:55432
# (scripts/pg-test-server.sh), a new database per test server; the cluster is
# removed afterwards even when tests fail. The pytest summary stays the last line.
integration-pg: test-tools
	@uri=$$(scripts/pg-test-server.sh start) || exit 1; \
	MLFLOWD_TEST_DB=postgres MLFLOWD_TEST_PG_URI=$$uri MLFLOWD_BIN=$(CURDIR)/$(TEST_DIR)/mlflowd \
	  $(PYTHON) -m pytest -q tests/integration; \
	status=$$?; scripts/pg-test-server.sh stop; exit $$status

fuzz-smoke: deps
	scripts/fuzz.sh 5

# Longer fuzzing: make fuzz FUZZ_SECONDS=600
fuzz: deps
	scripts/fuzz.sh $(FUZZ_SECONDS)

bench: build
	$(PYTHON) bench/run.py --bin $(CURDIR)/$(RELEASE_DIR)/mlflowd

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
