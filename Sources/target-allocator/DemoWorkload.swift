import Foundation
import KubernetesClient

/// The demo's sample cluster: nodes, collector pods, and scrape configs for a few services.
enum DemoWorkload {
    static let collectorLabels = ["app.kubernetes.io/name": "demo-collector"]

    static func seed(admin: KubernetesClient, namespace: String, collectors: Int) async throws {
        for name in [namespace, "shop", "payments"] {
            _ = try await createIfMissing(admin, Namespace(metadata: ObjectMeta(name: name)))
        }
        let nodes = max(1, min(collectors, 3))
        for n in 0..<nodes {
            _ = try await createIfMissing(admin, Node(metadata: ObjectMeta(name: "node-\(n)", labels: ["kubernetes.io/hostname": "node-\(n)"])))
        }
        for c in 0..<collectors {
            var pod = Pod(
                metadata: ObjectMeta(name: "collector-\(c)", namespace: namespace, labels: collectorLabels),
                spec: .init(nodeName: "node-\(c % nodes)", containers: [.init(name: "otelcol", image: "otel/opentelemetry-collector")]))
            pod = try await createIfMissing(admin, pod)
            pod.status = .init(
                phase: "Running", podIP: "10.0.\(c / 250).\(c % 250 + 1)", hostIP: "192.168.0.\(c % nodes + 1)",
                conditions: [.init(type: "Ready", status: "True")])
            _ = try await admin.updateStatus(pod)
        }
    }

    private static func createIfMissing<T: KubernetesObject>(_ client: KubernetesClient, _ object: T) async throws -> T {
        do {
            return try await client.create(object)
        } catch let error as KubernetesError where error.isAlreadyExists {
            return try await client.get(T.self, namespace: object.metadata.namespace, name: object.name)
        }
    }

    /// The allocator config: short lease timings so failover is quick to watch, collectors by
    /// label, and static scrape configs spreading `targets` over a few jobs.
    static func config(namespace: String, targets: Int) -> String {
        let jobs: [(name: String, share: Int, port: Int, labels: [String: String])] = [
            ("shop/frontend", 4, 8080, ["team": "web", "tier": "frontend"]),
            ("shop/cart", 2, 9090, ["team": "web", "tier": "backend"]),
            ("payments/api", 2, 8443, ["team": "payments", "tier": "backend"]),
            ("node-exporter", 1, 9100, ["team": "platform"]),
            ("kube-state-metrics", 1, 8081, ["team": "platform"]),
        ]
        let shares = jobs.reduce(0) { $0 + $1.share }
        var yaml = """
            collector_namespace: \(namespace)
            collector_selector:
              matchlabels:
                app.kubernetes.io/name: demo-collector
            allocation_strategy: consistent-hashing
            leader_election:
              lease_name: target-allocator
              lease_duration: 4s
              renew_deadline: 3s
              retry_period: 1s
            snapshot:
              configmap_name: target-allocator-snapshot
              min_write_interval: 500ms
            config:
              global:
                scrape_interval: 30s
              scrape_configs:

            """
        var assigned = 0
        for (j, job) in jobs.enumerated() {
            let count = j == jobs.count - 1 ? targets - assigned : targets * job.share / shares
            assigned += count
            yaml += "  - job_name: \(job.name)\n    scrape_interval: 15s\n    static_configs:\n"
            // Groups of up to 25 targets, one per "pod template hash", like a Deployment's pods.
            var start = 0
            var groupIndex = 0
            while start < count {
                let end = min(count, start + 25)
                let addresses = (start..<end).map { "\"10.\(j + 1).\($0 / 250).\($0 % 250 + 1):\(job.port)\"" }
                yaml += "      - targets: [\(addresses.joined(separator: ", "))]\n        labels:\n"
                for (k, v) in job.labels.sorted(by: { $0.key < $1.key }) { yaml += "          \(k): \(v)\n" }
                yaml += "          group: g\(groupIndex)\n"
                start = end
                groupIndex += 1
            }
        }
        return yaml
    }
}
