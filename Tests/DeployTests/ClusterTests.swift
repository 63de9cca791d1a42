import Foundation
import JSON
import KubernetesEmulator
import Logging
import Testing
import TestSupport

/// The emulator over HTTPS (kubectl sends bearer tokens only over TLS) with an admin token
/// for kubectl and one token per replica, torn down however the test ends.
struct EmulatedCluster {
    static let adminToken = "token-admin"
    static func replicaToken(_ i: Int) -> String { "token-replica-\(i)" }
    static func replicaIdentity(_ i: Int) -> String { "replica-\(i)" }

    let emulator: KubernetesEmulator
    let certificates: TestCertificates
    var dir: URL { certificates.dir }
    var adminKubeconfig: String { dir.appendingPathComponent("admin-kubeconfig").path }

    static func with(_ body: (EmulatedCluster) async throws -> Void) async throws {
        let certificates = try await offPool { UncheckedBox(try TestCertificates()) }.value
        defer { certificates.remove() }
        var configuration = KubernetesEmulator.Configuration()
        configuration.tls = (certificates.serverCert, certificates.serverKey)
        configuration.tokens = [adminToken: "admin"]
        for i in 0..<3 { configuration.tokens[replicaToken(i)] = replicaIdentity(i) }
        configuration.logger = Logger(label: "deploy-test-emulator", factory: { _ in SwiftLogNoOpLogHandler() })
        let emulator = try await KubernetesEmulator.start(configuration)
        let cluster = EmulatedCluster(emulator: emulator, certificates: certificates)
        do {
            try emulator.writeKubeconfig(to: cluster.adminKubeconfig, token: adminToken, user: "admin", certificateAuthority: certificates.caCert)
            try await body(cluster)
        } catch {
            try? await emulator.shutdown()
            throw error
        }
        try await emulator.shutdown()
    }

    func kubectl(_ args: String...) async throws -> ToolResult {
        try await runTool("kubectl", ["--kubeconfig", adminKubeconfig] + args, timeout: 120)
    }

    /// The stored object a rendered manifest became, or nil.
    func stored(_ object: JSONValue) -> JSONValue? {
        guard let definition = ResourceDefinition.all.first(where: { $0.kind == object.kind && $0.apiVersion == object.apiVersion }) else {
            return nil
        }
        return emulator.get(definition, namespace: object.namespace, name: object.name)
    }

    /// Stored objects of a resource with their kind (list items of built-in kinds carry none).
    func objects(_ definition: ResourceDefinition) -> [JSONValue] {
        emulator.objects(definition).map { .object([JSONMember("kind", .string(definition.kind))] + ($0.fields ?? []).filter { $0.key != "kind" }) }
    }
}

@Suite("deploy/ on the emulator")
struct ClusterTests {
    /// The real kubectl installs the base, then the mTLS overlay over it, then the collector example.
    @Test func kubectlInstallsTheBaseTheOverlayAndTheExample() async throws {
        let base = try await kustomize("base")
        let overlay = try RenderedInstall(try await kustomize("overlays/mtls"))
        try await EmulatedCluster.with { cluster in
            let applied = try await cluster.kubectl("apply", "-k", deployPath("base"), "--validate=false")
            #expect(applied.status == 0, "\(applied.stderr)")
            for object in base {
                let stored = cluster.stored(object)
                #expect(stored != nil, "\(object.kind)/\(object.name) exists after kubectl apply")
                let group = object.apiVersion.split(separator: "/").dropLast().first.map { ".\($0)" } ?? ""
                let line = "\(object.kind.lowercased())\(group)/\(object.name) created"
                #expect(applied.stdout.contains(line), "kubectl reports \(line)")
            }
            let install = try RenderedInstall(base)
            let deployment = try #require(cluster.stored(install.deployment))
            #expect(deployment.at("spec", "replicas")?.int == 3)
            let configMap = try #require(cluster.stored(try base.only("ConfigMap")))
            #expect(configMap.at("data")?.fields?.first?.value.stringValue == install.configText)
            #expect(cluster.emulator.auditLog.allSatisfy { $0.identity == "admin" || $0.identity == "system:apiserver" })

            // A second apply changes nothing. (kubectl still says "configured" for the PDB: its
            // selector has patchStrategy replace, so kubectl always sends it; the real API
            // server, like the emulator, turns that no-op patch into no write.)
            let writes = cluster.emulator.auditLog.count
            let again = try await cluster.kubectl("apply", "-k", deployPath("base"), "--validate=false")
            #expect(again.status == 0, "\(again.stderr)")
            #expect(!again.stdout.contains(" created"))
            #expect(cluster.emulator.auditLog.count == writes, "a second apply writes nothing: \(again.stdout)")

            let mtls = try await cluster.kubectl("apply", "-k", deployPath("overlays/mtls"), "--validate=false")
            #expect(mtls.status == 0, "\(mtls.stderr)")
            #expect(mtls.stdout.contains("deployment.apps/target-allocator configured"))
            let patched = try #require(cluster.stored(overlay.deployment))
            let container = patched.at("spec", "template", "spec", "containers")?.arrayValue?.first
            #expect(container?["args"]?.strings == overlay.args)
            #expect((patched.at("spec", "template", "spec", "volumes")?.arrayValue ?? []).count == (overlay.podSpec["volumes"]?.arrayValue ?? []).count)

            let example = try await cluster.kubectl("apply", "-f", deployPath("examples/otel-collector.yaml"), "--validate=false")
            #expect(example.status == 0, "\(example.stderr)")
            #expect(cluster.emulator.get(.statefulSets, namespace: install.namespace, name: "otel-collector") != nil)
        }
    }

    /// Three real replicas run as the Deployment runs them (its args and environment, its config
    /// file from the ConfigMap), each with its own token, against the emulator holding the
    /// install; the leader is stopped so a follower takes over. Every request they made, as the
    /// emulator recorded it, must be allowed by the RBAC objects kubectl installed; replicas that
    /// never led must have needed nothing but Leases and ConfigMaps in their own namespace.
    @Test func theReplicasNeedNoMoreThanTheirRBAC() async throws {
        let binary = try #require(builtExecutable("target-allocator"), "the target-allocator executable is built next to the tests")
        let install = try RenderedInstall(try await kustomize("base"))
        let namespace = install.namespace
        let leaseName = install.config.at("leader_election", "lease_name")?.stringValue ?? "target-allocator"
        let snapshotName = install.config.at("snapshot", "configmap_name")?.stringValue ?? "target-allocator-snapshot"
        let collectorNamespace = install.config["collector_namespace"]?.stringValue ?? namespace
        let collectorLabels = install.config["collector_selector"]?["matchlabels"]?.stringDictionary
            ?? install.config["collector_selector"]?["matchLabels"]?.stringDictionary ?? [:]

        try await EmulatedCluster.with { cluster in
            let emulator = cluster.emulator
            let applied = try await cluster.kubectl("apply", "-k", deployPath("base"), "--validate=false")
            try #require(applied.status == 0, "\(applied.stderr)")
            try seedWorkload(emulator, collectorNamespace: collectorNamespace, collectorLabels: collectorLabels)

            // The ConfigMap volume, as the kubelet would mount it.
            let configPath = cluster.dir.path + install.configFile
            try FileManager.default.createDirectory(
                atPath: (configPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try install.configText.write(toFile: configPath, atomically: true, encoding: .utf8)

            var ports: [Int] = []
            var processes: [BackgroundProcess?] = []
            var logs: [String] = []
            defer { for p in processes { p?.terminate() } }
            for i in 0..<3 {
                let identity = EmulatedCluster.replicaIdentity(i)
                let kubeconfig = cluster.dir.appendingPathComponent("kubeconfig-\(i)").path
                try emulator.writeKubeconfig(
                    to: kubeconfig, token: EmulatedCluster.replicaToken(i), user: identity, namespace: namespace,
                    certificateAuthority: cluster.certificates.caCert)
                let port = try freePort()
                ports.append(port)
                var args: [String] = []
                for a in install.args {
                    if a.hasPrefix("--config-file") {
                        args.append("--config-file=\(configPath)")
                    } else if a.hasPrefix("--listen-addr=") || a == "--listen-addr" {
                        args.append("--listen-addr=127.0.0.1:\(port)")
                    } else {
                        args.append(a)
                    }
                }
                args += ["--kubeconfig-path", kubeconfig, "--event-loop-threads", "1"]
                let log = cluster.dir.appendingPathComponent("replica-\(i).log").path
                logs.append(log)
                processes.append(try BackgroundProcess("env", environment(install, podName: identity) + [binary] + args, log: log))
            }
            func logTails() -> String {
                logs.map { ($0 as NSString).lastPathComponent + ":\n" + ((try? String(contentsOfFile: $0, encoding: .utf8)) ?? "").suffix(2000) }
                    .joined(separator: "\n")
            }
            func ready(_ i: Int) async -> Bool { await httpGet("http://127.0.0.1:\(ports[i])/readyz").status == 200 }
            func holder() -> String? { emulator.get(.leases, namespace: namespace, name: leaseName)?.at("spec", "holderIdentity")?.stringValue }

            let allReady = await eventually(timeout: 60) {
                for i in 0..<3 where !(await ready(i)) { return false }
                return true
            }
            try #require(allReady, "all three replicas become ready\n\(logTails())")
            let first = try #require(holder(), "a replica holds the lease")
            let firstIndex = try #require((0..<3).first { EmulatedCluster.replicaIdentity($0) == first })
            #expect(emulator.get(.configMaps, namespace: namespace, name: snapshotName) != nil, "the snapshot manifest is committed")

            // Stop the leader as the kubelet would (SIGTERM): it releases, a follower takes over
            // and commits under its own epoch.
            let leader = processes[firstIndex]
            processes[firstIndex] = nil
            await leader?.stop()
            let tookOver = await eventually(timeout: 40) {
                guard let h = holder(), !h.isEmpty, h != first else { return false }
                return emulator.auditLog.contains { $0.identity == h && $0.resource == "configmaps" }
            }
            try #require(tookOver, "a follower takes over and commits a snapshot\n\(logTails())")
            let survivors = (0..<3).filter { $0 != firstIndex }
            #expect(await eventually(timeout: 30) {
                for i in survivors where !(await ready(i)) { return false }
                return true
            })
            // Stop the followers before the leader: stopping the leader first would hand the
            // lease to a follower on its way out.
            let current = holder()
            for i in 0..<3 where EmulatedCluster.replicaIdentity(i) != current {
                await processes[i]?.stop()
                processes[i] = nil
            }
            for p in processes { await p?.stop() }
            processes = []

            let replicas = Set((0..<3).map(EmulatedCluster.replicaIdentity))
            let requests = emulator.requestLog.filter { replicas.contains($0.identity) }
            let rbac = RBACPolicy(
                objects: [.roles, .roleBindings, .clusterRoles, .clusterRoleBindings].flatMap { cluster.objects($0) })
            let account = RBACPolicy.ServiceAccount(namespace: namespace, name: install.serviceAccount)
            for request in requests {
                #expect(rbac.allows(account, request), "RBAC of \(account) does not allow: \(request)")
            }

            // The run went through the paths that matter (so the check above is not vacuous).
            func made(_ verb: String, _ resource: String, in ns: String?) -> Bool {
                requests.contains { $0.verb == verb && $0.resource == resource && $0.namespace == ns }
            }
            #expect(made("get", "leases", in: namespace))
            #expect(made("create", "leases", in: namespace))
            #expect(made("update", "leases", in: namespace))
            #expect(made("create", "configmaps", in: namespace))
            #expect(made("list", "configmaps", in: namespace))
            #expect(made("watch", "configmaps", in: namespace))
            #expect(made("list", "pods", in: collectorNamespace))
            #expect(made("watch", "pods", in: collectorNamespace))

            // Least privilege: a replica that never led read snapshot ConfigMaps and campaigned for
            // the Lease (a takeover attempt that loses the race is a rejected update) and nothing else.
            let writers = Set(emulator.auditLog.map(\.identity))
            let followers = replicas.subtracting(writers)
            #expect(!followers.isEmpty, "one replica never led")
            for request in requests where followers.contains(request.identity) {
                let reads = ["get", "list", "watch"].contains(request.verb) && request.resource == "configmaps"
                let campaign = ["get", "create", "update"].contains(request.verb) && request.resource == "leases"
                #expect((reads || campaign) && request.namespace == namespace, "a follower needed more than its Lease and ConfigMaps: \(request)")
            }

            // The derived list, for whoever reads the test log.
            var seen = Set<String>()
            let summary = requests.map { r in
                (r.group.isEmpty ? "core" : r.group) + " " + r.resource + (r.subresource.map { "/\($0)" } ?? "") + " " + r.verb + " "
                    + (r.namespace.map { $0 == namespace ? "own-namespace" : "namespace \($0)" } ?? "cluster-wide")
            }.filter { seen.insert($0).inserted }.sorted()
            print("API calls the replicas made (\(requests.count) distinct records):\n  " + summary.joined(separator: "\n  "))
        }
    }

    /// The Deployment's environment for one pod: downward-API fields resolved, plain values kept.
    private func environment(_ install: RenderedInstall, podName: String) -> [String] {
        (install.container["env"]?.arrayValue ?? []).compactMap { entry in
            guard let name = entry["name"]?.stringValue else { return nil }
            if let value = entry["value"]?.stringValue { return "\(name)=\(value)" }
            switch entry.at("valueFrom", "fieldRef", "fieldPath")?.stringValue {
            case "metadata.name": return "\(name)=\(podName)"
            case "metadata.namespace": return "\(name)=\(install.namespace)"
            default: return nil
            }
        }
    }

    /// Collector pods for the allocator, and a small application with everything discovery reads
    /// (a node, pods, a Service, an EndpointSlice, a ServiceMonitor and a PodMonitor), so the
    /// same run exercises discovery once the binary wires it.
    private func seedWorkload(_ emulator: KubernetesEmulator, collectorNamespace: String, collectorLabels: [String: String]) throws {
        func parse(_ text: String) throws -> JSONValue { try JSONValue.parse(text) }
        let labelsJSON = JSONValue.object(collectorLabels.sorted { $0.key < $1.key }.map { JSONMember($0.key, .string($0.value)) }).serialized
        let app = "shop"
        _ = try emulator.create(.namespaces, try parse(#"{"metadata":{"name":"\#(app)"}}"#))
        emulator.seed(.nodes, [try parse(#"{"metadata":{"name":"node-a","labels":{"kubernetes.io/hostname":"node-a"}},"status":{"addresses":[{"type":"InternalIP","address":"192.168.0.10"}]}}"#)])
        let ready = #""status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}],"podIP":"#
        emulator.seed(
            .pods,
            try (0..<3).map { i in
                try parse(#"{"metadata":{"name":"otel-collector-\#(i)","namespace":"\#(collectorNamespace)","labels":\#(labelsJSON)},"spec":{"nodeName":"node-a","containers":[{"name":"otel-collector","image":"otel"}]},\#(ready)"10.1.0.\#(i + 1)"}}"#)
            })
        emulator.seed(
            .pods,
            try (0..<4).map { i in
                try parse(#"{"metadata":{"name":"web-\#(i)","namespace":"\#(app)","labels":{"app":"web"},"annotations":{"prometheus.io/scrape":"true","prometheus.io/port":"8080"}},"spec":{"nodeName":"node-a","containers":[{"name":"web","image":"web","ports":[{"name":"metrics","containerPort":8080,"protocol":"TCP"}]}]},\#(ready)"10.2.0.\#(i + 1)"}}"#)
            })
        emulator.seed(.services, [try parse(#"{"metadata":{"name":"web","namespace":"\#(app)","labels":{"app":"web"}},"spec":{"selector":{"app":"web"},"ports":[{"name":"metrics","port":8080,"targetPort":"metrics"}]}}"#)])
        let endpoints = (0..<4).map { i in #"{"addresses":["10.2.0.\#(i + 1)"],"conditions":{"ready":true},"targetRef":{"kind":"Pod","namespace":"\#(app)","name":"web-\#(i)"}}"# }
        emulator.seed(.endpointSlices, [try parse(#"{"metadata":{"name":"web-x1","namespace":"\#(app)","labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4","endpoints":[\#(endpoints.joined(separator: ","))],"ports":[{"name":"metrics","port":8080,"protocol":"TCP"}]}"#)])
        emulator.seed(.serviceMonitors, [try parse(#"{"apiVersion":"monitoring.coreos.com/v1","kind":"ServiceMonitor","metadata":{"name":"web","namespace":"\#(app)"},"spec":{"selector":{"matchLabels":{"app":"web"}},"endpoints":[{"port":"metrics"}]}}"#)])
        emulator.seed(.podMonitors, [try parse(#"{"apiVersion":"monitoring.coreos.com/v1","kind":"PodMonitor","metadata":{"name":"web","namespace":"\#(app)"},"spec":{"selector":{"matchLabels":{"app":"web"}},"podMetricsEndpoints":[{"port":"metrics"}]}}"#)])
    }
}
