# A thin wrapper around CMake: `make run` and `make test` are all a newcomer needs.
BUILD     ?= build
ASAN_BUILD ?= build-asan
LISTEN    ?= 127.0.0.1:6000
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)

# Debian packages the build, the tests and the benchmarks need.
DEB_PACKAGES = build-essential cmake pkg-config git python3 curl \
  liblua5.4-dev lua5.4 lua-cjson-dev libmicrohttpd-dev libcurl4-openssl-dev libyaml-dev \
  libjansson-dev libexpat1-dev libedit-dev libcmocka-dev libhttp-parser-dev clang libclang-rt-14-dev \
  nginx wrk procps time openssl \
  docker.io busybox-static python3-kubernetes python3-yaml \
  python3-torch python3-matplotlib python3-pandas chromium fonts-dejavu-core

.PHONY: all deps build run test bench asan asan-test fuzz soak clean image

all: build

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "podgym: installing Debian packages:$$missing"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing \
	      || { echo "podgym: apt-get install failed"; exit 1; }; \
	  else \
	    echo "podgym: missing Debian packages; run as root:"; \
	    echo "  apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

# Configured again when this file changes (its cmake flags, PODGYM_WERROR among them).
$(BUILD)/CMakeCache.txt: Makefile | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPODGYM_WERROR=ON

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/podgym serve --listen $(LISTEN)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	python3 tests/bench/run.py --build $(BUILD)

# The podgym image for examples/kubernetes (docker import of a rootfs, no registry).
IMAGE ?= podgym:latest
image: build
	examples/kubernetes/build-image.sh --build $(BUILD) --image $(IMAGE)

# The demo workload (examples/workload/) as the image podgym-demo:latest on the
# daemon DOCKER_HOST names; a no-op when the image has the same content.
.PHONY: demo-image
demo-image: deps
	examples/workload/build-image.sh --out $(BUILD)/demo-image

asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DPODGYM_SANITIZE=ON -DPODGYM_WERROR=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS)

asan-test: asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS)

# The libFuzzer harnesses (clang), FUZZ_SECONDS each; ctest runs them 3 s each.
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
fuzz: deps
	tests/fuzz/run.sh all $(CURDIR) $(CURDIR)/$(FUZZ_BUILD) $(FUZZ_SECONDS)

# Ten minutes of mixed load (wrk, an agent, a sampler, a reload every 30 s): no 5xx, RSS flat.
SOAK_SECONDS ?= 600
soak: build
	cd $(BUILD) && PODGYM_BIN=$(CURDIR)/$(BUILD)/podgym PODGYM_SRC=$(CURDIR) python3 $(CURDIR)/tests/soak/soak.py --seconds $(SOAK_SECONDS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
