# mirrorsim — the two commands that matter:
#   make run    install what is missing, build, run the default scenario
#   make test   the same set-up, then every test
# Debian packages only; apt-get runs only when something is missing.

BUILD_DIR ?= build
PYTHON    := /usr/bin/python3
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)

DEB_PACKAGES := g++ cmake ninja-build pkg-config \
  libsimgrid-dev libeigen3-dev libboost-program-options-dev catch2 \
  pybind11-dev python3-pybind11 libtomlplusplus-dev nlohmann-json3-dev libfmt-dev libsodium-dev \
  python3 python3-dev python3-numpy python3-pandas python3-matplotlib \
  python3-pytest python3-nbclient python3-nbconvert python3-nbformat python3-ipykernel

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test deps build clean

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

clean:
	rm -rf $(BUILD_DIR)
