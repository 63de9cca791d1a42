import Foundation
import KubernetesClient
import KubernetesEmulator
import Logging
import NIOConcurrencyHelpers
import TestSupport
import Testing

/// The built `target-allocator` binary as a person starts it: against the API emulator,
/// through a kubeconfig file, with a config file and command-line flags. Ports are ephemeral
/// on 127.0.0.1; every process started is stopped by `shutdown()` (and by its watchdog if the
/// test process dies).
final class ReplicaProcessHarness: Sendable {
    let dir: ScratchDirectory
    let emulator: KubernetesEmulator
    let admin: KubernetesClient
    let namespace: String
    private let processes = NIOLockedValueBox<[BackgroundProcess]>([])

    init(namespace: String = "observability") async throws {
        self.namespace = namespace
        dir = try ScratchDirectory()
        var configuration = KubernetesEmulator.Configuration()
        configuration.tokens = ["admin-token": "admin", "token-0": "ta-0"]
        configuration.logger = Logger(label: "emulator", factory: { _ in SwiftLogNoOpLogHandler() })
        emulator = try await KubernetesEmulator.start(configuration)
        admin = try KubernetesClient(configuration: ClusterConfiguration(server: emulator.url, credentials: .token("admin-token")))
        if namespace != "default" { _ = try await admin.create(Namespace(metadata: ObjectMeta(name: namespace))) }
        try dir.write(
            "kubeconfig",
            """
            apiVersion: v1
            kind: Config
            clusters: [{name: emu, cluster: {server: "\(emulator.url)"}}]
            users: [{name: ta-0, user: {token: token-0}}]
            contexts: [{name: emu, context: {cluster: emu, user: ta-0, namespace: \(namespace)}}]
            current-context: emu
            """)
    }

    /// A collector pod, Running and Ready, with the given labels.
    func addCollector(_ name: String, labels: [String: String]) async throws {
        var pod = Pod(
            metadata: ObjectMeta(name: name, namespace: namespace, labels: labels), spec: .init(nodeName: "node-1", containers: [.init(name: "otelcol")]))
        pod = try await admin.create(pod)
        pod.status = .init(phase: "Running", podIP: "10.9.0.1", conditions: [.init(type: "Ready", status: "True")])
        _ = try await admin.updateStatus(pod)
    }

    /// Starts the binary with `arguments` (plus `--kubeconfig-path`, `--identity` and
    /// `POD_NAMESPACE`); its output goes to `log`.
    func start(_ arguments: [String], identity: String = "ta-0", environment: [String: String] = [:], log: String = "replica.log") throws {
        let process = try BackgroundProcess(
            CommandLineTests.binary, arguments + ["--kubeconfig-path", dir.path("kubeconfig"), "--identity", identity], log: dir.path(log),
            environment: ["POD_NAMESPACE": namespace].merging(environment) { _, new in new })
        processes.withLockedValue { $0.append(process) }
    }

    func log(_ name: String = "replica.log") -> String { (try? String(contentsOfFile: dir.path(name), encoding: .utf8)) ?? "" }

    /// GET with curl; nil if it did not answer.
    static func get(_ url: String, _ extra: [String] = []) async -> (status: Int, body: String)? {
        guard let result = try? await runTool("curl", ["-sS", "--max-time", "5", "-w", "\n%{http_code}"] + extra + [url]), result.status == 0
        else { return nil }
        var lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        guard let code = lines.popLast().flatMap({ Int($0) }) else { return nil }
        return (code, lines.joined(separator: "\n"))
    }

    /// Waits until `url` answers 200 (a replica serves once it holds a snapshot).
    static func ready(_ url: String, _ extra: [String] = [], timeout: Double = 60) async -> Bool {
        await eventually(timeout: timeout) { await get(url, extra)?.status == 200 }
    }

    func shutdown() async {
        for process in processes.withLockedValue({ $0 }) { await process.stop() }
        try? await admin.shutdown()
        try? await emulator.shutdown()
        dir.remove()
    }
}
