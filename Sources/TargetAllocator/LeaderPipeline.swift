import ByteStrings
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
    /// Called with each commit (the leader serves what it committed, at once).
    public var committed: @Sendable (Committed) -> Void
    public var logger: Logger
    let metrics: Metrics

    public init(
        identity: String, writer: SnapshotWriter, allocation: AllocatorConfiguration, minWriteInterval: Duration,
        targets: @escaping LeaderInput<DiscoveryDelta>, collectors: @escaping LeaderInput<[Collector]>,
        committed: @escaping @Sendable (Committed) -> Void, metrics: any MetricsFactory, logger: Logger
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
        guard let start = await readStoredVersion() else { return }
        let epoch = max((start?.epoch ?? 0) + 1, UInt64(max(0, term.leaseTransitions)) + 1)
        // The first write fences the previous leader: the committed state again under the new
        // epoch, written from the manifest alone, before decoding that state (at 100k targets
        // the decode takes seconds, and nothing it holds can change this write).
        var fenced = false
        if let start {
            do {
                if let fence = try await writer.fence(after: start, epoch: epoch, leader: identity) {
                    fenced = true
                    metrics.writes.increment()
                    logger.info(
                        "committed snapshot",
                        metadata: ["epoch": "\(fence.epoch)", "generation": "\(fence.generation)", "change": "none (the new term's fence)"])
                    await serve(Committed(written: .delta(fence), basis: start))
                }
            } catch let error as SnapshotStoreError {
                logger.error("stopping leader work: \(error)")
                return
            } catch {
                if Task.isCancelled { return }
                logger.warning("fence write failed; the term's first commit fences instead", metadata: ["error": "\(error)"])
            }
        }
        guard let seed = await loadSeed() else { return }
        if let seed, seed.epoch > epoch {
            logger.error("stopping leader work: the store holds epoch \(seed.epoch), newer than ours (\(epoch))")
            return
        }
        logger.info(
            "leading", metadata: ["epoch": "\(epoch)", "seed_generation": "\(seed?.generation ?? 0)", "seed_targets": "\(seed?.targets.count ?? 0)"])

        let inbox = NIOLockedValueBox<(delta: DiscoveryDelta?, collectors: [Collector]?)>((nil, nil))
        let (wake, waker) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        // This replica serves its commits in order beside the loop: rendering a commit costs
        // what it changes (hundreds of ms for a few hundred targets on a shared core), and the
        // next write (every follower's next generation) must not wait for it.
        let (commits, server) = AsyncStream<Committed>.makeStream(bufferingPolicy: .unbounded)
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await commit in commits { await serve(commit) }
            }
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
            var lastWrite: ContinuousClock.Instant?
            var seen: (jobs: Set<String>, collectors: Set<String>) = ([], [])
            var waitLogged = false
            // The new epoch is not stored yet. With a seed it is stored at once (the committed
            // state under the new epoch: it fences the previous leader without waiting for
            // discovery, which cannot change what is committed until it ends).
            if seed != nil && !fenced { waker.yield() }
            for await _ in wake {
                if let lastWrite {
                    // Coalesce: let more changes arrive until the interval has passed.
                    do { try await clock.sleep(until: lastWrite + minWriteInterval) } catch { break }
                }
                let (delta, collectors) = inbox.withLockedValue { pending in
                    defer { pending.delta = nil }
                    return pending
                }
                // Where a commit's time goes, for its log line.
                let began = clock.now
                // With a seed, the first allocation waits for complete discovery: the committed
                // state is served meanwhile, and a target not listed yet is not a removed one.
                let startable = delta.map { $0.full && ($0.complete || seed == nil) } ?? false
                if let collectors, state.ready || startable {
                    let allocationStart = clock.now
                    let outcome = state.apply(delta, collectors: collectors)
                    if outcome.collectorsChanged { metrics.setCollectorsTime.record(duration: clock.now - allocationStart) }
                    metrics.allocateTime.record(duration: clock.now - allocationStart)
                    metrics.moves.increment(by: outcome.moves)
                    metrics.fallback.increment(by: state.fallbackCount)
                    metrics.unassigned.record(state.unassignable)
                    record(state, discovered: delta?.discovered ?? [:], seen: &seen)
                } else if let delta {
                    // Collectors not known yet: keep the difference for when they are.
                    inbox.withLockedValue { pending in
                        var kept = delta
                        if let later = pending.delta { kept.merge(later) }
                        pending.delta = kept
                    }
                    if delta.full, !delta.complete, seed != nil, !waitLogged {
                        waitLogged = true
                        logger.info("keeping the committed snapshot until discovery completes", metadata: ["seed_targets": "\(seed?.targets.count ?? 0)"])
                    }
                    if fenced || seed == nil { continue }
                }
                // Without a seed, an incomplete discovery with nothing found yet is not worth a
                // write: served, it would tell every collector to drop what it scrapes.
                if seed == nil, !state.complete, state.count == 0 { continue }
                let change = state.ready ? state.pendingDelta() : SnapshotDelta(epoch: epoch, generation: 0, createdAtMillis: 0, leader: identity)
                if change.isEmpty, fenced || !state.ready && seed == nil { continue }
                var stamped = change
                stamped.createdAtMillis = Int64(Date().timeIntervalSince1970 * 1000)
                let basis = state.basis
                let written: SnapshotWriter.Committed
                let writing = clock.now
                do {
                    let current = state
                    written = try await writer.commit(stamped, after: basis, epoch: epoch, leader: identity) { after in
                        after ? current.snapshot(epoch: epoch, leader: identity) : current.committedSnapshot()
                    }
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
                let wrote = clock.now
                state.committed(written)
                fenced = true
                metrics.writes.increment()
                // Writes start at most once per interval: counted from the end of a write, the
                // write's own time would be added to every change's wait.
                lastWrite = writing
                if let bytes = await writer.storedBytes { metrics.storedBytes.record(bytes) }
                server.yield(Committed(written: written, basis: basis))
                let collecting = clock.now
                await writer.collectGarbage()
                func ms(_ d: Duration) -> String { "\(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)" }
                logger.info(
                    "committed snapshot",
                    metadata: [
                        "epoch": "\(written.epoch)", "generation": "\(written.generation)", "targets": "\(state.count)",
                        "collectors": "\(state.collectors.count)", "change": "\(Self.describe(written))",
                        "allocate_ms": "\(ms(writing - began))", "write_ms": "\(ms(wrote - writing))", "collect_ms": "\(ms(clock.now - collecting))",
                    ])
            }
            server.finish()
            group.cancelAll()
        }
    }

    /// Serves a commit on this replica at once (the reader would also see it). Rendering what
    /// the leader serves is CPU work of the size of the change: off the cooperative pool.
    private func serve(_ commit: Committed) async {
        let serve = committed
        _ = try? await CPUWork.run { serve(commit) }
    }

    static func describe(_ written: SnapshotWriter.Committed) -> String {
        switch written {
        case .full(let s): "whole state, \(s.targets.count) targets"
        case .delta(let d): "+\(d.upserted.count) -\(d.removed.count) targets" + (d.collectors == nil ? "" : ", collectors") + (d.jobs == nil ? "" : ", jobs")
        }
    }

    /// The stored (epoch, generation), retried until the manifest can be read; `.some(nil)`
    /// when nothing is stored (or the manifest is unreadable), nil when cancelled first.
    private func readStoredVersion() async -> (epoch: UInt64, generation: UInt64)?? {
        var delay = Duration.milliseconds(200)
        while !Task.isCancelled {
            do {
                return .some(try await writer.storedVersion())
            } catch {
                logger.warning("cannot read the snapshot manifest yet", metadata: ["error": "\(error)"])
                do { try await Task.sleep(for: delay) } catch { return nil }
                delay = min(delay * 2, .seconds(5))
            }
        }
        return nil
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

/// The leader's targets and their assignment, kept across the writes of one term and fed
/// with differences only: a discovery delta or a collector change moves what it must, nothing
/// else. It also knows what is committed, so each write stores only what changed since.
struct LeaderState: Sendable {
    struct Outcome {
        var moves = 0
        var collectorsChanged = false
    }

    struct Entry {
        var target: DiscoveredTarget
        var node: String?
    }

    private let configuration: AllocatorConfiguration
    private var allocator: Allocator?
    private var entries: [TargetID: Entry] = [:]
    private(set) var jobs: [Job] = []
    private(set) var collectors: [Collector] = []
    /// Discovery has delivered its first state (`full`).
    private(set) var ready = false
    /// Every discovery provider had reported in what was applied.
    private(set) var complete = false

    // What is committed: every target's collector by content, the content each identity had,
    // and the identities changed since.
    private var committedTargets: [TargetContent: String?] = [:]
    private var committedContent: [TargetID: TargetContent] = [:]
    private var committedJobs: [Job] = []
    private var committedCollectors: [Collector] = []
    private var dirty: Set<TargetID> = []
    /// The committed state came from the seed (not from this term's identities): the first
    /// write compares everything by content.
    private var compareAll = false
    /// The generation a delta from here applies to.
    private(set) var basis: (epoch: UInt64, generation: UInt64)?

    init(configuration: AllocatorConfiguration, seed: Snapshot?) {
        self.configuration = configuration
        if let seed {
            for target in seed.targets { committedTargets[TargetContent(target)] = target.collector }
            committedJobs = seed.jobs
            committedCollectors = seed.collectors
            compareAll = true
            basis = (seed.epoch, seed.generation)
        }
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
            complete = delta.complete
            if delta.full {
                ready = true
                for id in entries.keys where delta.upserted[id] == nil { removed.append(id) }
            }
            for id in delta.removed where entries[id] != nil { removed.append(id) }
            for id in removed { entries[id] = nil }
            dirty.formUnion(removed)
            for (id, target) in delta.upserted {
                let node = TargetNode.name(of: target.labels)
                dirty.insert(id)
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
            // The first allocation of the term keeps the committed assignment (`least-weighted`;
            // consistent hashing needs no memory), matched by content.
            var previous: [TargetID: String] = [:]
            for (id, entry) in entries {
                if case let collector?? = committedTargets[TargetContent(job: entry.target.job, labels: entry.target.labels)] {
                    previous[id] = collector
                }
            }
            let targets = entries.map { AllocationTarget(id: $0.key, key: $0.value.target.key, node: $0.value.node, weight: 1) }
            allocator = Allocator(configuration: configuration, collectors: infos, targets: targets, previous: previous)
            outcome.collectorsChanged = true
        }
        for move in moves { dirty.insert(move.target) }
        collectors = next
        outcome.moves = moves.filter(\.isReassignment).count
        return outcome
    }

    private func content(_ id: TargetID) -> TargetContent? {
        entries[id].map { TargetContent(job: $0.target.job, labels: $0.target.labels) }
    }

    /// What changed since the last commit (epoch, generation and time left to the writer).
    func pendingDelta() -> SnapshotDelta {
        var delta = SnapshotDelta(epoch: 0, generation: 0, createdAtMillis: 0, leader: "")
        if collectors != committedCollectors { delta.collectors = collectors }
        if jobs != committedJobs { delta.jobs = jobs }
        let allocator = self.allocator
        if compareAll {
            var current: [TargetContent: String?] = [:]
            current.reserveCapacity(entries.count)
            for (id, entry) in entries {
                let content = TargetContent(job: entry.target.job, labels: entry.target.labels)
                let collector = allocator?.collector(for: id)
                current[content] = collector
                if committedTargets[content] != .some(collector) {
                    delta.upserted.append(Target(job: content.job, labels: content.labels, collector: collector))
                }
            }
            for content in committedTargets.keys where current[content] == nil {
                delta.removed.append(Target(job: content.job, labels: content.labels, collector: nil))
            }
        } else {
            for id in dirty {
                let old = committedContent[id]
                let new = content(id)
                if let old, old != new { delta.removed.append(Target(job: old.job, labels: old.labels, collector: nil)) }
                if let new {
                    let collector = allocator?.collector(for: id)
                    if old != new || committedTargets[new] != .some(collector) {
                        delta.upserted.append(Target(job: new.job, labels: new.labels, collector: collector))
                    }
                }
            }
        }
        return delta
    }

    /// Records a commit: what it wrote is now what is committed.
    mutating func committed(_ written: SnapshotWriter.Committed) {
        switch written {
        case .full(let snapshot):
            committedTargets = [:]
            committedTargets.reserveCapacity(snapshot.targets.count)
            for target in snapshot.targets { committedTargets[TargetContent(target)] = target.collector }
            committedJobs = snapshot.jobs
            committedCollectors = snapshot.collectors
            if ready {
                committedContent = [:]
                for id in entries.keys { committedContent[id] = content(id) }
                compareAll = false
            }
        case .delta(let delta):
            for target in delta.removed { committedTargets[TargetContent(target)] = nil }
            for target in delta.upserted { committedTargets[TargetContent(target)] = target.collector }
            if let jobs = delta.jobs { committedJobs = jobs }
            if let collectors = delta.collectors { committedCollectors = collectors }
            if ready {
                if compareAll {
                    committedContent = [:]
                    for id in entries.keys { committedContent[id] = content(id) }
                    compareAll = false
                } else {
                    for id in dirty { committedContent[id] = content(id) }
                }
            }
        }
        if ready { dirty = [] }
        basis = (written.epoch, written.generation)
    }

    /// The whole state as a snapshot, targets ordered by job then identity.
    func snapshot(epoch: UInt64, leader: String) -> Snapshot {
        var ordered = entries.map { ($0.key, $0.value.target) }
        ordered.sort { $0.1.job != $1.1.job ? $0.1.job.bytesPrecede($1.1.job) : $0.0 < $1.0 }
        let allocator = self.allocator
        let targets = ordered.map { id, target in Target(job: target.job, labels: target.labels, collector: allocator?.collector(for: id)) }
        return Snapshot(epoch: epoch, generation: 0, createdAtMillis: 0, leader: leader, collectors: collectors, jobs: jobs, targets: targets)
    }

    /// The committed state as a snapshot (for a new base).
    func committedSnapshot() -> Snapshot {
        let targets = committedTargets.map { Target(job: $0.key.job, labels: $0.key.labels, collector: $0.value) }
        return Snapshot(
            epoch: basis?.epoch ?? 0, generation: basis?.generation ?? 0, createdAtMillis: 0, leader: "", collectors: committedCollectors,
            jobs: committedJobs, targets: targets)
    }
}
