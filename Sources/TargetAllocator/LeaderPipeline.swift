public import Allocation
public import Discovery
import Foundation
public import LeaderElection
public import Logging
public import Metrics
import NIOConcurrencyHelpers
public import Snapshot
public import SnapshotStore

/// A leader-only input: runs while leading and publishes what it finds; discovery publishes
/// differences, the first one complete (never a partial state, so a new leader cannot allocate
/// against a half-listed cluster).
public typealias LeaderInput<Value: Sendable> = @Sendable (_ publish: @escaping @Sendable (Value) -> Void) async -> Void

/// The leader's work for one term: discovery and collectors in, allocation, snapshot out.
///
/// A term starts from the committed snapshot: its first write, at once, is that snapshot under
/// the term's new epoch (it fences every older leader's writer and needs no discovery), and
/// unchanged inputs then give the same assignment as before the failover. Discovery's
/// differences are applied as they come (allocation moves only what changed); writes are
/// coalesced to one per `minWriteInterval`, and nothing is written when the result equals
/// what is committed.
public struct LeaderPipeline: LeaderWork {
    public var identity: String
    public var writer: SnapshotWriter
    public var allocation: AllocatorConfiguration
    public var minWriteInterval: Duration
    public var targets: LeaderInput<DiscoveryDelta>
    public var collectors: LeaderInput<[Collector]>
    /// Called with each committed snapshot (the leader serves what it committed, at once).
    public var committed: @Sendable (Snapshot) -> Void
    public var logger: Logger
    let metrics: Metrics

    public init(
        identity: String, writer: SnapshotWriter, allocation: AllocatorConfiguration, minWriteInterval: Duration,
        targets: @escaping LeaderInput<DiscoveryDelta>, collectors: @escaping LeaderInput<[Collector]>,
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
        let setCollectorsTime: Timer
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
            setCollectorsTime = Timer(
                label: "opentelemetry_allocator_time_to_allocate", dimensions: [("method", "SetCollectors"), ("strategy", strategy)],
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
    private func record(_ state: LeaderState, discovered: [String: Int], seen: inout (jobs: Set<String>, collectors: Set<String>)) {
        let strategy = allocation.strategy.name
        for (job, count) in discovered { metrics.perJob(job).record(count) }
        seen.jobs.formUnion(discovered.keys)
        let perCollector = state.loads
        for collector in seen.collectors where perCollector[collector] == nil { metrics.perCollector(collector, strategy: strategy).record(0) }
        for (collector, count) in perCollector { metrics.perCollector(collector, strategy: strategy).record(count) }
        metrics.allocatable(strategy: strategy).record(state.collectors.count)
        metrics.discovered.record(state.collectors.count)
        metrics.remaining.record(state.count)
        seen.collectors = Set(perCollector.keys)
    }

    /// Leads until cancelled (the elector cancels when a renew misses its deadline) or fenced.
    public func lead(term: LeaderTerm) async {
        metrics.terms.increment()
        let clock = ContinuousClock()
        guard let seed = await loadSeed() else { return }
        let epoch = max((seed?.epoch ?? 0) + 1, UInt64(max(0, term.leaseTransitions)) + 1)
        logger.info(
            "leading", metadata: ["epoch": "\(epoch)", "seed_generation": "\(seed?.generation ?? 0)", "seed_targets": "\(seed?.targets.count ?? 0)"])

        let inbox = NIOLockedValueBox<(delta: DiscoveryDelta?, collectors: [Collector]?)>((nil, nil))
        let (wake, waker) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        await withDiscardingTaskGroup { group in
            group.addTask {
                await targets { delta in
                    inbox.withLockedValue { pending in
                        if pending.delta == nil { pending.delta = delta } else { pending.delta!.merge(delta) }
                    }
                    waker.yield()
                }
            }
            group.addTask {
                await collectors { value in
                    inbox.withLockedValue { $0.collectors = value }
                    waker.yield()
                }
            }
            var state = LeaderState(configuration: allocation, seed: seed)
            var last: Snapshot?
            var lastWrite: ContinuousClock.Instant?
            var seen: (jobs: Set<String>, collectors: Set<String>) = ([], [])
            // The committed snapshot under the new epoch: fences the previous leader now,
            // without waiting for discovery (which cannot change what is committed until it ends).
            if let seed { waker.yield() ; last = seed }
            for await _ in wake {
                if let lastWrite {
                    // Coalesce: let more changes arrive until the interval has passed.
                    do { try await clock.sleep(until: lastWrite + minWriteInterval) } catch { break }
                }
                let (delta, collectors) = inbox.withLockedValue { pending in
                    defer { pending.delta = nil }
                    return pending
                }
                var next: Snapshot
                if let collectors, state.ready || delta?.full == true {
                    let allocationStart = clock.now
                    let outcome = state.apply(delta, collectors: collectors)
                    if outcome.collectorsChanged { metrics.setCollectorsTime.record(duration: clock.now - allocationStart) }
                    metrics.allocateTime.record(duration: clock.now - allocationStart)
                    metrics.moves.increment(by: outcome.moves)
                    metrics.fallback.increment(by: state.fallbackCount)
                    metrics.unassigned.record(state.unassignable)
                    record(state, discovered: delta?.discovered ?? [:], seen: &seen)
                    next = state.snapshot(epoch: epoch, leader: identity)
                    if let last, last.epoch == epoch, last.sameContent(as: next) { continue }
                } else if let delta {
                    // Collectors not known yet: keep the difference for when they are.
                    inbox.withLockedValue { pending in
                        var kept = delta
                        if let later = pending.delta { kept.merge(later) }
                        pending.delta = kept
                    }
                    continue
                } else if let seed, last?.epoch != epoch {
                    next = seed
                } else {
                    continue
                }
                next.createdAtMillis = Int64(Date().timeIntervalSince1970 * 1000)
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
                        "collectors": "\(next.collectors.count)",
                    ])
                if let bytes = await writer.storedBytes { metrics.storedBytes.record(bytes) }
                committed(next)
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

/// The leader's targets and their assignment, kept across the writes of one term and fed
/// with differences only: a discovery delta or a collector change moves what it must, nothing
/// else.
struct LeaderState {
    struct Outcome {
        var moves = 0
        var collectorsChanged = false
    }

    struct Entry {
        var target: DiscoveredTarget
        var node: String?
    }

    private let configuration: AllocatorConfiguration
    /// The committed assignment at the start of the term, by (job, served labels): what the
    /// first allocation keeps (`least-weighted`; consistent hashing needs no memory).
    private var seed: [SeedKey: String]
    private var allocator: Allocator?
    private var entries: [TargetID: Entry] = [:]
    private(set) var jobs: [Job] = []
    private(set) var collectors: [Collector] = []
    /// Discovery has delivered its complete first state.
    private(set) var ready = false

    struct SeedKey: Hashable {
        var job: String
        var labels: [UInt8]

        init(job: String, labels: Labels) {
            self.job = job
            var bytes: [UInt8] = []
            for label in labels {
                bytes.append(contentsOf: label.name.utf8)
                bytes.append(0xFF)
                bytes.append(contentsOf: label.value.utf8)
                bytes.append(0xFF)
            }
            self.labels = bytes
        }
    }

    init(configuration: AllocatorConfiguration, seed: Snapshot?) {
        self.configuration = configuration
        var previous: [SeedKey: String] = [:]
        for target in seed?.targets ?? [] {
            if let collector = target.collector { previous[SeedKey(job: target.job, labels: target.labels)] = collector }
        }
        self.seed = previous
    }

    var count: Int { entries.count }
    var unassignable: Int { allocator?.unassignable ?? 0 }
    var fallbackCount: Int { allocator?.fallbackCount ?? 0 }
    var loads: [String: Int] {
        var loads = Dictionary(collectors.map { ($0.name, 0) }, uniquingKeysWith: +)
        for (name, count) in allocator?.loads ?? [:] { loads[name] = count }
        return loads
    }

    mutating func apply(_ delta: DiscoveryDelta?, collectors next: [Collector]) -> Outcome {
        var outcome = Outcome()
        var added: [AllocationTarget] = []
        var removed: [TargetID] = []
        if let delta {
            if delta.full {
                ready = true
                for id in entries.keys where delta.upserted[id] == nil { removed.append(id) }
            }
            for id in delta.removed where entries[id] != nil { removed.append(id) }
            for id in removed { entries[id] = nil }
            for (id, target) in delta.upserted {
                let node = TargetNode.name(of: target.labels)
                if let old = entries[id], old.target.key == target.key, old.node == node {
                    entries[id]!.target = target  // served labels only: stays where it is
                    continue
                }
                entries[id] = Entry(target: target, node: node)
                added.append(AllocationTarget(id: id, key: target.key, node: node, weight: 1))
            }
            if let jobs = delta.jobs { self.jobs = jobs }
        }
        let infos = next.map { CollectorInfo(name: $0.name, node: $0.node) }
        var moves: [Move] = []
        if var allocator {
            self.allocator = nil
            if next != collectors {
                moves += allocator.setCollectors(infos)
                outcome.collectorsChanged = true
            }
            if !added.isEmpty || !removed.isEmpty { moves += allocator.update(added: added, removed: removed) }
            self.allocator = allocator
        } else {
            var previous: [TargetID: String] = [:]
            if !seed.isEmpty {
                for (id, entry) in entries {
                    if let collector = seed[SeedKey(job: entry.target.job, labels: entry.target.labels)] { previous[id] = collector }
                }
            }
            let targets = entries.map { AllocationTarget(id: $0.key, key: $0.value.target.key, node: $0.value.node, weight: 1) }
            allocator = Allocator(configuration: configuration, collectors: infos, targets: targets, previous: previous)
            seed = [:]
            outcome.collectorsChanged = true
        }
        collectors = next
        outcome.moves = moves.filter(\.isReassignment).count
        return outcome
    }

    /// The whole state as a snapshot, targets ordered by job then identity.
    func snapshot(epoch: UInt64, leader: String) -> Snapshot {
        var ordered = entries.map { ($0.key, $0.value.target) }
        ordered.sort { $0.1.job != $1.1.job ? $0.1.job.utf8.lexicographicallyPrecedes($1.1.job.utf8) : $0.0 < $1.0 }
        let allocator = self.allocator
        let targets = ordered.map { id, target in Target(job: target.job, labels: target.labels, collector: allocator?.collector(for: id)) }
        return Snapshot(epoch: epoch, generation: 0, createdAtMillis: 0, leader: leader, collectors: collectors, jobs: jobs, targets: targets)
    }
}
