import Testing
import Relabel

/// Not a pass/fail benchmark: prints how long typical Kubernetes rule chains take.
@Suite struct PerformanceTests {
    static func clock() -> ContinuousClock.Instant { ContinuousClock.now }

    @Test func typicalKubernetesChain() throws {
        #if DEBUG
        let targets = 1_000
        #else
        let targets = 100_000
        #endif
        let rules = try RelabelConfig.parseList([
            ["source_labels": ["__meta_kubernetes_service_label_app"], "regex": "web", "action": "keep"],
            ["source_labels": ["__meta_kubernetes_endpoint_port_name"], "regex": "http-metrics|metrics", "action": "keep"],
            ["source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"],
            ["regex": "__meta_kubernetes_pod_label_(.+)", "action": "labelmap"],
            ["source_labels": ["__address__"], "target_label": "__tmp_hash", "modulus": 3, "action": "hashmod"],
        ])
        let engineRule = try RelabelConfig.parseList([
            ["source_labels": ["__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port"],
             "regex": "(.+?)(\\:\\d+)?;(\\d+)", "target_label": "__address__", "replacement": "$1:$3"],
        ])
        var inputs: [[Label]] = []
        inputs.reserveCapacity(targets)
        for i in 0..<targets {
            var ls = [
                Label(name: "__address__", value: "10.\(i / 65536).\(i / 256 % 256).\(i % 256):8080"),
                Label(name: "__meta_kubernetes_namespace", value: "ns-\(i % 50)"),
                Label(name: "__meta_kubernetes_service_label_app", value: "web"),
                Label(name: "__meta_kubernetes_endpoint_port_name", value: "http-metrics"),
                Label(name: "__meta_kubernetes_pod_name", value: "web-\(i)"),
                Label(name: "__meta_kubernetes_pod_annotation_prometheus_io_port", value: "9090"),
                Label(name: "job", value: "serviceMonitor/default/web/0"),
            ]
            for k in 0..<5 { ls.append(Label(name: "__meta_kubernetes_pod_label_l\(k)", value: "v\(k)")) }
            inputs.append(ls)
        }
        var kept = 0
        let start = Self.clock()
        for ls in inputs where Relabeler.process(ls, rules: rules) != nil { kept += 1 }
        let elapsed = Self.clock() - start
        #expect(kept == targets)

        var rewritten = 0
        let slice = inputs.prefix(targets / 10)
        let start2 = Self.clock()
        for ls in slice where Relabeler.process(ls, rules: engineRule) != nil { rewritten += 1 }
        let elapsed2 = Self.clock() - start2
        print("relabel timing: \(targets) targets × 5 rules (fast paths) in \(elapsed); "
            + "\(slice.count) targets × 1 regex-engine rule in \(elapsed2)")
    }
}
