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

/// Keeps what discovery published, applied as a receiver would: per job and provider, each
/// group replaces the one with its source; a complete update replaces all of them.
final class Publications: @unchecked Sendable {
    // @unchecked: every access goes through `lock`.
    private let lock = NSLock()
    private var state: [String: [String: [String: TargetGroup]]] = [:]
    private var updates = 0
    private var history: [GroupUpdate] = []

    func record(_ batch: [GroupUpdate]) {
        lock.lock()
        defer { lock.unlock() }
        history += batch
        for update in batch {
            updates += 1
            var groups = update.complete ? [:] : state[update.job]?[update.provider] ?? [:]
            for group in update.groups { groups[group.source] = group.isEmpty ? nil : group }
            state[update.job, default: [:]][update.provider] = groups
        }
    }

    var count: Int { lock.lock(); defer { lock.unlock() }; return updates }

    /// Every update received, in order.
    var received: [GroupUpdate] { lock.lock(); defer { lock.unlock() }; return history }

    /// Whether `job` got any update at all.
    func updated(_ job: String) -> Bool { lock.lock(); defer { lock.unlock() }; return state[job] != nil }

    /// A job's groups from every provider, ordered by source.
    func groups(_ job: String) -> [TargetGroup] {
        lock.lock()
        defer { lock.unlock() }
        return (state[job] ?? [:]).values.flatMap(\.values).sorted { $0.source < $1.source }
    }

    func group(_ job: String, _ source: String) -> TargetGroup? { groups(job).first { $0.source == source } }
}

/// Runs discovery in the background, every job subscribed; cancel the task (and await it) to stop.
func startDiscovery(
    client: KubernetesClient, configs: [String: [KubernetesSDConfig]], ownNamespace: String = "default"
) -> (KubernetesDiscovery, Publications, Task<Void, Never>) {
    let publications = Publications()
    let discovery = KubernetesDiscovery(
        client: client, ownNamespace: ownNamespace, logger: quietLogger, minPublishInterval: .milliseconds(20),
        publish: { publications.record($0) })
    for (job, list) in configs { discovery.subscribe(job: job, configs: list) }
    let task = Task { await discovery.run() }
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
