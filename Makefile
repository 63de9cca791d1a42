# The two commands of the README, and the benchmarks.
SWIFT ?= swift

.PHONY: build test demo bench-alloc release clean

build:
	scripts/ensure-deps.sh build
	$(SWIFT) build

## Sets up and runs every test (real curl, nghttp, h2load, openssl and Prometheus).
test:
	scripts/ensure-deps.sh test
	$(SWIFT) build --build-tests
	$(SWIFT) test

## Sets up and runs the embedded default: several replicas serving a sample workload.
demo:
	scripts/ensure-deps.sh build
	$(SWIFT) build -c release --product target-allocator
	.build/release/target-allocator demo

release:
	scripts/ensure-deps.sh build
	$(SWIFT) build -c release --product target-allocator

bench-alloc:
	$(SWIFT) run -c release allocation-bench

clean:
	rm -rf .build .build-*
