# mlflowd — the two commands of the quick start are `make run` and `make test`.
# Meson + Ninja do the building; this file only names the everyday tasks.

RELEASE_DIR := build/release
TEST_DIR    := build/test
PYTHON      := /usr/bin/python3
ARGS        ?=

.PHONY: all deps build build-test run test unit integration fuzz-smoke bench fuzz format clean
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
# build, and a short libFuzzer smoke run of every parser from its seed corpus.
test: build-test unit fuzz-smoke integration

unit:
	meson test -C $(TEST_DIR) --print-errorlogs

integration:
	MLFLOWD_BIN=$(CURDIR)/$(TEST_DIR)/mlflowd $(PYTHON) -m pytest -q tests/integration

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
