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
/// It publishes complete states only: nothing until every provider has reported once (or
/// `initialWait` has passed, so one unreachable HTTP SD endpoint cannot stall allocation), then
/// after each change, coalesced.
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
        public var coalesce: Duration = .milliseconds(200)
        public var initialWait: Duration = .seconds(30)

        public init(global: JSONValue?, scrapeConfigs: [JSONValue], prometheusCR: JSONValue?, ownNamespace: String) {
            self.global = global
            self.scrapeConfigs = scrapeConfigs
            self.prometheusCR = prometheusCR
            self.ownNamespace = ownNamespace
        }
    }

    public struct Result: Sendable, Hashable {
        public var jobs: [Job]
        public var targets: [Target]
        /// Targets found before relabel filtering, per job (upstream's `opentelemetry_allocator_targets`).
        public var discovered: [String: Int]
    }

    public let settings: Settings

    /// Upstream's histograms of one pass over the discovered targets, whole and per job
    /// (buckets 1, 5, 10, 30, 60, 120 s there; see `processingBuckets`).
    public static let processTargetsMetric = "opentelemetry_allocator_process_targets_duration_seconds"
    public static let processTargetGroupsMetric = "opentelemetry_allocator_process_target_groups_duration_seconds"
    public static let processingBuckets: [Duration] = [1, 5, 10, 30, 60, 120].map { .seconds($0) }

    public init(settings: Settings) {
        self.settings = settings
    }

    /// Discovers until cancelled.
    /// - Parameter metrics: counts resources skipped as malformed
    ///   (`target_allocator_invalid_resources_total{kind}`).
    public func run(
        client: KubernetesClient?, logger: Logger, metrics: any MetricsFactory = NOOPMetricsHandler.instance,
        publish: @escaping @Sendable (Result) -> Void
    ) async {
        let fileJobs = JobDefinition.parse(global: settings.global, scrapeConfigs: settings.scrapeConfigs, logger: logger)
        let operatorSettings = settings.prometheusCR.map { OperatorSettings.parse($0, collectorNamespace: settings.ownNamespace) }
        for problem in operatorSettings?.problems ?? [] { logger.error("prometheus_cr: \(problem)") }
        guard let client, let operatorSettings = operatorSettings?.0, operatorSettings.enabled else {
            await discover(fileJobs, client: client, logger: logger, metrics: metrics, publish: publish)
            return
        }
        // The job set changes with the resources: restart discovery for each new set.
        let (jobSets, jobSetChanged) = AsyncStream<[JobDefinition]>.makeStream(bufferingPolicy: .bufferingNewest(1))
        await withDiscardingTaskGroup { group in
            group.addTask {
                let onSkipped: @Sendable (SkippedResource) -> Void = { skipped in
                    Counter(label: "target_allocator_invalid_resources_total", dimensions: [("kind", skipped.kind)], factory: metrics)
                        .increment()
                }
                let events = Counter(label: "opentelemetry_allocator_events_total", dimensions: [("source", "EventSourcePrometheusCR")], factory: metrics)
                await OperatorWatcher(settings: operatorSettings).run(
                    client: client, logger: logger, onSkipped: onSkipped, onEvent: { events.increment() }
                ) { generated in
                    let global = settings.global
                    let configs = generated.map(\.scrapeConfig)
                    jobSetChanged.yield(fileJobs + JobDefinition.parse(global: global, scrapeConfigs: configs, logger: logger))
                }
                jobSetChanged.finish()
            }
            var running: Task<Void, Never>?
            for await jobs in jobSets {
                running?.cancel()
                await running?.value
                running = Task { await discover(jobs, client: client, logger: logger, metrics: metrics, publish: publish) }
            }
            running?.cancel()
            await running?.value
            group.cancelAll()
        }
    }

    /// Runs every provider of a fixed job set and publishes the combined targets.
    private func discover(
        _ jobs: [JobDefinition], client: KubernetesClient?, logger: Logger, metrics: any MetricsFactory,
        publish: @escaping @Sendable (Result) -> Void
    ) async {
        let processing = CoreMetrics.Timer(label: Self.processTargetsMetric, factory: metrics)
        var builders: [String: JobTargetBuilder] = [:]
        var servedJobs: [Job] = []
        for job in jobs {
            do {
                builders[job.name] = try JobTargetBuilder(job: job.name, scrapeConfig: job.scrapeConfig, filter: settings.relabelFilter)
                servedJobs.append(Job(name: job.name, scrapeConfig: job.scrapeConfig))
            } catch {
                logger.error("skipping job \(job.name): \(error)")
            }
        }
        let providers = jobs.filter { builders[$0.name] != nil }.providers(ownNamespace: settings.ownNamespace, logger: logger)
        let store = NIOLockedValueBox(GroupStore(expected: Set(providers.map(\.key))))
        let (wake, waker) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let clock = ContinuousClock()
        let started = clock.now
        await withDiscardingTaskGroup { group in
            for provider in providers {
                group.addTask {
                    await provider.run(client) { groups in
                        store.withLockedValue { $0.update(provider.key, groups: groups) }
                        waker.yield()
                    }
                }
            }
            // Nothing to wait for (no providers) or a provider never answering: publish anyway.
            group.addTask {
                try? await clock.sleep(until: started + settings.initialWait)
                waker.yield()
            }
            waker.yield()
            var cache: [String: (targets: [Target], discovered: Int)] = [:]
            var last: Result?
            for await _ in wake {
                do { try await clock.sleep(for: settings.coalesce) } catch { break }
                let (ready, dirty, groups) = store.withLockedValue { store in
                    let snapshot = (store.ready || clock.now - started >= settings.initialWait, store.dirty, store.groups)
                    if snapshot.0 { store.dirty = [] }
                    return snapshot
                }
                guard ready else { continue }
                let processingStarted = clock.now
                for job in dirty.union(Set(servedJobs.map(\.name)).subtracting(cache.keys)) {
                    guard let builder = builders[job] else { continue }
                    let jobStarted = clock.now
                    let all = (groups[job] ?? [:]).sorted { $0.key < $1.key }.flatMap(\.value)
                    let built = builder.targets(all)
                    cache[job] = (built.targets, all.reduce(0) { $0 + $1.targets.count })
                    CoreMetrics.Timer(label: Self.processTargetGroupsMetric, dimensions: [("job_name", job)], factory: metrics)
                        .record(duration: clock.now - jobStarted)
                }
                let result = Result(
                    jobs: servedJobs, targets: servedJobs.flatMap { cache[$0.name]?.targets ?? [] },
                    discovered: cache.mapValues(\.discovered))
                processing.record(duration: clock.now - processingStarted)
                if result != last {
                    last = result
                    publish(result)
                }
            }
            group.cancelAll()
        }
    }
}

/// What every provider reported, by job.
struct GroupStore {
    let expected: Set<String>
    var reported: Set<String> = []
    var groups: [String: [String: [TargetGroup]]] = [:]
    var dirty: Set<String> = []

    init(expected: Set<String>) {
        self.expected = expected
    }

    var ready: Bool { reported.isSuperset(of: expected) }

    /// A provider's complete report: its groups for every job it serves.
    mutating func update(_ key: String, groups byJob: [String: [TargetGroup]]) {
        reported.insert(key)
        for (job, var perProvider) in groups where perProvider[key] != nil && byJob[job] == nil {
            perProvider[key] = nil
            groups[job] = perProvider
            dirty.insert(job)
        }
        for (job, list) in byJob where groups[job]?[key] != list {
            groups[job, default: [:]][key] = list
            dirty.insert(job)
        }
    }
}
