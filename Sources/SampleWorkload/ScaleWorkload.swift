import Foundation
public import JSON
public import KubernetesEmulator

/// A large cluster for the scale benchmark (issue 12): application pods spread over
/// namespaces and nodes, each owned by a ReplicaSet, with one container port and Prometheus's
/// usual `prometheus.io/scrape|port|path` annotations (most scraped, every `unscrapedEvery`-th
/// not), plus nodes and collector pods. Pod `i` is a pure function of `i`, so the emulator
/// process that seeds the cluster and the benchmark that changes it agree on every name and IP.
public struct ScaleWorkload: Sendable {
    /// Pods seeded at start: indexes `0..<pods`; the benchmark creates new ones from `pods` up.
    public var pods: Int
    public var namespaces = 10
    public var nodes = 100
    public var collectors = 10
    public var collectorNamespace = "observability"
    /// Every n-th seeded pod is annotated `prometheus.io/scrape: "false"`.
    public var unscrapedEvery = 10
    /// Deployments per namespace (pods of one share labels, owner and image).
    public var appsPerNamespace = 40

    public static let metricsPort = 8080
    public static let collectorLabel = ("app.kubernetes.io/name", "scale-collector")
    public static let jobName = "kubernetes-pods"

    public init(pods: Int) { self.pods = pods }

    // MARK: - identity of pod i

    public func namespace(of i: Int) -> String { "team-\(i % max(1, namespaces))" }
    private func appIndex(of i: Int) -> Int { (i / max(1, namespaces)) % max(1, appsPerNamespace) }
    private func appName(of i: Int) -> String { "app-\(appIndex(of: i))" }
    private func templateHash(of i: Int) -> String { String(UInt32(truncatingIfNeeded: (appIndex(of: i) + 1) &* 2_654_435_761), radix: 36) }
    public func name(of i: Int) -> String { "\(appName(of: i))-\(templateHash(of: i))-\(String(i, radix: 36))" }
    /// Unique for i < 4,194,304: 10.64.0.0/10.
    public func podIP(of i: Int) -> String { "10.\(64 + (i >> 16) & 63).\((i >> 8) & 255).\(i & 255)" }
    /// The target the pod yields (before and after the port relabeling: the annotation names the container port).
    public func address(of i: Int) -> String { "\(podIP(of: i)):\(Self.metricsPort)" }
    public func isScraped(seeded i: Int) -> Bool { i % max(1, unscrapedEvery) != 0 }
    private func node(of i: Int) -> String { "node-\(i % max(1, nodes))" }
    /// A stable UUID-shaped id for pod `i` (negative: the owners); 32 hex digits from two mixes of `i`.
    private func uid(of i: Int, dashes: Bool = true) -> String {
        let bits = UInt64(bitPattern: Int64(i))
        let words = [bits &* 0x9E37_79B9_7F4A_7C15, (bits ^ 0x5851_F42D_4C95_7F2D) &* 0xBF58_476D_1CE4_E5B9]
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for (n, word) in words.enumerated() {
            for k in 0..<16 {
                if dashes, [8, 12, 16, 20].contains(n * 16 + k) { out.append(UInt8(ascii: "-")) }
                out.append(digits[Int((word >> UInt64(60 - 4 * k)) & 0xf)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: - objects

    /// Pod `i` as a client creates it (no status; the API server sets `Pending`).
    public func pod(_ i: Int, scraped: Bool) -> JSONValue {
        let app = appName(of: i)
        let hash = templateHash(of: i)
        let metadata: [JSONMember] = [
            JSONMember("name", .string(name(of: i))), JSONMember("namespace", .string(namespace(of: i))),
            JSONMember(
                "labels",
                .object([
                    JSONMember("app.kubernetes.io/name", .string(app)), JSONMember("pod-template-hash", .string(hash)),
                    JSONMember("team", .string(namespace(of: i))), JSONMember("tier", .string(i % 3 == 0 ? "backend" : "frontend")),
                ])),
            JSONMember(
                "annotations",
                .object([
                    JSONMember("prometheus.io/scrape", .string(scraped ? "true" : "false")),
                    JSONMember("prometheus.io/port", .string(String(Self.metricsPort))), JSONMember("prometheus.io/path", .string("/metrics")),
                ])),
            JSONMember(
                "ownerReferences",
                .array([
                    .object([
                        JSONMember("apiVersion", .string("apps/v1")), JSONMember("kind", .string("ReplicaSet")),
                        JSONMember("name", .string("\(app)-\(hash)")), JSONMember("uid", .string(uid(of: -1 - appIndex(of: i)))),
                        JSONMember("controller", .bool(true)), JSONMember("blockOwnerDeletion", .bool(true)),
                    ])
                ])),
        ]
        let container: JSONValue = .object([
            JSONMember("name", .string(app)), JSONMember("image", .string("registry.example.com/\(app):1.\(appIndex(of: i) % 7)")),
            JSONMember(
                "ports",
                .array([
                    .object([
                        JSONMember("name", .string("metrics")), JSONMember("containerPort", .number(String(Self.metricsPort))),
                        JSONMember("protocol", .string("TCP")),
                    ])
                ])),
            JSONMember(
                "resources",
                .object([JSONMember("requests", .object([JSONMember("cpu", .string("100m")), JSONMember("memory", .string("128Mi"))]))])),
        ])
        return .object([
            JSONMember("apiVersion", .string("v1")), JSONMember("kind", .string("Pod")), JSONMember("metadata", .object(metadata)),
            JSONMember(
                "spec",
                .object([
                    JSONMember("nodeName", .string(node(of: i))), JSONMember("containers", .array([container])),
                    JSONMember("restartPolicy", .string("Always")), JSONMember("serviceAccountName", .string("default")),
                ])),
        ])
    }

    /// Pod `i` as the kubelet reports it once it runs: the whole object with a Running, Ready status.
    public func runningPod(_ i: Int, scraped: Bool) -> JSONValue {
        guard case .object(var members) = pod(i, scraped: scraped) else { return pod(i, scraped: scraped) }
        let started = "2026-01-01T00:00:00Z"
        let app = appName(of: i)
        members.append(
            JSONMember(
                "status",
                .object([
                    JSONMember("phase", .string("Running")),
                    JSONMember(
                        "conditions",
                        .array(
                            ["Initialized", "Ready", "ContainersReady", "PodScheduled"].map {
                                .object([
                                    JSONMember("type", .string($0)), JSONMember("status", .string("True")),
                                    JSONMember("lastTransitionTime", .string(started)),
                                ])
                            })),
                    JSONMember("hostIP", .string("192.168.\((i % max(1, nodes)) / 250).\((i % max(1, nodes)) % 250 + 1)")),
                    JSONMember("podIP", .string(podIP(of: i))), JSONMember("podIPs", .array([.object([JSONMember("ip", .string(podIP(of: i)))])])),
                    JSONMember("startTime", .string(started)),
                    JSONMember(
                        "containerStatuses",
                        .array([
                            .object([
                                JSONMember("name", .string(app)), JSONMember("ready", .bool(true)), JSONMember("restartCount", .number("0")),
                                JSONMember("image", .string("registry.example.com/\(app):1.\(appIndex(of: i) % 7)")),
                                JSONMember("containerID", .string("containerd://" + uid(of: i, dashes: false))),
                                JSONMember("started", .bool(true)),
                                JSONMember("state", .object([JSONMember("running", .object([JSONMember("startedAt", .string(started))]))])),
                            ])
                        ])),
                    JSONMember("qosClass", .string("Burstable")),
                ])))
        return .object(members)
    }

    public func nodeObject(_ n: Int) -> JSONValue {
        .object([
            JSONMember("apiVersion", .string("v1")), JSONMember("kind", .string("Node")),
            JSONMember(
                "metadata",
                .object([
                    JSONMember("name", .string("node-\(n)")),
                    JSONMember("labels", .object([JSONMember("kubernetes.io/hostname", .string("node-\(n)"))])),
                ])),
            JSONMember(
                "status",
                .object([
                    JSONMember(
                        "addresses",
                        .array([
                            .object([JSONMember("type", .string("InternalIP")), JSONMember("address", .string("192.168.\(n / 250).\(n % 250 + 1)"))])
                        ])),
                    JSONMember("conditions", .array([.object([JSONMember("type", .string("Ready")), JSONMember("status", .string("True"))])])),
                ])),
        ])
    }

    /// Collector `c`: a Running, Ready pod matching the allocator's `collector_selector`.
    public func collectorPod(_ c: Int) -> JSONValue {
        .object([
            JSONMember("apiVersion", .string("v1")), JSONMember("kind", .string("Pod")),
            JSONMember(
                "metadata",
                .object([
                    JSONMember("name", .string("collector-\(c)")), JSONMember("namespace", .string(collectorNamespace)),
                    JSONMember("labels", .object([JSONMember(Self.collectorLabel.0, .string(Self.collectorLabel.1))])),
                ])),
            JSONMember(
                "spec",
                .object([
                    JSONMember("nodeName", .string(node(of: c))),
                    JSONMember("containers", .array([.object([JSONMember("name", .string("otelcol")), JSONMember("image", .string("otel/opentelemetry-collector"))])])),
                ])),
            JSONMember(
                "status",
                .object([
                    JSONMember("phase", .string("Running")), JSONMember("podIP", .string("10.250.\(c / 250).\(c % 250 + 1)")),
                    JSONMember("conditions", .array([.object([JSONMember("type", .string("Ready")), JSONMember("status", .string("True"))])])),
                ])),
        ])
    }

    /// Creates the namespaces (through the API's validation) and stores nodes, collectors and
    /// the `pods` seeded pods, Running with their status, in batches.
    public func seed(into emulator: KubernetesEmulator) throws {
        for ns in [collectorNamespace] + (0..<namespaces).map({ "team-\($0)" }) where emulator.get(.namespaces, name: ns) == nil {
            try emulator.create(.namespaces, .object([JSONMember("metadata", .object([JSONMember("name", .string(ns))]))]))
        }
        emulator.seed(.nodes, (0..<nodes).map(nodeObject))
        emulator.seed(.pods, (0..<collectors).map(collectorPod))
        var batch: [JSONValue] = []
        batch.reserveCapacity(1000)
        for i in 0..<pods {
            batch.append(runningPod(i, scraped: isScraped(seeded: i)))
            if batch.count == 1000 {
                emulator.seed(.pods, batch)
                batch.removeAll(keepingCapacity: true)
            }
        }
        if !batch.isEmpty { emulator.seed(.pods, batch) }
    }

    /// The allocator's config: pods discovered cluster-wide with the usual annotation
    /// relabeling (keep `prometheus.io/scrape: "true"`, path and port from the annotations, pod
    /// labels copied), collectors by label in `collectorNamespace`.
    public func allocatorConfig(leaseDuration: String, renewDeadline: String, retryPeriod: String, minWriteInterval: String) -> String {
        """
        collector_namespace: \(collectorNamespace)
        collector_selector:
          matchlabels:
            \(Self.collectorLabel.0): \(Self.collectorLabel.1)
        allocation_strategy: consistent-hashing
        leader_election:
          lease_name: target-allocator
          lease_duration: \(leaseDuration)
          renew_deadline: \(renewDeadline)
          retry_period: \(retryPeriod)
        snapshot:
          configmap_name: target-allocator-snapshot
          min_write_interval: \(minWriteInterval)
        config:
          global:
            scrape_interval: 30s
          scrape_configs:
          - job_name: \(Self.jobName)
            kubernetes_sd_configs:
            - role: pod
            relabel_configs:
            - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
              action: keep
              regex: "true"
            - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path]
              action: replace
              regex: (.+)
              target_label: __metrics_path__
            - source_labels: [__address__, __meta_kubernetes_pod_annotation_prometheus_io_port]
              action: replace
              regex: ([^:]+)(?::\\d+)?;(\\d+)
              replacement: $1:$2
              target_label: __address__
            - action: labelmap
              regex: __meta_kubernetes_pod_label_(.+)
            - source_labels: [__meta_kubernetes_namespace]
              target_label: namespace
            - source_labels: [__meta_kubernetes_pod_name]
              target_label: pod

        """
    }
}
