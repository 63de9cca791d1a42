public import HTTPServer
public import Logging
import Metrics
public import NIOCore
import NIOConcurrencyHelpers
public import Prometheus
public import ServiceDiscoveryAPI
public import ServiceLifecycle

/// How one replica serves: listeners, TLS material and where its snapshot comes from.
public struct ReplicaSettings: Sendable {
    public var identity: String
    public var listenAddress: ListenAddress?
    public var httpsAddress: ListenAddress?
    public var tls: TLSFiles?
    public var allowInsecureAuthSecrets = false
    /// Serve this JSON snapshot file (and follow its changes) instead of the cluster's ConfigMaps.
    public var snapshotFile: String?
    public var snapshotPollInterval: Duration = .seconds(1)
    public var tlsPollInterval: Duration = .seconds(5)
    public var limits = HTTPServerLimits()

    public init(identity: String) {
        self.identity = identity
    }
}

/// One target-allocator replica: the HTTP(S) data plane plus whatever keeps its snapshot
/// current. Runs under ServiceLifecycle; a graceful shutdown stops accepting and closes
/// open connections.
public final class Replica: Service {
    public let settings: ReplicaSettings
    public let registry: PrometheusCollectorRegistry
    public let responder: ServiceDiscoveryResponder
    private let group: any EventLoopGroup
    private let logger: Logger
    public typealias Addresses = (plain: SocketAddress?, tls: SocketAddress?)
    /// The outcome of binding, and who waits for it.
    private let start = NIOLockedValueBox<(result: Result<Addresses, any Error>?, waiters: [CheckedContinuation<Addresses, any Error>])>(
        (nil, []))

    public init(settings: ReplicaSettings, group: any EventLoopGroup, logger: Logger) {
        self.settings = settings
        self.group = group
        self.logger = logger
        registry = PrometheusCollectorRegistry()
        responder = ServiceDiscoveryResponder(
            options: .init(identity: settings.identity, allowInsecureAuthSecrets: settings.allowInsecureAuthSecrets),
            registry: registry)
    }

    /// The bound addresses, once listening (useful with port 0); throws if binding failed.
    public func addresses() async throws -> Addresses {
        try await withCheckedThrowingContinuation { continuation in
            let done = start.withLockedValue { state -> Result<Addresses, any Error>? in
                if state.result == nil { state.waiters.append(continuation) }
                return state.result
            }
            if let done { continuation.resume(with: done) }
        }
    }

    public func run() async throws {
        let factory = PrometheusMetricsFactory(registry: registry)
        let tlsProvider: TLSContextProvider?
        let server: HTTPServer
        do {
            tlsProvider = try settings.tls.map { try TLSContextProvider(files: $0) }
            server = try await HTTPServer.start(
                group: group, plain: settings.listenAddress,
                tls: tlsProvider.flatMap { provider in settings.httpsAddress.map { ($0, provider) } },
                responder: responder, limits: settings.limits, metrics: HTTPServerMetrics(factory: factory), logger: logger)
        } catch {
            resolveStart(.failure(error))
            throw error
        }
        resolveStart(.success((server.plainAddress, server.tlsAddress)))

        let source = settings.snapshotFile.map {
            SnapshotFileSource(path: $0, responder: responder, metrics: factory, logger: logger)
        }
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                if let source {
                    group.addTask { await source.run(every: self.settings.snapshotPollInterval) }
                }
                if let tlsProvider {
                    group.addTask { await tlsProvider.watch(every: self.settings.tlsPollInterval, logger: self.logger) }
                }
                group.addTask {
                    // Keep the replica up until shutdown even with nothing to poll.
                    while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
                }
            }
        }
        logger.info("shutting down replica", metadata: ["identity": "\(settings.identity)"])
        await server.shutdown()
    }

    private func resolveStart(_ result: Result<Addresses, any Error>) {
        let waiters = start.withLockedValue { state in
            defer { state = (result, []) }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(with: result) }
    }
}
