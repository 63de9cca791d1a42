import Discovery
public import HTTPServer
public import KubernetesClient
public import LeaderElection
public import Logging
public import Metrics
import Snapshot
public import NIOCore
import NIOConcurrencyHelpers
public import Prometheus
public import ServiceDiscoveryAPI
public import ServiceLifecycle
public import SnapshotStore

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
    /// Follow (and, when elected, write) the snapshot in the cluster's ConfigMaps.
    public var cluster: ClusterRole?

    public init(identity: String) {
        self.identity = identity
    }
}

/// A commit of the leader's, as it installs it: what was written and the generation a delta follows.
public struct Committed: Sendable {
    public var written: SnapshotWriter.Committed
    public var basis: (epoch: UInt64, generation: UInt64)?
}

/// What the leader does during one term; cancelled when the term ends.
public protocol LeaderWork: Sendable {
    func lead(term: LeaderTerm) async
}

/// A replica's part in the cluster: every replica campaigns for the Lease and follows the
/// committed snapshot; the one that leads also runs the pipeline that writes it.
public struct ClusterRole: Sendable {
    public var client: KubernetesClient
    public var election: LeaderElectionConfiguration
    public var store: SnapshotStoreConfiguration
    /// Builds the leader's pipeline from the writer, the replica's metrics and the callback
    /// that serves a commit.
    public typealias PipelineFactory = @Sendable (
        SnapshotWriter, any MetricsFactory, _ committed: @escaping @Sendable (Committed) -> Void
    ) -> any LeaderWork
    public var pipeline: PipelineFactory
    /// The strategy the leader runs, which the HTML views explain.
    public var allocation: AllocationDescription?

    public init(
        client: KubernetesClient, election: LeaderElectionConfiguration, store: SnapshotStoreConfiguration,
        pipeline: @escaping PipelineFactory
    ) {
        self.client = client
        self.election = election
        self.store = store
        self.pipeline = pipeline
    }
}

/// One target-allocator replica: the HTTP(S) data plane plus whatever keeps its snapshot
/// current. Runs under ServiceLifecycle; a graceful shutdown stops accepting and closes
/// open connections.
public final class Replica: ServiceLifecycle.Service {
    public let settings: ReplicaSettings
    public let registry: PrometheusCollectorRegistry
    public let responder: ServiceDiscoveryResponder
    /// The Lease campaign, when the replica runs in a cluster.
    public let elector: LeaderElector?
    private let group: any EventLoopGroup
    private let logger: Logger
    public typealias Addresses = (plain: SocketAddress?, tls: SocketAddress?)
    /// The outcome of binding, and who waits for it.
    private let start = NIOLockedValueBox<(result: Result<Addresses, any Error>?, waiters: [CheckedContinuation<Addresses, any Error>])>(
        (nil, []))

    /// Throws when the cluster role's election timings are invalid.
    public init(settings: ReplicaSettings, group: any EventLoopGroup, logger: Logger) throws {
        self.settings = settings
        self.group = group
        self.logger = logger
        registry = PrometheusCollectorRegistry()
        let elector = try settings.cluster.map {
            try LeaderElector(cluster: $0.client.configuration, configuration: $0.election, logger: logger)
        }
        self.elector = elector
        responder = ServiceDiscoveryResponder(
            options: .init(
                identity: settings.identity, allowInsecureAuthSecrets: settings.allowInsecureAuthSecrets,
                allocation: settings.cluster?.allocation),
            registry: registry,
            leadership: { elector?.leadership ?? (nil, false) })
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
        let factory = {
            var factory = PrometheusMetricsFactory(registry: registry)
            factory.durationHistogramBuckets[TargetDiscovery.processTargetsMetric] = TargetDiscovery.processingBuckets
            factory.durationHistogramBuckets[TargetDiscovery.processTargetGroupsMetric] = TargetDiscovery.processingBuckets
            return factory
        }()
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
            await elector?.shutdown()
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
                if let cluster = self.settings.cluster, let elector = self.elector {
                    self.runClusterRole(cluster, elector: elector, metrics: factory, in: &group)
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
        await elector?.shutdown()
        await server.shutdown()
    }

    private func runClusterRole(
        _ cluster: ClusterRole, elector: LeaderElector, metrics: any MetricsFactory, in group: inout DiscardingTaskGroup
    ) {
        let responder = self.responder
        let logger = self.logger
        let installingOwnCommit = NIOLockedValueBox<(epoch: UInt64, generation: UInt64)?>(nil)
        let installed = Counter(label: "target_allocator_snapshots_installed_total", dimensions: [("source", "configmap")], factory: metrics)
        let rejected = Counter(label: "target_allocator_snapshots_rejected_total", dimensions: [("source", "configmap")], factory: metrics)
        let storedBytes = Gauge(label: Self.storedBytesMetric, factory: metrics)
        let heap = HeapTrim()
        let reader = SnapshotReader(
            client: cluster.client, configuration: cluster.store, logger: logger,
            // A whole state the leader is installing from its own commit counts as served: the
            // reader would otherwise decode the same 100k targets again beside it.
            current: {
                let served = responder.installed
                guard let installing = installingOwnCommit.withLockedValue({ $0 }) else { return served }
                guard let served else { return installing }
                return (served.epoch, served.generation) < (installing.epoch, installing.generation) ? installing : served
            },
            install: { installation, bytes in
                let done: Bool
                switch installation {
                case .full(let snapshot):
                    done = responder.installIfNewer(snapshot)
                    if done { heap.afterWholeState() }
                case .delta(let delta, let after):
                    done = responder.apply(delta, after: after) { error in
                        logger.warning(
                            "a stored delta does not apply to the served state; loading the whole snapshot",
                            metadata: ["generation": "\(delta.epoch)/\(delta.generation)", "reason": "\(error)"])
                    }
                }
                guard done else { return false }
                installed.increment()
                storedBytes.record(bytes)
                return true
            },
            onOutcome: { outcome in
                switch outcome {
                case .installed: heap.afterChange()
                case .rejected: rejected.increment()
                case .stale: break
                }
            })
        let writer = SnapshotWriter(
            client: cluster.client, configuration: cluster.store, logger: logger, mayWrite: { elector.holdsFreshLease })
        let pipeline = cluster.pipeline(writer, metrics) { commit in
            // The reader would also see it; installing here makes the leader serve its commit at once.
            switch commit.written {
            case .full(let snapshot):
                installingOwnCommit.withLockedValue { $0 = (snapshot.epoch, snapshot.generation) }
                if responder.installIfNewer(snapshot) { heap.afterWholeState() }
                installingOwnCommit.withLockedValue { $0 = nil }
            case .delta(let delta):
                let applied = commit.basis.map { basis in
                    responder.apply(delta, after: basis) { error in
                        logger.warning(
                            "the leader's own delta does not apply to the state it serves; the reader loads the whole snapshot",
                            metadata: ["generation": "\(delta.epoch)/\(delta.generation)", "reason": "\(error)"])
                    }
                }
                if applied == true {
                    heap.afterChange()
                    break
                }
                // Not on the generation the delta follows: the reader loads the whole state.
            }
        }
        group.addTask { await reader.run() }
        group.addTask { await elector.run { term in await pipeline.lead(term: term) } }
        // The `/` page's leadership timeline: a lock read per sample, no API request.
        group.addTask { await responder.followLeadership(every: cluster.election.retryPeriod / 2) }
    }

    /// Compressed size of the served snapshot in its ConfigMaps (the etcd budget it uses).
    static let storedBytesMetric = "target_allocator_snapshot_stored_bytes"

    private func resolveStart(_ result: Result<Addresses, any Error>) {
        let waiters = start.withLockedValue { state in
            defer { state = (result, []) }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(with: result) }
    }
}
