public import Allocation
import Foundation
public import LeaderElection
public import Logging
public import Metrics
import NIOConcurrencyHelpers
public import Snapshot
public import SnapshotStore

/// What discovery found: the jobs and their (unassigned) targets.
public struct DiscoveredTargets: Sendable, Hashable {
    public var jobs: [Job]
    public var targets: [Target]
    /// Targets per job before relabel filtering (upstream's `opentelemetry_allocator_targets`);
    /// nil counts the targets given.
    public var discovered: [String: Int]?

    public init(jobs: [Job], targets: [Target], discovered: [String: Int]? = nil) {
        self.jobs = jobs
        self.targets = targets
        self.discovered = discovered
    }
}

/// A leader-only input: runs while leading and publishes complete states (never partial ones,
/// so a new leader cannot allocate against a half-listed cluster).
public typealias LeaderInput<Value: Sendable> = @Sendable (_ publish: @escaping @Sendable (Value) -> Void) async -> Void

/// The leader's work for one term: discovery and collectors in, allocation, snapshot out.
///
/// A term starts from the committed snapshot, so unchanged inputs give the same assignment
/// as before the failover; its first write carries a new epoch, which fences every older
/// leader's writer. Writes are coalesced to one per `minWriteInterval`, and nothing is
/// written when the result equals what is committed.
public struct LeaderPipeline: LeaderWork {
    public var identity: String
    public var writer: SnapshotWriter
    public var allocation: AllocatorConfiguration
    public var minWriteInterval: Duration
    public var targets: LeaderInput<DiscoveredTargets>
    public var collectors: LeaderInput<[Collector]>
    /// Called with each committed snapshot (the leader serves what it committed, at once).
    public var committed: @Sendable (Snapshot) -> Void
    public var logger: Logger
    let metrics: Metrics

    public init(
        identity: String, writer: SnapshotWriter, allocation: AllocatorConfiguration, minWriteInterval: Duration,
        targets: @escaping LeaderInput<DiscoveredTargets>, collectors: @escaping LeaderInput<[Collector]>,
        committed: @escaping @Sendable (Snapshot) -> Void, metrics: any MetricsFactory, logger: Logger
    ) {
        self.identity = identity
        self.writer = writer
        self.allocation = allocation
        self.minWriteInterval = minWriteInterval
        self.targets = targets
        self.collectors = collectors
        self.committed = committed
        self.metrics = Metrics(factory: metrics, strategy: allocation.strategy.name)
        self.logger = logger
    }

    /// Upstream's `opentelemetry_allocator_*` series (same names and labels) plus ours.
    struct Metrics: Sendable {
        let factory: any MetricsFactory
        let writes: Counter
        let writeFailures: Counter
        let moves: Counter
        let fallback: Counter
        let terms: Counter
        let unassigned: Gauge
        let remaining: Gauge
        let discovered: Gauge
        let allocateTime: Timer
        let storedBytes: Gauge

        init(factory: any MetricsFactory, strategy: String) {
            self.factory = factory
            writes = Counter(label: "target_allocator_snapshot_writes_total", factory: factory)
            writeFailures = Counter(label: "target_allocator_snapshot_write_failures_total", factory: factory)
            moves = Counter(label: "target_allocator_allocation_moves_total", factory: factory)
            fallback = Counter(label: "target_allocator_per_node_fallback_targets_total", factory: factory)
            terms = Counter(label: "target_allocator_leader_terms_total", factory: factory)
            unassigned = Gauge(label: "opentelemetry_allocator_targets_unassigned", factory: factory)
            remaining = Gauge(label: "opentelemetry_allocator_targets_remaining", factory: factory)
            discovered = Gauge(label: "opentelemetry_allocator_collectors_discovered", factory: factory)
            storedBytes = Gauge(label: Replica.storedBytesMetric, factory: factory)
            allocateTime = Timer(
                label: "opentelemetry_allocator_time_to_allocate", dimensions: [("method", "SetTargets"), ("strategy", strategy)],
                factory: factory)
        }

        func perJob(_ job: String) -> Gauge {
            Gauge(label: "opentelemetry_allocator_targets", dimensions: [("job_name", job)], factory: factory)
        }

        func perCollector(_ collector: String, strategy: String) -> Gauge {
            Gauge(
                label: "opentelemetry_allocator_targets_per_collector", dimensions: [("collector_name", collector), ("strategy", strategy)],
                factory: factory)
        }

        func allocatable(strategy: String) -> Gauge {
            Gauge(label: "opentelemetry_allocator_collectors_allocatable", dimensions: [("strategy", strategy)], factory: factory)
        }
    }

    /// Records the per-job and per-collector gauges; series that disappeared are set to 0.
    private func record(_ targets: DiscoveredTargets, _ snapshot: Snapshot, seen: inout (jobs: Set<String>, collectors: Set<String>)) {
        let strategy = allocation.strategy.name
        let perJob = targets.discovered ?? Dictionary(targets.targets.map { ($0.job, 1) }, uniquingKeysWith: +)
        var perCollector: [String: Int] = [:]
        for collector in snapshot.collectors { perCollector[collector.name] = 0 }
        for target in snapshot.targets { if let c = target.collector { perCollector[c, default: 0] += 1 } }
        for job in seen.jobs where perJob[job] == nil { metrics.perJob(job).record(0) }
        for (job, count) in perJob { metrics.perJob(job).record(count) }
        for collector in seen.collectors where perCollector[collector] == nil { metrics.perCollector(collector, strategy: strategy).record(0) }
        for (collector, count) in perCollector { metrics.perCollector(collector, strategy: strategy).record(count) }
        metrics.allocatable(strategy: strategy).record(snapshot.collectors.count)
        metrics.discovered.record(snapshot.collectors.count)
        metrics.remaining.record(snapshot.targets.count)
        seen = (Set(perJob.keys), Set(perCollector.keys))
    }

    /// Leads until cancelled (the elector cancels when a renew misses its deadline) or fenced.
    public func lead(term: LeaderTerm) async {
        metrics.terms.increment()
        let clock = ContinuousClock()
        guard let seed = await loadSeed() else { return }
        let epoch = max((seed?.epoch ?? 0) + 1, UInt64(max(0, term.leaseTransitions)) + 1)
        logger.info(
            "leading", metadata: ["epoch": "\(epoch)", "seed_generation": "\(seed?.generation ?? 0)", "seed_targets": "\(seed?.targets.count ?? 0)"])

        let latest = NIOLockedValueBox<(targets: DiscoveredTargets?, collectors: [Collector]?)>((nil, nil))
        let (wake, waker) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        await withDiscardingTaskGroup { group in
            group.addTask {
                await targets { value in
                    latest.withLockedValue { $0.targets = value }
                    waker.yield()
                }
            }
            group.addTask {
                await collectors { value in
                    latest.withLockedValue { $0.collectors = value }
                    waker.yield()
                }
            }
            var state = AllocationState(configuration: allocation, seed: seed)
            var last = seed
            var lastWrite: ContinuousClock.Instant?
            var seen: (jobs: Set<String>, collectors: Set<String>) = ([], [])
            for await _ in wake {
                if let lastWrite {
                    // Coalesce: let more changes arrive until the interval has passed.
                    do { try await clock.sleep(until: lastWrite + minWriteInterval) } catch { break }
                }
                guard case let (targets?, collectors?) = latest.withLockedValue({ $0 }) else { continue }
                let allocationStart = clock.now
                let outcome = state.apply(targets: targets, collectors: collectors)
                metrics.allocateTime.record(duration: clock.now - allocationStart)
                metrics.moves.increment(by: outcome.moves)
                metrics.fallback.increment(by: outcome.fallback)
                metrics.unassigned.record(outcome.unassigned)
                var next = Snapshot(
                    epoch: epoch, generation: 0, createdAtMillis: Int64(Date().timeIntervalSince1970 * 1000), leader: identity,
                    collectors: collectors, jobs: targets.jobs, targets: outcome.targets)
                record(targets, next, seen: &seen)
                if let last, last.epoch == epoch, last.sameContent(as: next) { continue }
                do {
                    next = try await writer.commit(next, epoch: epoch, leader: identity)
                } catch let error as SnapshotStoreError {
                    metrics.writeFailures.increment()
                    logger.error("stopping leader work: \(error)")
                    break
                } catch {
                    metrics.writeFailures.increment()
                    if Task.isCancelled { break }
                    logger.warning("snapshot write failed; will retry", metadata: ["error": "\(error)"])
                    lastWrite = clock.now
                    waker.yield()
                    continue
                }
                metrics.writes.increment()
                lastWrite = clock.now
                last = next
                logger.info(
                    "committed snapshot",
                    metadata: [
                        "epoch": "\(next.epoch)", "generation": "\(next.generation)", "targets": "\(next.targets.count)",
                        "collectors": "\(collectors.count)", "moves": "\(outcome.moves)",
                    ])
                committed(next)
                if let bytes = await writer.storedBytes { metrics.storedBytes.record(bytes) }
                await writer.collectGarbage()
            }
            group.cancelAll()
        }
    }

    /// The committed snapshot, retried until it can be read; `.some(nil)` when none exists,
    /// nil when cancelled first.
    private func loadSeed() async -> Snapshot?? {
        var delay = Duration.milliseconds(200)
        while !Task.isCancelled {
            do {
                return .some(try await writer.loadCommitted())
            } catch let error as SnapshotStoreError {
                // A corrupt store cannot seed; starting fresh beats never leading.
                logger.error("committed snapshot unreadable; allocating from scratch", metadata: ["error": "\(error)"])
                return .some(nil)
            } catch {
                logger.warning("cannot read the committed snapshot yet", metadata: ["error": "\(error)"])
                do { try await Task.sleep(for: delay) } catch { return nil }
                delay = min(delay * 2, .seconds(5))
            }
        }
        return nil
    }
}

extension Snapshot {
    /// Same jobs, collectors, targets and assignment (epoch, generation, time and leader aside).
    func sameContent(as other: Snapshot) -> Bool {
        jobs == other.jobs && collectors == other.collectors && targets == other.targets
    }
}

/// The allocator kept across the writes of one term, fed with differences only.
struct AllocationState {
    struct Outcome {
        var targets: [Target]
        var moves: Int
        var fallback: Int
        var unassigned: Int
    }

    private let configuration: AllocatorConfiguration
    private var previous: [TargetID: String]
    private var allocator: Allocator?
    private var known: [TargetID: AllocationTarget] = [:]
    private var collectorInfos: [CollectorInfo] = []

    init(configuration: AllocatorConfiguration, seed: Snapshot?) {
        self.configuration = configuration
        var previous: [TargetID: String] = [:]
        for target in seed?.targets ?? [] {
            if let collector = target.collector { previous[Self.id(of: target)] = collector }
        }
        self.previous = previous
    }

    static func id(of target: Target) -> TargetID {
        TargetID.of(job: target.job, labels: target.labels.lazy.map { (name: $0.name, value: $0.value) })
    }

    /// Labels that name the node a target runs on, in Prometheus's Kubernetes SD.
    static let nodeLabels = ["__meta_kubernetes_pod_node_name", "__meta_kubernetes_node_name", "__meta_kubernetes_endpoint_node_name"]

    mutating func apply(targets discovered: DiscoveredTargets, collectors: [Collector]) -> Outcome {
        var current: [TargetID: AllocationTarget] = [:]
        var ordered: [(TargetID, Target)] = []
        current.reserveCapacity(discovered.targets.count)
        ordered.reserveCapacity(discovered.targets.count)
        for target in discovered.targets {
            let id = Self.id(of: target)
            guard current[id] == nil else { continue }  // the same target twice is one target
            let node = Self.nodeLabels.lazy.compactMap { target.labels[$0] }.first
            current[id] = AllocationTarget(id: id, node: node, weight: 1)
            ordered.append((id, target))
        }
        let infos = collectors.map { CollectorInfo(name: $0.name, node: $0.node) }

        var moves: [Move] = []
        if var allocator {
            if infos != collectorInfos { moves += allocator.setCollectors(infos) }
            let removed = known.keys.filter { current[$0] == nil || current[$0] != known[$0] }
            let added = current.values.filter { known[$0.id] == nil || known[$0.id] != $0 }
            if !removed.isEmpty || !added.isEmpty { moves += allocator.update(added: added, removed: removed) }
            self.allocator = allocator
        } else {
            allocator = Allocator(
                configuration: configuration, collectors: infos, targets: Array(current.values), previous: previous)
            previous = [:]
        }
        known = current
        collectorInfos = infos
        let allocator = self.allocator!
        ordered.sort { ($0.1.job, $0.0) < ($1.1.job, $1.0) }
        let targets = ordered.map { id, target in
            Target(job: target.job, labels: target.labels, collector: allocator.collector(for: id))
        }
        return Outcome(
            targets: targets, moves: moves.filter { $0.from != nil && $0.to != nil }.count, fallback: allocator.fallbackCount,
            unassigned: allocator.unassignable)
    }
}
