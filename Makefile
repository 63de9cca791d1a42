# The two commands of the README, and the benchmarks.
SWIFT ?= swift

.PHONY: build test demo release clean proto bench bench-alloc bench-discovery bench-snapshot bench-relabel bench-cluster bench-informer bench-http bench-scale

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

## Benchmarks (not tests): each prints its figures, the targets and PASS/FAIL.
bench: bench-alloc bench-discovery bench-snapshot bench-relabel bench-cluster bench-informer bench-http

## The leader's CPU per discovered pod, stage by stage (PODS=100000).
bench-discovery:
	$(SWIFT) run -c release discovery-bench

bench-alloc:
	$(SWIFT) run -c release allocation-bench

## Relabel throughput, and pathological regexes that must decide in milliseconds (RE2).
bench-relabel:
	scripts/ensure-deps.sh build
	$(SWIFT) run -c release relabel-bench

bench-cluster:
	scripts/ensure-deps.sh build
	$(SWIFT) run -c release cluster-bench

## The informer alone on one core, the emulator (generating the updates) pinned to another.
bench-informer:
	scripts/ensure-deps.sh build
	scripts/bench-informer.sh

bench-http:
	scripts/ensure-deps.sh build
	Benchmarks/http/bench.sh

## Issue 12 at scale: 100,000 pods, 3 replica processes, churn, kill -9 of the leader (3–4 min after the release build).
## LATENCY_MS=500 make bench-scale: the API server slowed instead, then stalled past the renew deadline.
bench-scale:
	scripts/ensure-deps.sh build
	scripts/bench-scale.sh

clean:
	rm -rf .build .build-*

## Regenerates Sources/SnapshotStore/Generated from proto/ (needs protoc; builds protoc-gen-swift once, ~1-10 min).
proto:
	command -v protoc >/dev/null || (apt-get install -y --no-install-recommends protobuf-compiler)
	$(SWIFT) build -c release --scratch-path .build-release --product protoc-gen-swift
	protoc --plugin=protoc-gen-swift=.build-release/release/protoc-gen-swift --swift_opt=Visibility=Internal \
		--swift_out=Sources/SnapshotStore/Generated -I proto proto/snapshot.proto

bench-snapshot:
	$(SWIFT) run -c release snapshot-bench
