import Discovery
import Foundation
import JSON
import KubernetesClient
import KubernetesEmulator
import Logging
import Testing

let quietLogger = Logger(label: "discovery-test", factory: { _ in SwiftLogNoOpLogHandler() })

/// Runs `body` with a fresh emulator (ephemeral port) and a client, shutting both down after.
func withEmulator(
    namespaces: [String] = ["default", "kube-system", "kube-public", "kube-node-lease"],
    _ body: (KubernetesEmulator, KubernetesClient) async throws -> Void
) async throws {
    var configuration = KubernetesEmulator.Configuration()
    configuration.tokens = ["token-discovery": "discovery"]
    configuration.namespaces = namespaces
    configuration.logger = quietLogger
    let emulator = try await KubernetesEmulator.start(configuration)
    var clientConfiguration = ClusterConfiguration(server: emulator.url, credentials: .token("token-discovery"), namespace: "default")
    clientConfiguration.requestTimeout = .seconds(20)
    let client: KubernetesClient
    do { client = try KubernetesClient(configuration: clientConfiguration) } catch {
        try await emulator.shutdown()
        throw error
    }
    do {
        try await body(emulator, client)
    } catch {
        try? await client.shutdown()
        try? await emulator.shutdown()
        throw error
    }
    try await client.shutdown()
    try await emulator.shutdown()
}

/// Keeps what discovery published.
final class Publications: @unchecked Sendable {
    // @unchecked: every access goes through `lock`.
    private let lock = NSLock()
    private var states: [[String: [TargetGroup]]] = []

    func record(_ state: [String: [TargetGroup]]) {
        lock.lock()
        states.append(state)
        lock.unlock()
    }

    var count: Int { lock.lock(); defer { lock.unlock() }; return states.count }
    var latest: [String: [TargetGroup]]? { lock.lock(); defer { lock.unlock() }; return states.last }

    func groups(_ job: String) -> [TargetGroup] { latest?[job] ?? [] }

    func group(_ job: String, _ source: String) -> TargetGroup? { groups(job).first { $0.source == source } }
}

/// Runs discovery in the background; cancel the task (and await it) to stop.
func startDiscovery(
    client: KubernetesClient, configs: [String: [KubernetesSDConfig]], ownNamespace: String = "default",
    syncTimeout: Duration = .seconds(30)
) -> (KubernetesDiscovery, Publications, Task<Void, Never>) {
    let discovery = KubernetesDiscovery(
        client: client, ownNamespace: ownNamespace, logger: quietLogger, minPublishInterval: .milliseconds(20), syncTimeout: syncTimeout)
    let publications = Publications()
    let task = Task { await discovery.run(configs: configs, publish: { publications.record($0) }) }
    return (discovery, publications, task)
}

extension ResourceDefinition {
    static func forKind(_ kind: String) -> ResourceDefinition? {
        switch kind {
        case "Pod": .pods
        case "Service": .services
        case "Endpoints": .endpoints
        case "EndpointSlice": .endpointSlices
        case "Node": .nodes
        case "Namespace": .namespaces
        default: nil
        }
    }
}

func json(_ text: String) -> JSONValue {
    try! JSONValue.parse(text)
}
