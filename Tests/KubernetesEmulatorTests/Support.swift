import Foundation
import JSON
import KubernetesClient
import KubernetesEmulator
import Logging
import NIOCore
import Testing

/// Tokens every test emulator knows: token → identity.
let testTokens = ["token-alice": "alice", "token-bob": "bob", "token-carol": "carol"]

func makeEmulator(_ adjust: (inout KubernetesEmulator.Configuration) -> Void = { _ in }) async throws -> KubernetesEmulator {
    var configuration = KubernetesEmulator.Configuration()
    configuration.tokens = testTokens
    configuration.logger = Logger(label: "emulator-test", factory: { _ in SwiftLogNoOpLogHandler() })
    adjust(&configuration)
    return try await KubernetesEmulator.start(configuration)
}

func makeClient(_ emulator: KubernetesEmulator, token: String? = "token-alice", timeout: Duration = .seconds(10)) throws -> KubernetesClient {
    var configuration = ClusterConfiguration(server: emulator.url, credentials: token.map { .token($0) } ?? .none, namespace: "default")
    configuration.requestTimeout = timeout
    return try KubernetesClient(configuration: configuration)
}

/// Runs `body` with an emulator and an alice client, shutting both down however it ends.
func withEmulator(
    _ adjust: (inout KubernetesEmulator.Configuration) -> Void = { _ in },
    _ body: (KubernetesEmulator, KubernetesClient) async throws -> Void
) async throws {
    let emulator = try await makeEmulator(adjust)
    let client: KubernetesClient
    do {
        client = try makeClient(emulator)
    } catch {
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

/// The KubernetesError a call throws (fails the test if it succeeds or throws something else).
func kubernetesError(_ sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void) async -> KubernetesError? {
    do {
        try await body()
        Issue.record("expected a Kubernetes error", sourceLocation: sourceLocation)
        return nil
    } catch let error as KubernetesError {
        return error
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

func configMap(_ name: String, namespace: String = "default", labels: [String: String]? = nil, data: [String: String]? = nil) -> ConfigMap {
    ConfigMap(metadata: ObjectMeta(name: name, namespace: namespace, labels: labels), data: data)
}

let quietLogger = Logger(label: "informer-test", factory: { _ in SwiftLogNoOpLogHandler() })

/// Collects informer events for assertions.
final class EventLog<T: KubernetesObject>: @unchecked Sendable {
    // @unchecked: guarded by lock.
    private let lock = NSLock()
    private var events: [InformerEvent<T>] = []

    func append(_ e: InformerEvent<T>) {
        lock.lock()
        events.append(e)
        lock.unlock()
    }

    var all: [InformerEvent<T>] {
        lock.lock()
        defer { lock.unlock() }
        return events
    }
}

/// Starts an informer (and a task recording its events); cancel the returned task to stop.
func startInformer<T: KubernetesObject>(
    _ type: T.Type, client: KubernetesClient, options: Informer<T>.Options = .init(namespace: "default")
) -> (Informer<T>, EventLog<T>, Task<Void, Never>) {
    let informer = Informer<T>(client: client, options: options, logger: quietLogger)
    let log = EventLog<T>()
    let events = informer.events()
    let task = Task {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await informer.run() }
            group.addTask { for await e in events { log.append(e) } }
        }
    }
    return (informer, log, task)
}

/// Reads watch events until `count` arrived (or the stream ended / the deadline passed).
func collect<T: KubernetesObject>(
    _ stream: AsyncThrowingStream<WatchEvent<T>, any Error>, count: Int, timeout: Duration = .seconds(20)
) async throws -> [WatchEvent<T>] {
    try await withThrowingTaskGroup(of: [WatchEvent<T>]?.self) { group in
        group.addTask {
            var out: [WatchEvent<T>] = []
            for try await e in stream {
                out.append(e)
                if out.count == count { break }
            }
            return out
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let first = try await group.next()!
        group.cancelAll()
        guard let events = first else {
            Issue.record("timed out waiting for \(count) watch events")
            return []
        }
        return events
    }
}

func describe<T: KubernetesObject>(_ e: WatchEvent<T>) -> String {
    switch e {
    case .added(let o): "ADDED \(o.name)"
    case .modified(let o): "MODIFIED \(o.name)"
    case .deleted(let o): "DELETED \(o.name)"
    case .bookmark: "BOOKMARK"
    }
}

/// Carries a non-Sendable value out of `offPool` (it is not shared afterwards).
final class UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
