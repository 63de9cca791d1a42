import Foundation
import JSON
public import KubernetesClient
public import KubernetesEmulator

/// A sample cluster, shared by `target-allocator demo` and the end-to-end test so the demo
/// shows what the test proves: nodes, collector pods, and applications discovered the way a
/// real cluster's are: ServiceMonitors (Service + EndpointSlice + pods), a PodMonitor, pods
/// annotated for `kubernetes_sd_configs`, and one static job.
public enum SampleWorkload {
    public static let collectorLabels = ["app.kubernetes.io/name": "demo-collector"]

    /// How the sample targets are split: (namespace, app, share, port, how it is discovered).
    enum Discovery { case serviceMonitor, podMonitor, annotations }
    static let apps: [(namespace: String, app: String, share: Int, port: Int, discovery: Discovery)] = [
        ("shop", "frontend", 4, 8080, .serviceMonitor),
        ("shop", "cart", 2, 9090, .serviceMonitor),
        ("payments", "api", 2, 8443, .podMonitor),
        ("batch", "worker", 1, 9100, .annotations),
    ]

    /// Creates `collectors` collector pods and about `targets` targets (see `expectedTargets`).
    public static func seed(admin: KubernetesClient, emulator: KubernetesEmulator, namespace: String, collectors: Int, targets: Int) async throws {
        for name in [namespace, "shop", "payments", "batch"] {
            _ = try await createIfMissing(admin, Namespace(metadata: ObjectMeta(name: name, labels: ["demo": "true"])))
        }
        let nodes = max(1, min(collectors, 3))
        for n in 0..<nodes {
            _ = try await createIfMissing(admin, Node(metadata: ObjectMeta(name: "node-\(n)", labels: ["kubernetes.io/hostname": "node-\(n)"])))
        }
        for c in 0..<collectors { try await addCollector(c, admin: admin, namespace: namespace, nodes: nodes) }

        // Applications: pods (with status, as the kubelet would report it), and what discovers them.
        for (a, app) in apps.enumerated() {
            let count = podCount(app: a, targets: targets)
            var pods: [JSONValue] = []
            var endpoints: [String] = []
            for i in 0..<count {
                let ip = podIP(app: a, index: i)
                let name = "\(app.app)-\(i)"
                pods.append(
                    try JSONValue.parse(
                        """
                        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"\(name)","namespace":"\(app.namespace)","uid":"\(app.namespace)-\(name)",
                         "labels":{"app":"\(app.app)"},"annotations":{"prometheus.io/scrape":"\(app.discovery == .annotations)","prometheus.io/port":"\(app.port)"}},
                         "spec":{"nodeName":"node-\(i % nodes)","containers":[{"name":"\(app.app)","ports":[{"name":"metrics","containerPort":\(app.port),"protocol":"TCP"}]}]},
                         "status":{"phase":"Running","podIP":"\(ip)","hostIP":"192.168.0.\(i % nodes + 1)","conditions":[{"type":"Ready","status":"True"}]}}
                        """))
                endpoints.append(
                    #"{"addresses":["\#(ip)"],"conditions":{"ready":true},"nodeName":"node-\#(i % nodes)","targetRef":{"kind":"Pod","name":"\#(name)","namespace":"\#(app.namespace)","uid":"\#(app.namespace)-\#(name)"}}"#
                )
            }
            emulator.seed(.pods, pods)
            switch app.discovery {
            case .serviceMonitor:
                emulator.seed(
                    .services,
                    [
                        try JSONValue.parse(
                            #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"\#(app.app)","namespace":"\#(app.namespace)","labels":{"app":"\#(app.app)"}},"spec":{"clusterIP":"10.96.\#(a).1","selector":{"app":"\#(app.app)"},"ports":[{"name":"metrics","port":\#(app.port),"targetPort":\#(app.port),"protocol":"TCP"}]}}"#
                        )
                    ])
                emulator.seed(
                    .named("endpointslices", group: "discovery.k8s.io"),
                    [
                        try JSONValue.parse(
                            #"{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"\#(app.app)-slice","namespace":"\#(app.namespace)","labels":{"kubernetes.io/service-name":"\#(app.app)"}},"addressType":"IPv4","ports":[{"name":"metrics","port":\#(app.port),"protocol":"TCP"}],"endpoints":[\#(endpoints.joined(separator: ","))]}"#
                        )
                    ])
                emulator.seed(
                    .named("servicemonitors", group: "monitoring.coreos.com"),
                    [
                        try JSONValue.parse(
                            #"{"apiVersion":"monitoring.coreos.com/v1","kind":"ServiceMonitor","metadata":{"name":"\#(app.app)","namespace":"\#(app.namespace)"},"spec":{"selector":{"matchLabels":{"app":"\#(app.app)"}},"endpoints":[{"port":"metrics","interval":"15s"}]}}"#
                        )
                    ])
            case .podMonitor:
                emulator.seed(
                    .named("podmonitors", group: "monitoring.coreos.com"),
                    [
                        try JSONValue.parse(
                            #"{"apiVersion":"monitoring.coreos.com/v1","kind":"PodMonitor","metadata":{"name":"\#(app.app)","namespace":"\#(app.namespace)"},"spec":{"selector":{"matchLabels":{"app":"\#(app.app)"}},"podMetricsEndpoints":[{"port":"metrics","interval":"30s"}]}}"#
                        )
                    ])
            case .annotations:
                break
            }
        }
    }

    /// A running, ready collector pod `collector-<c>` on one of `nodes` nodes.
    public static func addCollector(_ c: Int, admin: KubernetesClient, namespace: String, nodes: Int = 3) async throws {
        var pod = Pod(
            metadata: ObjectMeta(name: "collector-\(c)", namespace: namespace, labels: collectorLabels),
            spec: .init(nodeName: "node-\(c % nodes)", containers: [.init(name: "otelcol", image: "otel/opentelemetry-collector")]))
        pod = try await createIfMissing(admin, pod)
        pod.status = .init(
            phase: "Running", podIP: "10.0.\(c / 250).\(c % 250 + 1)", hostIP: "192.168.0.\(c % nodes + 1)",
            conditions: [.init(type: "Ready", status: "True")])
        _ = try await admin.updateStatus(pod)
    }

    /// The jobs `config` and `seed` produce and each one's target addresses: what collectors
    /// must discover between them, exactly.
    public static func expectedTargets(targets: Int) -> [String: Set<String>] {
        var jobs: [String: Set<String>] = [:]
        for (a, app) in apps.enumerated() {
            let job =
                switch app.discovery {
                case .serviceMonitor: "serviceMonitor/\(app.namespace)/\(app.app)/0"
                case .podMonitor: "podMonitor/\(app.namespace)/\(app.app)/0"
                case .annotations: "annotated-pods"
                }
            jobs[job, default: []].formUnion((0..<podCount(app: a, targets: targets)).map { "\(podIP(app: a, index: $0)):\(app.port)" })
        }
        jobs["kube-state-metrics"] = Set(staticAddresses(targets: targets))
        return jobs
    }

    /// Pods of `apps[app]`: its share of the nine tenths of `targets` that are discovered.
    private static func podCount(app: Int, targets: Int) -> Int {
        targets * 9 / 10 * apps[app].share / apps.reduce(0) { $0 + $1.share }
    }

    private static func podIP(app: Int, index i: Int) -> String { "10.\(app + 1).\(i / 250).\(i % 250 + 1)" }

    private static func staticAddresses(targets: Int) -> [String] {
        (0..<(targets - targets * 9 / 10)).map { "10.200.\($0 / 250).\($0 % 250 + 1):8081" }
    }

    private static func createIfMissing<T: KubernetesObject>(_ client: KubernetesClient, _ object: T) async throws -> T {
        do {
            return try await client.create(object)
        } catch let error as KubernetesError where error.isAlreadyExists {
            return try await client.get(T.self, namespace: object.metadata.namespace, name: object.name)
        }
    }

    /// The allocator config: short lease timings so failover is quick to watch, collectors by
    /// label, the prometheus-operator resources, annotated pods, and one static job with the
    /// remaining tenth of the targets.
    public static func config(
        namespace: String, targets: Int, leaseDuration: String = "4s", renewDeadline: String = "3s", retryPeriod: String = "1s"
    ) -> String {
        let addresses = staticAddresses(targets: targets).map { "\"\($0)\"" }
        return """
            collector_namespace: \(namespace)
            collector_selector:
              matchlabels:
                app.kubernetes.io/name: demo-collector
            allocation_strategy: consistent-hashing
            leader_election:
              lease_name: target-allocator
              lease_duration: \(leaseDuration)
              renew_deadline: \(renewDeadline)
              retry_period: \(retryPeriod)
            snapshot:
              configmap_name: target-allocator-snapshot
              min_write_interval: 500ms
            prometheus_cr:
              enabled: true
              scrape_interval: 30s
              service_monitor_selector: {}
              pod_monitor_selector: {}
            config:
              global:
                scrape_interval: 30s
              scrape_configs:
              - job_name: annotated-pods
                kubernetes_sd_configs: [{role: pod}]
                relabel_configs:
                - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
                  action: keep
                  regex: "true"
              - job_name: kube-state-metrics
                static_configs:
                - targets: [\(addresses.joined(separator: ", "))]
                  labels: {team: platform}

            """
    }
}
