// discovery-bench: the leader's CPU per discovered pod for a first list (issue 12's target:
// ≤ 50 µs per pod for decode, build, relabel, allocate and encode), stage by stage, on one core.
// Realistic pods (labels, prometheus.io annotations, an owner, one container port) discovered
// with role `pod` and the usual annotation relabeling. Run: make bench-discovery [PODS=100000]
import Allocation
import CMalloc
import Discovery
import Foundation
import JSON
import KubernetesClient
import Snapshot
import SnapshotStore

let pods = Int(ProcessInfo.processInfo.environment["PODS"] ?? "") ?? 100_000
let collectors = 10

/// A pod as the API server would list it; most are annotated for scraping, one in ten not.
func podJSON(_ i: Int) -> String {
    let ns = "ns-\(i % 50)"
    let app = "app-\(i % 500)"
    let hash = String(i % 500 * 7919, radix: 16)
    let name = "\(app)-\(hash)-\(String(i, radix: 36))"
    let scrape = i % 10 != 0
    return """
        {"metadata":{"name":"\(name)","namespace":"\(ns)","uid":"\(UUID(uuidString: String(format: "00000000-0000-4000-8000-%012x", i))!.uuidString.lowercased())",\
        "resourceVersion":"\(1000 + i)","labels":{"app":"\(app)","pod-template-hash":"\(hash)","tier":"backend"},\
        "annotations":{"prometheus.io/scrape":"\(scrape)","prometheus.io/port":"9102","prometheus.io/path":"/metrics"},\
        "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"\(app)-\(hash)","uid":"rs-\(i % 500)","controller":true}]},\
        "spec":{"nodeName":"node-\(i % 200)","containers":[{"name":"main","image":"registry.example.com/\(app):1.\(i % 7).0",\
        "ports":[{"name":"metrics","containerPort":9102,"protocol":"TCP"}]}]},\
        "status":{"phase":"Running","podIP":"10.\(i >> 16 & 255).\(i >> 8 & 255).\(i & 255)","hostIP":"192.168.0.\(i % 200)",\
        "conditions":[{"type":"Ready","status":"True"}],"containerStatuses":[{"name":"main","containerID":"containerd://\(String(repeating: String(i, radix: 16), count: 2))"}]}}
        """
}

let scrapeConfig = try JSONValue.parse(
    #"""
    {"job_name":"kubernetes-pods","kubernetes_sd_configs":[{"role":"pod"}],"relabel_configs":[
     {"source_labels":["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],"action":"keep","regex":"true"},
     {"source_labels":["__meta_kubernetes_pod_annotation_prometheus_io_path"],"action":"replace","target_label":"__metrics_path__","regex":"(.+)"},
     {"source_labels":["__address__","__meta_kubernetes_pod_annotation_prometheus_io_port"],"action":"replace","regex":"([^:]+)(?::\\d+)?;(\\d+)","replacement":"$1:$2","target_label":"__address__"},
     {"action":"labelmap","regex":"__meta_kubernetes_pod_label_(.+)"},
     {"source_labels":["__meta_kubernetes_namespace"],"action":"replace","target_label":"namespace"},
     {"source_labels":["__meta_kubernetes_pod_name"],"action":"replace","target_label":"pod"}]}
    """#)
let normalized = ScrapeConfigModel.normalize(global: nil, scrapeConfigs: [scrapeConfig])
guard let job = normalized.jobs.first else { fatalError("scrape config: \(normalized.problems)") }
let builder = try JobTargetBuilder(job: job.name, scrapeConfig: job.scrapeConfig, filter: true)

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
        + Double(usage.ru_stime.tv_usec) / 1e6
}

/// Bytes malloc has handed out and not had back: what a stage's result holds.
func heapInUse() -> Int { Int(mallinfo2().uordblks) }

/// A stage's CPU seconds and the heap its result holds (results stay alive to the end).
struct Stage {
    var cpu: Double
    var held: Int
}

func measure<T>(_ body: () throws -> T) rethrows -> (T, Stage) {
    let heap = heapInUse()
    let start = cpuSeconds()
    let result = try body()
    let cpu = cpuSeconds() - start
    return (result, Stage(cpu: cpu, held: heapInUse() - heap))
}

let body = Data(("{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[" + (0..<pods).map(podJSON).joined(separator: ",") + "]}").utf8)

let (list, decode) = try measure { try ObjectList<Pod>.decode(json: body) }
let (groups, build) = measure { list.items.map { KubernetesTargets.pod($0) } }
// One interner for the job, as the pipeline keeps it.
var names = NameInterner()
let (processed, relabel) = measure { groups.flatMap { builder.targets(of: $0, names: &names).targets } }
let (allocator, allocate) = measure {
    Allocator(
        configuration: AllocatorConfiguration(strategy: .consistentHashing),
        collectors: (0..<collectors).map { CollectorInfo(name: "collector-\($0)") },
        targets: processed.map { AllocationTarget(id: $0.id, key: $0.key) })
}
let (snapshot, assemble) = measure {
    Snapshot(
        epoch: 1, generation: 1, createdAtMillis: 0, leader: "bench", collectors: (0..<collectors).map { Collector(name: "collector-\($0)") },
        jobs: [Job(name: job.name, scrapeConfig: job.scrapeConfig)],
        targets: processed.map { Target(job: job.name, labels: $0.labels, collector: allocator.collector(for: $0.id)) })
}
let (encoded, encode) = try measure { try SnapshotCodec.encode(snapshot) }

let total = [decode, build, relabel, allocate, assemble, encode].map(\.cpu).reduce(0, +)
func perPod(_ seconds: Double) -> String { String(format: "%7.2f µs", seconds / Double(pods) * 1e6) }
func perPod(_ stage: Stage) -> String { perPod(stage.cpu) + String(format: "  %6d B held per pod", stage.held / pods) }
print("discovery-bench: \(pods) pods (\(body.count / pods) B of JSON each), \(processed.count) targets kept, \(collectors) collectors")
print("  decode    \(perPod(decode))   (the decoded list: what an informer caches)")
print("  build     \(perPod(build))   (\(groups.first.map { $0.labels.count + ($0.targets.first?.count ?? 0) } ?? 0) labels per target)")
print("  relabel   \(perPod(relabel))")
print("  allocate  \(perPod(allocate))")
print("  assemble  \(perPod(assemble))")
print("  encode    \(perPod(encode))   (\(encoded.compressed.count / max(1, processed.count)) B per target stored)")
let target = 50e-6
print("  total     \(perPod(total))   target ≤ 50.00 µs: \(total / Double(pods) <= target ? "PASS" : "FAIL")")
