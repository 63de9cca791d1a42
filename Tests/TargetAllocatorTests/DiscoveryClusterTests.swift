import Foundation
import JSON
import KubernetesEmulator
import TestSupport
import Testing

/// Discovery wired end to end (issue 7): a ServiceMonitor and a `kubernetes_sd_configs` job in
/// the config file, a workload in the emulator, and the targets a replica serves, with the
/// relabel filter dropping what the job's rules drop and labels served pre-relabel.
@Suite(.serialized) struct DiscoveryClusterTests {
    static let config = """
        collector_namespace: observability
        collector_selector: {matchlabels: {app: collector}}
        leader_election: {lease_duration: 3s, renew_deadline: 2s, retry_period: 500ms}
        snapshot: {min_write_interval: 100ms}
        prometheus_cr:
          enabled: true
          service_monitor_selector: {}
          pod_monitor_selector: {}
        config:
          global: {scrape_interval: 15s}
          scrape_configs:
          - job_name: annotated-pods
            kubernetes_sd_configs: [{role: pod, namespaces: {names: [shop]}}]
            relabel_configs:
            - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
              action: keep
              regex: "true"
        """

    static func json(_ text: String) throws -> JSONValue { try JSONValue.parse(text) }

    static func pod(_ name: String, ip: String, labels: String, scrape: Bool) throws -> JSONValue {
        try json(
            """
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"\(name)","namespace":"shop","uid":"uid-\(name)","labels":\(labels),
             "annotations":{"prometheus.io/scrape":"\(scrape)"}},
             "spec":{"nodeName":"node-1","containers":[{"name":"app","ports":[{"name":"metrics","containerPort":8080,"protocol":"TCP"}]}]},
             "status":{"phase":"Running","podIP":"\(ip)","hostIP":"192.168.0.1","conditions":[{"type":"Ready","status":"True"}]}}
            """)
    }

    @Test func serviceMonitorsAndKubernetesSDBecomeServedTargets() async throws {
        let cluster = try await ClusterHarness(replicas: 1, collectors: 2, targets: 0, configYAML: Self.config)
        do {
            let emulator = cluster.emulator
            emulator.seed(.named("namespaces"), [try Self.json(#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"}}"#)])
            emulator.seed(
                .pods,
                [
                    try Self.pod("web-0", ip: "10.1.0.1", labels: #"{"app":"web"}"#, scrape: true),
                    try Self.pod("web-1", ip: "10.1.0.2", labels: #"{"app":"web"}"#, scrape: true),
                    try Self.pod("batch-0", ip: "10.1.0.9", labels: #"{"app":"batch"}"#, scrape: false),
                ])
            emulator.seed(
                .services,
                [
                    try Self.json(
                        #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"shop","labels":{"app":"web"}},"spec":{"clusterIP":"10.96.0.10","selector":{"app":"web"},"ports":[{"name":"metrics","port":8080,"targetPort":8080,"protocol":"TCP"}]}}"#
                    )
                ])
            emulator.seed(
                .named("endpointslices", group: "discovery.k8s.io"),
                [
                    try Self.json(
                        #"{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"web-abc","namespace":"shop","labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4","ports":[{"name":"metrics","port":8080,"protocol":"TCP"}],"endpoints":[{"addresses":["10.1.0.1"],"conditions":{"ready":true},"targetRef":{"kind":"Pod","name":"web-0","namespace":"shop","uid":"uid-web-0"}},{"addresses":["10.1.0.2"],"conditions":{"ready":true},"targetRef":{"kind":"Pod","name":"web-1","namespace":"shop","uid":"uid-web-1"}}]}"#
                    )
                ])
            emulator.seed(
                .named("servicemonitors", group: "monitoring.coreos.com"),
                [
                    try Self.json(
                        #"{"apiVersion":"monitoring.coreos.com/v1","kind":"ServiceMonitor","metadata":{"name":"web","namespace":"shop"},"spec":{"selector":{"matchLabels":{"app":"web"}},"endpoints":[{"port":"metrics","interval":"10s"}]}}"#
                    ),
                    // Malformed: an unknown relabel action. It is skipped; the rest keeps working.
                    try Self.json(
                        #"{"apiVersion":"monitoring.coreos.com/v1","kind":"ServiceMonitor","metadata":{"name":"broken","namespace":"shop"},"spec":{"selector":{"matchLabels":{"app":"web"}},"endpoints":[{"port":"metrics","relabelings":[{"action":"explode"}]}]}}"#
                    ),
                ])
            try await cluster.startReplicas()

            let monitorJob = "serviceMonitor/shop/web/0"
            var jobs: JSONValue?
            let found = await eventually(timeout: 60) {
                guard let answer = await cluster.get("ta-0", "/jobs"), answer.status == 200, let parsed = try? JSONValue.parse(answer.body)
                else { return false }
                jobs = parsed
                return parsed[monitorJob] != nil && parsed["annotated-pods"] != nil
            }
            #expect(found, "jobs served: \(jobs?.serialized ?? "none")")
            #expect(jobs?["serviceMonitor/shop/broken/0"] == nil)
            let metrics = try #require(await cluster.get("ta-0", "/metrics"))
            #expect(metrics.body.contains(#"target_allocator_invalid_resources_total{kind="serviceMonitor"} 1"#), "\(metrics.body)")
            // Upstream's series with its names and labels, and ours about leadership and the snapshot.
            func value(_ series: String) -> Double? {
                metrics.body.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
            }
            #expect((value(#"opentelemetry_allocator_events_total{source="EventSourcePrometheusCR"}"#) ?? 0) >= 3)
            #expect((value("opentelemetry_allocator_process_targets_duration_seconds_count") ?? 0) >= 1)
            #expect((value(#"opentelemetry_allocator_process_target_groups_duration_seconds_count{job_name="annotated-pods"}"#) ?? 0) >= 1)
            #expect((value(#"opentelemetry_allocator_http_duration_seconds_count{path="/jobs"}"#) ?? 0) >= 1)
            // Counted before the relabel filter, as upstream does: batch-0 too.
            #expect(value(#"opentelemetry_allocator_targets{job_name="annotated-pods"}"#) == 3, "\(metrics.body)")
            #expect(value("opentelemetry_allocator_targets_remaining") == 4)
            #expect(value("target_allocator_leader") == 1)
            #expect(value("target_allocator_snapshot_loaded") == 1)
            #expect((value("target_allocator_snapshot_epoch") ?? 0) >= 1)
            #expect((value("target_allocator_snapshot_generation") ?? 0) >= 1)
            #expect((value("target_allocator_snapshot_stored_bytes") ?? 0) > 0)
            #expect(value("target_allocator_snapshot_targets") == 4)
            #expect((value("target_allocator_snapshot_age_seconds") ?? -1) >= 0)

            // Both jobs' targets, spread over the two collectors, each exactly once.
            func addresses(_ job: String) async -> [String: String] {
                var result: [String: String] = [:]
                for collector in ["collector-0", "collector-1"] {
                    guard let answer = await cluster.get("ta-0", ClusterHarness.targetsPath(job: job, collector: collector)),
                        case .array(let groups)? = try? JSONValue.parse(answer.body)
                    else { continue }
                    for group in groups {
                        if case .array(let targets)? = group["targets"] {
                            for t in targets { if let a = t.stringValue { result[a] = collector } }
                        }
                    }
                }
                return result
            }
            #expect(Set(await addresses(monitorJob).keys) == ["10.1.0.1:8080", "10.1.0.2:8080"])
            // batch-0 is not annotated for scraping: the relabel filter keeps it out.
            #expect(Set(await addresses("annotated-pods").keys) == ["10.1.0.1:8080", "10.1.0.2:8080"])

            // Labels are served pre-relabel, with Prometheus's meta labels.
            let answer = try #require(await cluster.get("ta-0", "/jobs/annotated-pods/targets"))
            #expect(answer.body.contains("__meta_kubernetes_pod_annotation_prometheus_io_scrape"))
            #expect(answer.body.contains("\"__meta_kubernetes_pod_name\":\"web-0\""))
            // The generated scrape config is served too, with the operator's relabel chain.
            let configs = try #require(await cluster.get("ta-0", "/scrape_configs"))
            #expect(configs.body.contains("\"job_name\":\"serviceMonitor/shop/web/0\""))

            // A new pod appears: it is discovered and allocated without a restart.
            emulator.seed(.pods, [try Self.pod("web-2", ip: "10.1.0.3", labels: #"{"app":"web"}"#, scrape: true)])
            #expect(await eventually(timeout: 60) { await addresses("annotated-pods").keys.contains("10.1.0.3:8080") })
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }

    @Test func aChangedConfigFileReloadsDiscoveryWithoutARestart() async throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let v1 = ClusterHarness.configYAML(targets: 20)
        try dir.write("config.yaml", v1)
        let cluster = try await ClusterHarness(replicas: 1, collectors: 2, targets: 20, configYAML: v1, reloadPath: dir.path("config.yaml"))
        do {
            try await cluster.startReplicas()
            func jobs() async -> Set<String> {
                guard let answer = await cluster.get("ta-0", "/jobs"), case .object(let members)? = try? JSONValue.parse(answer.body) else {
                    return []
                }
                return Set(members.map(\.key))
            }
            #expect(await eventually(timeout: 30) { await jobs() == ["web", "db/main"] })
            // An invalid version is ignored; the running config stays.
            try dir.write("config.yaml", v1 + "  - job_name: web\n")
            try await Task.sleep(for: .seconds(1))
            #expect(await jobs() == ["web", "db/main"])
            // A valid one adds a job.
            try dir.write("config.yaml", v1 + "  - job_name: added\n    static_configs: [{targets: [\"10.5.0.1:80\"]}]\n")
            #expect(await eventually(timeout: 30) { await jobs() == ["web", "db/main", "added"] })
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }

    static func service(_ name: String, port: Int) throws -> JSONValue {
        try json(
            #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"\#(name)","namespace":"shop"},"spec":{"clusterIP":"10.96.1.\#(port % 250)","ports":[{"name":"metrics","port":\#(port),"protocol":"TCP"}]}}"#
        )
    }

    /// A config whose `services` job lists Services (which the tests make fail), with a 1 s
    /// initial discovery wait, and optionally a static job beside it.
    static func slowDiscoveryConfig(staticJob: Bool) -> String {
        """
        collector_namespace: observability
        collector_selector: {matchlabels: {app: collector}}
        leader_election: {lease_duration: 3s, renew_deadline: 2s, retry_period: 500ms}
        snapshot: {min_write_interval: 100ms, initial_discovery_wait: 1s}
        config:
          scrape_configs:
        """ + (staticJob ? "\n  - job_name: static\n    static_configs: [{targets: [\"10.7.0.1:80\", \"10.7.0.2:80\"]}]" : "")
            + "\n  - job_name: services\n    kubernetes_sd_configs: [{role: service, namespaces: {names: [shop]}}]\n"
    }

    /// `target_allocator_incomplete_discovery_publications_total` of a replica.
    static func incompletePublications(_ cluster: ClusterHarness, _ identity: String) async -> Double? {
        guard let metrics = await cluster.get(identity, "/metrics") else { return nil }
        let series = "target_allocator_incomplete_discovery_publications_total "
        return metrics.body.split(separator: "\n").first { $0.hasPrefix(series) }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    /// A takeover while one job cannot be listed yet (a slow or failing API server): past the
    /// initial wait discovery publishes what it has, marked incomplete, and the new leader keeps
    /// serving the committed snapshot (it does not take the unlisted targets for removed ones)
    /// until every provider has reported; then it goes on from the seed, moving nothing.
    @Test func aSeededTermKeepsTheSnapshotUntilDiscoveryIsComplete() async throws {
        let config = Self.slowDiscoveryConfig(staticJob: true)
        let cluster = try await ClusterHarness(replicas: 2, collectors: 2, targets: 0, configYAML: config)
        do {
            let emulator = cluster.emulator
            emulator.seed(.named("namespaces"), [try Self.json(#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"}}"#)])
            emulator.seed(.services, try (1...4).map { try Self.service("svc-\($0)", port: 9000 + $0) })
            try await cluster.startReplicas()
            let expected = Set(["10.7.0.1:80", "10.7.0.2:80"]).union((1...4).map { "svc-\($0).shop.svc:\(9000 + $0)" })
            func assignment(_ identity: String) async -> [String: String] {
                var result: [String: String] = [:]
                for job in ["static", "services"] {
                    for collector in ["collector-0", "collector-1"] {
                        guard let answer = await cluster.get(identity, ClusterHarness.targetsPath(job: job, collector: collector)),
                            answer.status == 200, case .array(let groups)? = try? JSONValue.parse(answer.body)
                        else { return [:] }
                        for group in groups {
                            if case .array(let targets)? = group["targets"] {
                                for t in targets { if let a = t.stringValue { result[a] = collector } }
                            }
                        }
                    }
                }
                return result
            }
            var leader = ""
            #expect(
                await eventually(timeout: 60) {
                    guard let only = cluster.leaders.first, cluster.leaders.count == 1 else { return false }
                    leader = only
                    for identity in cluster.running.keys where Set(await assignment(identity).keys) != expected { return false }
                    return true
                })
            let survivor = try #require(cluster.running.keys.first { $0 != leader })
            let before = await assignment(survivor)
            try #require(Set(before.keys) == expected)

            // The survivor cannot list services; the leader dies holding the Lease.
            emulator.injectFailure(survivor, InjectedFailure(code: 500, verbs: ["list"], resource: "services"))
            await cluster.stop(leader, crash: true)
            #expect(
                await eventually(timeout: 60) { (await Self.incompletePublications(cluster, survivor) ?? 0) >= 1 },
                "the survivor never published an incomplete state")
            let audited = emulator.auditLog(since: 0).total
            // Well past the minimum write interval: a commit of the incomplete state would be served now.
            for _ in 0..<20 {
                let served = await assignment(survivor)
                #expect(served == before, "served while discovery was incomplete: \(served.sorted { $0.key < $1.key })")
                if served != before { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let writes = emulator.auditLog(since: audited).entries.filter { $0.identity == survivor && $0.resource == "configmaps" }
            #expect(writes.isEmpty, "the new leader wrote while discovery was incomplete: \(writes)")

            // Listing works again: discovery completes, a new service is allocated, nothing moved.
            emulator.clearFailure(survivor)
            emulator.seed(.services, [try Self.service("svc-5", port: 9005)])
            var after: [String: String] = [:]
            #expect(
                await eventually(timeout: 60) {
                    after = await assignment(survivor)
                    return after.keys.contains("svc-5.shop.svc:9005")
                }, "\(after)")
            after["svc-5.shop.svc:9005"] = nil
            #expect(after == before)
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }

    /// A first term with nothing stored whose only job cannot be listed: past the initial wait
    /// there is nothing to publish but an empty list, which collectors would take as "scrape
    /// nothing". Nothing is written until the list succeeds.
    @Test func aFirstTermWritesNoEmptyStateBeforeDiscoveryIsComplete() async throws {
        let config = Self.slowDiscoveryConfig(staticJob: false)
        let cluster = try await ClusterHarness(replicas: 1, collectors: 2, targets: 0, configYAML: config)
        do {
            let emulator = cluster.emulator
            emulator.seed(.named("namespaces"), [try Self.json(#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"}}"#)])
            emulator.seed(.services, [try Self.service("svc-1", port: 9001)])
            emulator.injectFailure("ta-0", InjectedFailure(code: 500, verbs: ["list"], resource: "services"))
            try await cluster.startReplicas()
            #expect(await eventually(timeout: 60) { (await Self.incompletePublications(cluster, "ta-0") ?? 0) >= 1 })
            try await Task.sleep(for: .seconds(1))
            let writes = emulator.auditLog(since: 0).entries.filter { $0.resource == "configmaps" }
            #expect(writes.isEmpty, "written before discovery was complete: \(writes)")
            let path = ClusterHarness.targetsPath(job: "services", collector: "collector-0")
            let early = await cluster.get("ta-0", path)
            #expect(early?.status != 200, "served before anything was committed: \(String(describing: early))")

            emulator.clearFailure("ta-0")
            #expect(
                await eventually(timeout: 60) {
                    var found: [String] = []
                    for collector in ["collector-0", "collector-1"] {
                        if let answer = await cluster.get("ta-0", ClusterHarness.targetsPath(job: "services", collector: collector)),
                            answer.status == 200
                        {
                            found.append(answer.body)
                        }
                    }
                    return found.joined().contains("svc-1.shop.svc:9001")
                })
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }
}
