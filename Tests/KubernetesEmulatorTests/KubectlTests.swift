import Foundation
import JSON
import KubernetesClient
import KubernetesEmulator
import Testing
import TestSupport

/// The real kubectl against the emulator over HTTPS (kubectl sends bearer tokens only over TLS).
@Suite("kubectl against the emulator")
struct KubectlTests {
    @Test func getCreateApplyDeleteAndLeaseYAML() async throws {
        let certificates = try await offPool { UncheckedBox(try TestCertificates()) }.value
        defer { certificates.remove() }
        let emulator = try await makeEmulator { $0.tls = (certificates.serverCert, certificates.serverKey) }
        let dir = certificates.dir.path
        let kubeconfig = "\(dir)/kubeconfig"
        do {
            try emulator.writeKubeconfig(to: kubeconfig, token: "token-alice", user: "alice", certificateAuthority: certificates.caCert)
            func kubectl(_ args: String...) async throws -> ToolResult {
                try await runTool("kubectl", ["--kubeconfig", kubeconfig] + args, timeout: 60)
            }
            let empty = try await kubectl("get", "pods")
            #expect(empty.status == 0, "\(empty.stderr)")
            #expect(empty.stderr.contains("No resources found in default namespace"))

            let manifest = "\(dir)/objects.yaml"
            try """
                apiVersion: v1
                kind: ConfigMap
                metadata:
                  name: settings
                  labels: {app: demo}
                data:
                  mode: one
                ---
                apiVersion: coordination.k8s.io/v1
                kind: Lease
                metadata:
                  name: leader
                spec:
                  holderIdentity: replica-0
                  leaseDurationSeconds: 15
                  renewTime: "2026-01-02T03:04:05.123456Z"
                ---
                apiVersion: monitoring.coreos.com/v1
                kind: ServiceMonitor
                metadata:
                  name: web
                spec:
                  selector: {matchLabels: {app: web}}
                  endpoints: [{port: metrics}]

                """.write(toFile: manifest, atomically: true, encoding: .utf8)
            let created = try await kubectl("create", "-f", manifest, "--validate=false")
            #expect(created.status == 0, "\(created.stderr)")
            #expect(created.stdout.contains("configmap/settings created"))
            #expect(created.stdout.contains("lease.coordination.k8s.io/leader created"))
            #expect(created.stdout.contains("servicemonitor.monitoring.coreos.com/web created"))
            #expect(emulator.auditLog.filter { $0.identity == "alice" && $0.verb == "create" }.count == 3)

            let listed = try await kubectl("get", "configmaps")
            #expect(listed.status == 0, "\(listed.stderr)")
            #expect(listed.stdout.contains("settings"))

            try String(contentsOfFile: manifest, encoding: .utf8).replacingOccurrences(of: "mode: one", with: "mode: two")
                .replacingOccurrences(of: "port: metrics", with: "port: web")
                .write(toFile: manifest, atomically: true, encoding: .utf8)
            let applied = try await kubectl("apply", "-f", manifest, "--validate=false")
            #expect(applied.status == 0, "\(applied.stderr)")
            #expect(applied.stdout.contains("configmap/settings configured"))
            #expect(applied.stdout.contains("servicemonitor.monitoring.coreos.com/web configured"))
            #expect(emulator.get(.configMaps, name: "settings")?.at("data", "mode")?.stringValue == "two")
            #expect(emulator.get(.serviceMonitors, name: "web")?.at("spec", "endpoints")?.arrayValue?.first?["port"]?.stringValue == "web")
            // A second apply of the same file changes nothing.
            let again = try await kubectl("apply", "-f", manifest, "--validate=false")
            #expect(again.status == 0, "\(again.stderr)")
            #expect(again.stdout.contains("configmap/settings unchanged"))

            let lease = try await kubectl("get", "lease", "leader", "-o", "yaml")
            #expect(lease.status == 0, "\(lease.stderr)")
            #expect(lease.stdout.contains("kind: Lease"))
            #expect(lease.stdout.contains("holderIdentity: replica-0"))
            #expect(lease.stdout.contains("renewTime: \"2026-01-02T03:04:05.123456Z\""))
            #expect(lease.stdout.contains("resourceVersion:"))

            let deleted = try await kubectl("delete", "-f", manifest)
            #expect(deleted.status == 0, "\(deleted.stderr)")
            #expect(deleted.stdout.contains("configmap \"settings\" deleted"))
            #expect(emulator.objects(.configMaps).isEmpty)
            #expect(emulator.objects(.leases).isEmpty)
            #expect(emulator.objects(.serviceMonitors).isEmpty)

            let version = try await kubectl("version", "-o", "json")
            #expect(version.stdout.contains("v1.33.0-emulator"))
        } catch {
            try? await emulator.shutdown()
            throw error
        }
        try await emulator.shutdown()
    }

    @Test func theClientTalksHTTPSWithTheClusterCA() async throws {
        let certificates = try await offPool { UncheckedBox(try TestCertificates()) }.value
        defer { certificates.remove() }
        let emulator = try await makeEmulator { $0.tls = (certificates.serverCert, certificates.serverKey) }
        let ca = try Data(contentsOf: URL(fileURLWithPath: certificates.caCert))
        let client = try KubernetesClient(
            configuration: ClusterConfiguration(server: emulator.url, tls: .init(caPEM: ca), credentials: .token("token-bob"), namespace: "default"))
        do {
            _ = try await client.create(configMap("tls"))
            #expect(emulator.auditLog.last?.identity == "bob")
            let kubeconfig = certificates.dir.appendingPathComponent("client-kubeconfig").path
            try emulator.writeKubeconfig(to: kubeconfig, token: "token-carol", certificateAuthority: certificates.caCert)
            let fromKubeconfig = try KubernetesClient(configuration: ClusterConfiguration.kubeconfig(path: kubeconfig))
            _ = try await fromKubeconfig.get(ConfigMap.self, name: "tls")
            _ = try await fromKubeconfig.create(configMap("carol"))
            #expect(emulator.auditLog.last?.identity == "carol")
            try await fromKubeconfig.shutdown()
        } catch {
            try? await client.shutdown()
            try? await emulator.shutdown()
            throw error
        }
        try await client.shutdown()
        try await emulator.shutdown()
    }

    @Test func commandLineEmulatorServesKubectl() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kube-emulator-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let binary = try #require(Self.emulatorBinary(), "kube-emulator binary not built")
        let kubeconfig = dir.appendingPathComponent("kubeconfig").path
        let log = dir.appendingPathComponent("log").path
        let process = try BackgroundProcess(binary, ["--port", "0", "--kubeconfig-out", kubeconfig, "--pods", "3"], log: log)
        defer { process.terminate() }
        #expect(await eventually { FileManager.default.fileExists(atPath: kubeconfig) })
        let pods = try await runTool("kubectl", ["--kubeconfig", kubeconfig, "get", "pods", "-o", "name"])
        #expect(pods.status == 0, "\(pods.stderr)")
        #expect(pods.stdout.split(separator: "\n").count == 3)
    }

    @Test func commandLineEmulatorSeedsTheScaleClusterServesAdminRoutesAndSlowsOneIdentity() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kube-emulator-scale-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let binary = try #require(Self.emulatorBinary(), "kube-emulator binary not built")
        let kubeconfig = dir.appendingPathComponent("kubeconfig").path
        let process = try BackgroundProcess(
            binary,
            [
                "--port", "0", "--kubeconfig-out", kubeconfig, "--token", "admin=admin-token", "--token", "slow=slow-token", "--admin-api",
                "--scale-pods", "30", "--scale-namespaces", "3", "--scale-collectors", "2", "--latency-ms", "400", "--latency-identity", "slow",
            ], log: dir.appendingPathComponent("log").path)
        defer { process.terminate() }
        #expect(await eventually { FileManager.default.fileExists(atPath: kubeconfig) })
        let server = try #require(
            try String(contentsOfFile: kubeconfig, encoding: .utf8).split(separator: "\n").first { $0.contains("server:") }?.split(separator: " ").last)
        let admin = try KubernetesClient(configuration: ClusterConfiguration(server: String(server), credentials: .token("admin-token")))
        let slow = try KubernetesClient(configuration: ClusterConfiguration(server: String(server), credentials: .token("slow-token")))
        let pods = try await admin.listAll(Pod.self)
        #expect(pods.items.count == 30 + 2)
        #expect(Set(pods.items.compactMap(\.metadata.namespace)) == ["team-0", "team-1", "team-2", "observability"])
        let audit = try JSONValue.parse(Array(try await admin.send(.GET, "/_emulator/audit", query: [("since", "0")])))
        #expect((audit["total"]?.integerValue ?? 0) >= 32, "the seeded pods are accepted writes")
        let start = ContinuousClock.now
        _ = try await slow.list(Pod.self, namespace: "team-0")
        #expect(ContinuousClock.now - start >= .milliseconds(400))
        try await admin.shutdown()
        try await slow.shutdown()
    }

    /// The executable next to the test bundle (same build directory).
    static func emulatorBinary() -> String? {
        var url = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = url.appendingPathComponent("kube-emulator").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            url = url.deletingLastPathComponent()
        }
        return nil
    }
}
