#!/usr/bin/env bash
# The informer alone on one core (issue 3: ≥ 20,000 events/s applied into the cache):
# kube-emulator with 10,000 pods, pinned to one core, writes the update burst itself once the
# informer's watch opens; cluster-bench --informer-only, pinned to another core, lists, applies
# and counts. Ports are ephemeral on 127.0.0.1; the emulator is stopped on any exit.
# Environment: SCRATCH (build directory, default .build), PODS, UPDATES, INFORMER_CPU, EMULATOR_CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=${SCRATCH:-.build}
pods=${PODS:-10000}
updates=${UPDATES:-100000}
informer_cpu=${INFORMER_CPU:-0}
emulator_cpu=${EMULATOR_CPU:-1}

swift build -c release --scratch-path "$scratch" --product kube-emulator
swift build -c release --scratch-path "$scratch" --product cluster-bench
bin=$(swift build -c release --scratch-path "$scratch" --show-bin-path)

tmp=$(mktemp -d)
emulator=
cleanup() {
    if [ -n "$emulator" ]; then
        kill "$emulator" 2>/dev/null || true
        wait "$emulator" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

taskset -c "$emulator_cpu" "$bin/kube-emulator" --host 127.0.0.1 --port 0 --token bench=t \
    --pods "$pods" --burst-updates "$updates" >"$tmp/url" 2>"$tmp/emulator.log" &
emulator=$!
# The emulator prints its URL once the pods are loaded.
for _ in $(seq 300); do
    [ -s "$tmp/url" ] && break
    kill -0 "$emulator" 2>/dev/null || { cat "$tmp/emulator.log" >&2; exit 1; }
    sleep 0.1
done
url=$(head -n 1 "$tmp/url")
[ -n "$url" ] || { echo "kube-emulator did not start" >&2; exit 1; }
echo "kube-emulator on CPU $emulator_cpu at $url; informer on CPU $informer_cpu"
taskset -c "$informer_cpu" "$bin/cluster-bench" --informer-only --server "$url" --token t --pods "$pods" --updates "$updates"
