public import Allocation
public import JSON
public import KubernetesClient
public import Logging
import NIOConcurrencyHelpers
public import CoreMetrics
import Metrics
import PrometheusOperator
public import Snapshot

/// Everything the leader discovers: the jobs of the config file and of the prometheus-operator
/// resources, each job's targets from its service discovery, filtered by its relabel rules.
///
/// Incremental, as Prometheus is: providers report target groups (a Kubernetes object's, a
/// file's, an HTTP SD refresh's), only the groups that changed are relabeled again, and what
/// is published is the difference in targets. A change of the job set (a ServiceMonitor
/// appears) starts and stops the providers of the jobs that changed only.
///
/// The first publication waits until every provider has reported once (or `initialWait` has
/// passed, so one slow provider cannot stall allocation) and holds every target; later ones
/// hold what changed since the previous one. A publication made before every provider has
/// reported is marked incomplete, and the first one after they all have is marked complete
/// (published even when nothing changed): a receiver that already serves a committed state
/// must not take a missing target for a removed one.
public struct TargetDiscovery: Sendable {
    public struct Settings: Sendable {
        public var global: JSONValue?
        public var scrapeConfigs: [JSONValue]
        /// Upstream's `prometheus_cr` section; nil or `enabled: false` watches no resources.
        public var prometheusCR: JSONValue?
        /// `filter_strategy: relabel-config` (the default): drop what the job's relabel rules drop.
        public var relabelFilter = true
        /// Namespace of the allocator (`own_namespace` in Kubernetes SD, the operator's namespace).
        public var ownNamespace: String
        /// The least time between two passes: changes arriving faster are processed and
        /// published together.
        public var coalesce: Duration = .milliseconds(50)
        public var initialWait: Duration = .seconds(30)

        public init(global: JSONValue?, scrapeConfigs: [JSONValue], prometheusCR: JSONValue?, ownNamespace: String) {
            self.global = global
            self.scrapeConfigs = scrapeConfigs
            self.prometheusCR = prometheusCR
            self.ownNamespace = ownNamespace
        }
    }

    public let settings: Settings

    /// Upstream's histograms of one pass over the discovered targets, whole and per job
    /// (buckets 1, 5, 10, 30, 60, 120 s there; see `processingBuckets`).
    public static let processTargetsMetric = "opentelemetry_allocator_process_targets_duration_seconds"
    public static let duplicateTargetsMetric = "target_allocator_duplicate_targets"
    public static let processTargetGroupsMetric = "opentelemetry_allocator_process_target_groups_duration_seconds"
    /// First publications made before every provider had reported (`initialWait` passed).
    public static let incompletePublicationsMetric = "target_allocator_incomplete_discovery_publications_total"
    public static let processingBuckets: [Duration] = [1, 5, 10, 30, 60, 120].map { .seconds($0) }
    /// A job's `<mechanism>_sd_configs` this allocator cannot discover with, counted each time
    /// the job starts.
    public static let unsupportedSDMetric = "target_allocator_unsupported_sd_configs_total"

    public init(settings: Settings) {
        self.settings = settings
    }

    /// Discovers until cancelled.
    /// - Parameter metrics: counts resources skipped as malformed
    ///   (`target_allocator_invalid_resources_total{kind}`).
    public func run(
        client: KubernetesClient?, logger: Logger, metrics: any MetricsFactory = NOOPMetricsHandler.instance,
        publish: @escaping @Sendable (DiscoveryDelta) -> Void
    ) async {
        let fileJobs = JobDefinition.parse(global: settings.global, scrapeConfigs: settings.scrapeConfigs, logger: logger)
        let operatorSettings = settings.prometheusCR.map { OperatorSettings.parse($0, collectorNamespace: settings.ownNamespace) }
        for problem in operatorSettings?.problems ?? [] { logger.error("prometheus_cr: \(problem)") }
        let inbox = DiscoveryInbox()
        let kubernetes = client.map { client in
            KubernetesDiscovery(client: client, ownNamespace: settings.ownNamespace, logger: logger) { inbox.post(.groups($0)) }
        }
        await withDiscardingTaskGroup { group in
            if let kubernetes { group.addTask { await kubernetes.run() } }
            if let client, let operatorSettings = operatorSettings?.0, operatorSettings.enabled {
                // The job set follows the resources: only jobs that changed are restarted.
                group.addTask {
                    let onSkipped: @Sendable (SkippedResource) -> Void = { skipped in
                        Counter(label: "target_allocator_invalid_resources_total", dimensions: [("kind", skipped.kind)], factory: metrics)
                            .increment()
                    }
                    let events = Counter(
                        label: "opentelemetry_allocator_events_total", dimensions: [("source", "EventSourcePrometheusCR")], factory: metrics)
                    await OperatorWatcher(settings: operatorSettings).run(
                        client: client, logger: logger, onSkipped: onSkipped, onEvent: { events.increment() }
                    ) { generated, global in
                        // As upstream loads them: with the generated `global`, not the file's.
                        let configs = generated.map(\.scrapeConfig)
                        inbox.post(.jobs(fileJobs + JobDefinition.parse(global: global, scrapeConfigs: configs, logger: logger)))
                    }
                }
            } else {
                inbox.post(.jobs(fileJobs))
            }
            await process(inbox, kubernetes: kubernetes, client: client, logger: logger, metrics: metrics, publish: publish)
            group.cancelAll()
        }
    }

    /// The loop that owns the jobs' state: applies job sets and group updates as they come,
    /// and publishes what changed.
    private func process(
        _ inbox: DiscoveryInbox, kubernetes: KubernetesDiscovery?, client: KubernetesClient?, logger: Logger, metrics: any MetricsFactory,
        publish: @escaping @Sendable (DiscoveryDelta) -> Void
    ) async {
        let clock = ContinuousClock()
        let started = clock.now
        var state = DiscoveryState(relabelFilter: settings.relabelFilter, logger: logger, metrics: metrics)
        var providers = ProviderTasks()
        var published = false
        var complete = false
        let timer = Task {
            try? await clock.sleep(until: started + settings.initialWait)
            inbox.post(.tick)
        }
        defer { timer.cancel() }
        var lastPass: ContinuousClock.Instant?
        for await _ in inbox.wake {
            if Task.isCancelled { break }
            // Passes are at least `coalesce` apart; a change after a quiet spell goes at once
            // (a wait after every wake added its whole length to every change's latency).
            if let lastPass {
                do { try await clock.sleep(until: lastPass + settings.coalesce) } catch { break }
            }
            let processing = clock.now
            lastPass = processing
            for message in inbox.take() {
                switch message {
                case .jobs(let jobs):
                    let (added, removed) = state.setJobs(jobs, changed: published)
                    for name in removed {
                        providers.stop(name)
                        kubernetes?.unsubscribe(job: name)
                    }
                    for job in added {
                        for mechanism in job.unsupportedSD {
                            Counter(label: Self.unsupportedSDMetric, dimensions: [("job_name", job.name), ("mechanism", mechanism)], factory: metrics)
                                .increment()
                        }
                        providers.start(job, ownNamespace: settings.ownNamespace, logger: logger, inbox: inbox)
                        if !job.kubernetes.isEmpty {
                            if let kubernetes {
                                kubernetes.subscribe(job: job.name, configs: job.kubernetes)
                            } else {
                                logger.error("kubernetes_sd_configs need the Kubernetes API; job \(job.name) gets no targets from them")
                                for i in job.kubernetes.indices {
                                    inbox.post(.groups([GroupUpdate(job: job.name, provider: KubernetesDiscovery.provider(i), groups: [], complete: true)]))
                                }
                            }
                        }
                    }
                case .groups(let updates):
                    await state.apply(updates)
                case .tick:
                    break
                }
            }
            let ready = state.ready
            let becameComplete = !complete && ready
            guard complete || ready || clock.now - started >= settings.initialWait else { continue }
            if !complete && !ready && !published {
                Counter(label: Self.incompletePublicationsMetric, factory: metrics).increment()
                logger.warning(
                    "discovery incomplete after \(settings.initialWait): publishing what has been reported so far",
                    metadata: ["waiting_for": "\(state.unreported.prefix(10))"])
            }
            if becameComplete && published { logger.info("discovery complete: every provider has reported") }
            complete = complete || ready
            var next = state.takeDelta(full: !published)
            if next == nil, becameComplete { next = DiscoveryDelta(full: false, jobs: nil, upserted: [:], removed: [], discovered: [:]) }
            if var delta = next {
                delta.complete = complete
                published = true
                CoreMetrics.Timer(label: Self.processTargetsMetric, factory: metrics).record(duration: clock.now - processing)
                publish(delta)
            }
        }
        await providers.stopAll()
    }
}

/// What changed in the discovered targets. The first delta of a run is `full`: it holds every
/// job and target, and replaces whatever the receiver knew.
public struct DiscoveryDelta: Sendable {
    public var full: Bool
    /// Every provider had reported when this was published. Before that a target missing from
    /// a `full` delta may only not be listed yet (a 100k-pod list on a slow API server).
    public var complete: Bool
    /// The served jobs (every one, in config order), when they changed.
    public var jobs: [Job]?
    /// Targets that appeared or whose served form changed, by identity.
    public var upserted: [TargetID: DiscoveredTarget]
    public var removed: Set<TargetID>
    /// Targets discovered before the relabel filter, for the jobs whose count changed
    /// (upstream's `opentelemetry_allocator_targets`); a removed job counts 0.
    public var discovered: [String: Int]

    public init(
        full: Bool, complete: Bool = true, jobs: [Job]?, upserted: [TargetID: DiscoveredTarget], removed: Set<TargetID>,
        discovered: [String: Int]
    ) {
        self.full = full
        self.complete = complete
        self.jobs = jobs
        self.upserted = upserted
        self.removed = removed
        self.discovered = discovered
    }

    /// `later` applied after `self`: what a receiver that has not applied `self` yet needs.
    public mutating func merge(_ later: DiscoveryDelta) {
        if later.full {
            self = later
            return
        }
        complete = complete || later.complete
        if let jobs = later.jobs { self.jobs = jobs }
        for (id, target) in later.upserted {
            upserted[id] = target
            removed.remove(id)
        }
        for id in later.removed {
            upserted[id] = nil
            if !full { removed.insert(id) }
        }
        discovered.merge(later.discovered) { _, new in new }
    }
}

/// A discovered target as the leader allocates and serves it.
public struct DiscoveredTarget: Sendable {
    public var job: String
    public var labels: Labels
    /// Placement key (the job and the scrape URL).
    public var key: UInt64

    public init(job: String, labels: Labels, key: UInt64) {
        self.job = job
        self.labels = labels
        self.key = key
    }
}

/// Messages for the discovery loop, gathered until it takes them.
final class DiscoveryInbox: Sendable {
    enum Message: Sendable {
        case jobs([JobDefinition])
        case groups([GroupUpdate])
        case tick
    }

    private let messages = NIOLockedValueBox<[Message]>([])
    let wake: AsyncStream<Void>
    private let waker: AsyncStream<Void>.Continuation

    init() {
        (wake, waker) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    func post(_ message: Message) {
        messages.withLockedValue { $0.append(message) }
        waker.yield()
    }

    func take() -> [Message] {
        messages.withLockedValue { m in
            defer { m = [] }
            return m
        }
    }
}

/// Every job's targets and what changed since the last delta.
struct DiscoveryState {
    let relabelFilter: Bool
    let logger: Logger
    let metrics: any MetricsFactory
    private var definitions: [JobDefinition] = []
    private var hasJobs = false
    private var jobs: [String: JobTargets] = [:]
    private var served: [Job] = []
    private var jobsChanged = false
    private var changed: [String: Set<TargetID>] = [:]
    private var removedIDs: Set<TargetID> = []
    private var countsChanged: Set<String> = []
    private var names = NameInterner()

    init(relabelFilter: Bool, logger: Logger, metrics: any MetricsFactory) {
        self.relabelFilter = relabelFilter
        self.logger = logger
        self.metrics = metrics
    }

    /// The job set is known and every provider of every job has reported once.
    var ready: Bool { hasJobs && unreported.isEmpty }

    /// `job/provider` of the providers that have not reported yet.
    var unreported: [String] {
        definitions.flatMap { definition in
            definition.providerNames.filter { jobs[definition.name]?.reported.contains($0) == false }.map { "\(definition.name)/\($0)" }
        }
    }

    /// Replaces the job set. Returns the jobs to start (new or changed) and the names to stop
    /// (gone or changed); unchanged jobs keep their targets and providers.
    mutating func setJobs(_ list: [JobDefinition], changed isChange: Bool) -> (start: [JobDefinition], stop: [String]) {
        var next: [JobDefinition] = []
        var seen = Set<String>()
        for job in list where seen.insert(job.name).inserted { next.append(job) }
        let previous = Dictionary(definitions.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var start: [JobDefinition] = []
        var stop: [String] = []
        for job in next where previous[job.name] != job {
            if previous[job.name] != nil { stop.append(job.name) }
            start.append(job)
        }
        for name in previous.keys where !seen.contains(name) { stop.append(name) }
        for name in stop { drop(name) }
        var kept: [JobDefinition] = []
        for job in next {
            if jobs[job.name] == nil {
                do {
                    jobs[job.name] = JobTargets(builder: try JobTargetBuilder(job: job.name, scrapeConfig: job.scrapeConfig, filter: relabelFilter))
                } catch {
                    logger.error("skipping job \(job.name): \(error)")
                    start.removeAll { $0.name == job.name }
                    continue
                }
            }
            kept.append(job)
        }
        definitions = kept
        hasJobs = true
        let servedJobs = kept.map { Job(name: $0.name, scrapeConfig: $0.scrapeConfig) }
        if servedJobs != served {
            served = servedJobs
            jobsChanged = true
        }
        if isChange, !start.isEmpty || !stop.isEmpty {
            logger.info("jobs changed", metadata: ["started": "\(start.map(\.name))", "stopped": "\(stop)"])
        }
        return (start, stop)
    }

    private mutating func drop(_ name: String) {
        guard var job = jobs.removeValue(forKey: name) else { return }
        if job.duplicates > 0 { duplicatesGauge(name).record(0) }
        var ids = Set<TargetID>()
        job.removeAll(changed: &ids)
        removedIDs.formUnion(ids)
        changed[name] = nil
        countsChanged.insert(name)
    }

    /// Discovered targets of a job collapsed into another with the same identity (same job and
    /// labels after relabeling, as upstream's allocator has it): scraped once, counted here.
    private func duplicatesGauge(_ job: String) -> CoreMetrics.Gauge {
        CoreMetrics.Gauge(label: TargetDiscovery.duplicateTargetsMetric, dimensions: [("job_name", job)], factory: metrics)
    }

    /// Applies group updates (of jobs that still exist), relabeling only the groups in them.
    mutating func apply(_ updates: [GroupUpdate]) async {
        let clock = ContinuousClock()
        var work = 0
        for update in updates {
            guard var job = jobs[update.job] else { continue }
            let started = clock.now
            let before = job.discovered
            let duplicatesBefore = job.duplicates
            jobs[update.job] = nil  // keep `job` uniquely referenced while it changes
            job.apply(update, names: &names, changed: &changed[update.job, default: []])
            if job.discovered != before { countsChanged.insert(update.job) }
            if job.duplicates != duplicatesBefore { duplicatesGauge(update.job).record(job.duplicates) }
            jobs[update.job] = job
            CoreMetrics.Timer(label: TargetDiscovery.processTargetGroupsMetric, dimensions: [("job_name", update.job)], factory: metrics)
                .record(duration: clock.now - started)
            // A first list of 100k pods is a long pass: let other tasks run in between.
            work += update.groups.count
            if work > 1_000 {
                work = 0
                await Task.yield()
            }
        }
    }

    /// What changed since the last call (everything when `full`), or nil when nothing did.
    mutating func takeDelta(full: Bool) -> DiscoveryDelta? {
        defer {
            changed = [:]
            removedIDs = []
            countsChanged = []
            jobsChanged = false
        }
        if full {
            var upserted: [TargetID: DiscoveredTarget] = [:]
            for (name, job) in jobs {
                job.forEach { id, target in upserted[id] = DiscoveredTarget(job: name, labels: target.labels, key: target.key) }
            }
            return DiscoveryDelta(full: true, jobs: served, upserted: upserted, removed: [], discovered: jobs.mapValues(\.discovered))
        }
        var upserted: [TargetID: DiscoveredTarget] = [:]
        var removed = removedIDs
        for (name, ids) in changed {
            guard let job = jobs[name] else { continue }
            for id in ids {
                if let target = job.target(id) {
                    upserted[id] = DiscoveredTarget(job: name, labels: target.labels, key: target.key)
                    removed.remove(id)
                } else {
                    removed.insert(id)
                }
            }
        }
        // An identity can move between jobs only with the job name in it: it cannot.
        for id in upserted.keys { removed.remove(id) }
        var discovered: [String: Int] = [:]
        for name in countsChanged { discovered[name] = jobs[name]?.discovered ?? 0 }
        guard jobsChanged || !upserted.isEmpty || !removed.isEmpty || !discovered.isEmpty else { return nil }
        return DiscoveryDelta(full: false, jobs: jobsChanged ? served : nil, upserted: upserted, removed: removed, discovered: discovered)
    }
}
