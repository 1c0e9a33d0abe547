# The README's commands: `make demo` runs the pipeline end to end, `make test` builds and runs every test.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build test unit integration installcheck install tsan demo bench bench-quick bench-throughput format lint clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD_DIR)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

# On a failure, the failed cases and their messages again at the end (scripts/failed-tests.sh).
test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) || \
		{ bash $(CURDIR)/scripts/failed-tests.sh Testing/Temporary/LastTest.log; exit 1; }

unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -R unit

integration: build
	cd $(BUILD_DIR) && ctest --output-on-failure -R integration

# The extension's pg_regress suite (also part of `make test`), on a throwaway cluster of the build's
# private PostgreSQL tree.
installcheck: build
	@bash scripts/installcheck.sh $(BUILD_DIR)

# pg_duckpipe.so, libduckdb.so, the control file and SQL scripts into the PostgreSQL that pg_config
# names (root for the system one), then: shared_preload_libraries = 'pg_duckpipe', restart, and
# CREATE EXTENSION pg_duckpipe. The daemon: cmake --install $(BUILD_DIR) --prefix /usr/local.
install: build
	cmake --install $(BUILD_DIR) --component extension

# ThreadSanitizer: an instrumented build in build-tsan, then the integration binaries one at a time
# (TSAN_TESTS, default all); fails on any report (every process's reports land in build-tsan/tsan/).
TSAN_DIR ?= build-tsan
TSAN_TESTS ?=

tsan: deps
	cmake -S . -B $(TSAN_DIR) -DDUCKPIPE_SANITIZE=thread $(CMAKE_FLAGS)
	cmake --build $(TSAN_DIR) -j $(JOBS)
	@bash scripts/tsan.sh $(TSAN_DIR) $(TSAN_TESTS)

demo: build
	@bash scripts/demo.sh $(BUILD_DIR)

# The benchmark suite (bench/README.md): every scenario against the daemon and the extension's
# worker on a cluster of its own, results in bench/results/. BENCH_ARGS: e.g. --only snapshot,steady.
BENCH_ARGS ?=

bench: build
	@bash bench/run.sh $(BUILD_DIR) full $(BENCH_ARGS)

bench-quick: build
	@bash bench/run.sh $(BUILD_DIR) quick $(BENCH_ARGS)

# The older by-hand check: snapshot vs COPY and streaming vs pg_recvlogical, daemon only.
bench-throughput: build
	@bash scripts/bench.sh $(BUILD_DIR)

format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

lint: build
	@git ls-files 'src/*.cpp' | xargs clang-tidy -p $(BUILD_DIR) --quiet

clean:
	rm -rf $(BUILD_DIR)
