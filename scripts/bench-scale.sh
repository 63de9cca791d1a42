#!/usr/bin/env bash
# The scale benchmark of issue 12: kube-emulator seeded with 100,000 annotated pods, three
# target-allocator replicas (release builds, --event-loop-threads 1), and scale-bench driving the
# phases (initial list, 1,000 pod changes/s for 60 s, steady state, kill -9 of the leader) and
# printing every figure beside its target. With LATENCY_MS set (e.g. 500) the replicas' API
# requests are delayed that much throughout and STALL_MS (default 5000) for STALL_SECONDS after
# the steady state, instead of the kill. The replicas share CPU 0 (REPLICA_CPUS), the emulator
# and scale-bench CPU 1 (EMULATOR_CPUS). Ports are ephemeral on 127.0.0.1; every process the
# run starts dies with scale-bench (setpriv --pdeathsig). KEEP_LOGS=1 keeps the run's logs.
# Environment: SCRATCH (build directory, default .build), PODS, NAMESPACES, COLLECTORS,
# CHURN_PER_SECOND, CHURN_SECONDS, MIN_WRITE_INTERVAL_MS, LATENCY_MS, STALL_MS, STALL_SECONDS.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=${SCRATCH:-.build}
for product in kube-emulator target-allocator scale-bench; do
    swift build -c release --scratch-path "$scratch" --product "$product"
done
bin=$(swift build -c release --scratch-path "$scratch" --show-bin-path)

if [ "$(nproc)" -ge 2 ]; then default_emulator_cpus=1; else default_emulator_cpus=0; fi
replica_cpus=${REPLICA_CPUS:-0}
emulator_cpus=${EMULATOR_CPUS:-$default_emulator_cpus}

work=$(mktemp -d -t bench-scale.XXXXXX)
bench=
cleanup() {
    if [ -n "$bench" ]; then
        kill "$bench" 2>/dev/null || true
        wait "$bench" 2>/dev/null || true
    fi
    if [ "${KEEP_LOGS:-0}" = 1 ]; then echo "logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

taskset -c "$emulator_cpus" "$bin/scale-bench" \
    --emulator-binary "$bin/kube-emulator" --allocator-binary "$bin/target-allocator" --work-dir "$work" \
    --replica-cpus "$replica_cpus" --emulator-cpus "$emulator_cpus" \
    --pods "${PODS:-100000}" --namespaces "${NAMESPACES:-10}" --collectors "${COLLECTORS:-10}" \
    --churn-per-second "${CHURN_PER_SECOND:-1000}" --churn-seconds "${CHURN_SECONDS:-60}" \
    --min-write-interval-ms "${MIN_WRITE_INTERVAL_MS:-500}" \
    --latency-ms "${LATENCY_MS:-0}" --stall-ms "${STALL_MS:-5000}" --stall-seconds "${STALL_SECONDS:-15}" &
bench=$!
status=0
wait "$bench" || status=$?
bench=
exit $status
