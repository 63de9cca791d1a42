// Encode+compress and decode of snapshots of 10k, 100k and 1M targets (issue 5 targets:
// 100k encoded ≤ 300 ms and decoded ≤ 300 ms on one core, ≤ 40 bytes/target stored).
// Run: swift run -c release snapshot-bench [--quick]
import Foundation
import JSON
import Prometheus
import ServiceDiscoveryAPI
import Snapshot
import SnapshotStore

func sample(_ count: Int, collectors collectorCount: Int = 100, jobs jobCount: Int = 50) -> Snapshot {
    let collectors = (0..<collectorCount).map { Collector(name: "collector-\($0)", node: "node-\($0 % 50)") }
    let jobs = (0..<jobCount).map { Job(name: "serviceMonitor/ns-\($0 % 7)/app-\($0)/0", scrapeConfig: .object([JSONMember("job_name", .string("j\($0)"))])) }
    var state: UInt64 = 0x9e37_79b9
    func next() -> Int {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int(state >> 33)
    }
    return Snapshot(
        epoch: 1, generation: 1, createdAtMillis: 0, leader: "bench", collectors: collectors, jobs: jobs,
        targets: (0..<count).map { i in
            let ip = "10.\(i >> 16 & 255).\(i >> 8 & 255).\(i & 255)"
            return Target(
                job: jobs[next() % jobs.count].name,
                labels: Labels([
                    ("__address__", "\(ip):8080"), ("__meta_kubernetes_namespace", "ns-\(i % 7)"),
                    ("__meta_kubernetes_pod_name", "app-\(i / 3)-7d9f8b-\(i % 9973)"), ("__meta_kubernetes_pod_ip", ip),
                    ("__meta_kubernetes_pod_node_name", "node-\(i % 500)"), ("__meta_kubernetes_pod_label_app", "app-\(i % 40)"),
                    ("__meta_kubernetes_pod_container_name", "main"), ("__meta_kubernetes_pod_container_port_name", "metrics"),
                    ("__meta_kubernetes_pod_container_port_number", "8080"), ("__meta_kubernetes_pod_ready", "true"),
                ]), collector: collectors[next() % collectors.count].name)
        })
}

func median(_ runs: Int, _ body: () throws -> Void) rethrows -> Double {
    var times: [Double] = []
    for _ in 0..<runs {
        let start = ContinuousClock.now
        try body()
        let d = ContinuousClock.now - start
        times.append(Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15)
    }
    return times.sorted()[times.count / 2]
}

let quick = CommandLine.arguments.contains("--quick")
/// Only the delta measurement (to profile it).
let deltasOnly = CommandLine.arguments.contains("--deltas")
if !deltasOnly {
print("targets     encode ms  decode ms  stored bytes  bytes/target  chunks(900KiB)")
for count in quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000] {
    let snapshot = sample(count)
    var encoded: (compressed: [UInt8], uncompressedSize: Int) = ([], 0)
    let runs = count >= 1_000_000 ? 3 : 5
    let encodeMs = try median(runs) { encoded = try SnapshotCodec.encode(snapshot) }
    let decodeMs = try median(runs) { _ = try SnapshotCodec.decode(encoded.compressed, uncompressedSize: encoded.uncompressedSize) }
    let perTarget = Double(encoded.compressed.count) / Double(count)
    print(
        String(
            format: "%-10d  %9.1f  %9.1f  %12d  %12.1f  %d", count, encodeMs, decodeMs, encoded.compressed.count, perTarget,
            (encoded.compressed.count + 900 * 1024 - 1) / (900 * 1024)))
    if count == 100_000 {
        print(
            String(
                format: "  100k targets: encode %.0f ms (target ≤ 300, ratio %.2f), decode %.0f ms (target ≤ 300, ratio %.2f), %.1f B/target (target ≤ 40, ratio %.2f)",
                encodeMs, encodeMs / 300, decodeMs, decodeMs / 300, perTarget, perTarget / 40))
    }
}

// Installing into the SD responder: every answer rendered (and, since the HTML views, the target
// index; replacing a snapshot also diffs the two for the / page's history). 100k targets, the
// second snapshot with 1% of targets moved to another collector and 1% replaced by new ones.
do {
    let first = sample(100_000)
    var second = first
    second.generation = 2
    for i in stride(from: 0, to: second.targets.count, by: 100) {
        second.targets[i].collector = first.collectors[(i / 100) % first.collectors.count].name
        second.targets[i + 1].labels = Labels(second.targets[i + 1].labels.map { ($0.name, $0.value) } + [("__meta_new", "\(i)")])
    }
    func responder() -> ServiceDiscoveryResponder {
        ServiceDiscoveryResponder(options: .init(identity: "bench"), registry: PrometheusCollectorRegistry())
    }
    var fresh: [Double] = []
    var replacing: [Double] = []
    for _ in 0..<7 {
        let r = responder()
        var start = ContinuousClock.now
        r.install(first)
        let f = ContinuousClock.now - start
        fresh.append(Double(f.components.seconds) * 1000 + Double(f.components.attoseconds) / 1e15)
        start = ContinuousClock.now
        r.install(second)
        let d = ContinuousClock.now - start
        replacing.append(Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15)
    }
    print(
        String(
            format: "install 100k targets into the SD responder: first %.0f ms, replacing %.0f ms (median of 7)",
            fresh.sorted()[3], replacing.sorted()[3]))
}

}

// Applying deltas to the SD responder, as a follower does during churn (issue 12: an API write
// must reach every follower within 1 s): 100k targets of one job over 10 collectors (the scale
// benchmark's shape), then 20 deltas of 500 changes each (250 new targets, 250 removed), each
// re-rendering only what it touches. Time per changed target.
do {
    var snapshot = sample(100_000, collectors: 10, jobs: 1)
    let responder = ServiceDiscoveryResponder(options: .init(identity: "bench"), registry: PrometheusCollectorRegistry())
    responder.install(snapshot)
    var perChange: [Double] = []
    let rounds = Int(ProcessInfo.processInfo.environment["DELTA_ROUNDS"] ?? "") ?? 20
    for round in 0..<rounds {
        var delta = SnapshotDelta(epoch: 1, generation: snapshot.generation + 1, createdAtMillis: 0, leader: "bench")
        for k in 0..<250 {
            let i = (round * 250 + k) * 397 % snapshot.targets.count
            delta.removed.append(snapshot.targets[i])
            var added = snapshot.targets[i]
            added.labels = Labels(added.labels.map { ($0.name, $0.name == "__address__" ? "10.\(200 + round / 250).\(round % 250).\(k):8080" : $0.value) })
            delta.upserted.append(added)
            snapshot.targets[i] = added
        }
        let start = ContinuousClock.now
        guard responder.apply(delta, after: (1, snapshot.generation), failure: { print("delta failed: \($0)") }) else { break }
        let d = ContinuousClock.now - start
        perChange.append((Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12) / 500)
        snapshot.generation += 1
    }
    print(String(format: "apply a 500-change delta to 100k served targets: %.0f µs per changed target (median of %d)", perChange.sorted()[perChange.count / 2], perChange.count))
}
