# mirrorsim — the two commands that matter:
#   make run    install what is missing, build, run the default scenario
#   make test   the same set-up, then every test
# and, for whoever changes a decoder of outside input:
#   make fuzz   every fuzz harness under libFuzzer, ASan and UBSan, FUZZ_SECONDS each
# Debian packages only; apt-get runs only when something is missing.

BUILD_DIR ?= build
PYTHON    := /usr/bin/python3
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)

DEB_PACKAGES := g++ cmake ninja-build pkg-config \
  libsimgrid-dev libeigen3-dev libboost-program-options-dev catch2 \
  pybind11-dev python3-pybind11 libtomlplusplus-dev nlohmann-json3-dev libfmt-dev libsodium-dev \
  python3 python3-dev python3-numpy python3-pandas python3-matplotlib \
  python3-pytest python3-nbclient python3-nbconvert python3-nbformat python3-ipykernel

# Only `make fuzz` needs these: clang, and libFuzzer's runtime (with the
# sanitizers' runtimes) from Debian's compiler-rt.
FUZZ_PACKAGES := clang libclang-rt-14-dev
FUZZ_DIR      ?= build-fuzz
FUZZ_SECONDS  ?= 60
FUZZ_HARNESSES := scenario wire result counterexample sweep_table

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test deps build clean fuzz

run: build
	$(BUILD_DIR)/cli/mirrorsim run scenarios/quickstart.toml

test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)
	@echo "seeded random runs of the model (seeds and invariant violations):"
	@$(BUILD_DIR)/tests/model_tests "seeded random runs*" | grep "^seeded random runs \["

deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(BUILD_DIR)/build.ninja: deps CMakeLists.txt
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPython3_EXECUTABLE=$(PYTHON) >/dev/null

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Each harness runs FUZZ_SECONDS from its committed corpus (tests/fuzz/corpus/,
# read only) plus what earlier runs found ($(FUZZ_DIR)/corpus/, kept). A
# defect stops that harness with its input saved as $(FUZZ_DIR)/crash-HARNESS-*
# (to be added to tests/fuzz/corpus/HARNESS/ once fixed, tests/fuzz/README.md);
# the others still run, and make fuzz fails at the end.
fuzz: deps
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(FUZZ_PACKAGES)"
	@[ -f $(FUZZ_DIR)/build.ninja ] || cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=clang++ -DMIRRORSIM_FUZZ=ON -DPython3_EXECUTABLE=$(PYTHON) >/dev/null
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_HARNESSES))
	@failed=""; for h in $(FUZZ_HARNESSES); do \
	  seeds=tests/fuzz/corpus/$$h; [ $$h = scenario ] && seeds="$$seeds scenarios"; \
	  mkdir -p $(FUZZ_DIR)/corpus/$$h; \
	  echo "fuzz_$$h: $(FUZZ_SECONDS) s"; \
	  if $(FUZZ_DIR)/tests/fuzz/fuzz_$$h -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -timeout=30 \
	       -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/crash-$$h- $(FUZZ_DIR)/corpus/$$h $$seeds \
	       2>$(FUZZ_DIR)/fuzz_$$h.log; then \
	    grep -E "^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)" $(FUZZ_DIR)/fuzz_$$h.log; \
	  else \
	    grep -E "ERROR|SUMMARY|runtime error|Assertion|what\(\)|^fuzz_$$h: |Test unit written" $(FUZZ_DIR)/fuzz_$$h.log; failed="$$failed $$h"; \
	  fi; \
	done; \
	if [ -n "$$failed" ]; then echo "make fuzz: defects found by:$$failed (logs: $(FUZZ_DIR)/fuzz_*.log)"; exit 1; fi

clean:
	rm -rf $(BUILD_DIR) $(FUZZ_DIR)
