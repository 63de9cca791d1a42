import Prometheus

/// Routes as upstream labels them (gin's route patterns; unmatched requests get an empty path).
enum Route: Int, CaseIterable {
    case root, livez, readyz, metrics, status, scrapeConfigs, jobs, jobTargets, unmatched
    case debugJob, debugCollector, debugTargets, debugTarget

    var pattern: String {
        switch self {
        case .root: "/"
        case .livez: "/livez"
        case .readyz: "/readyz"
        case .metrics: "/metrics"
        case .status: "/status"
        case .scrapeConfigs: "/scrape_configs"
        case .jobs: "/jobs"
        case .jobTargets: "/jobs/:job_id/targets"
        case .unmatched: ""
        case .debugJob: "/debug/job"
        case .debugCollector: "/debug/collector"
        case .debugTargets: "/debug/targets"
        case .debugTarget: "/debug/target"
        }
    }
}

/// What this replica serves, as metrics: upstream's request latency by route, and the state of
/// the served snapshot (refreshed at each scrape, so the age is current and every replica,
/// leader or not, reports the same way).
struct ServedMetrics: Sendable {
    /// `opentelemetry_allocator_http_duration_seconds{path}`, indexed by `Route.rawValue`.
    let durations: [DurationHistogram]
    let leader: Gauge
    let loaded: Gauge
    let epoch: Gauge
    let generation: Gauge
    let age: Gauge
    let targets: Gauge
    let unassigned: Gauge

    init(registry: PrometheusCollectorRegistry) {
        let buckets: [Duration] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10].map { .milliseconds(Int64($0 * 1000)) }
        let latency = MetricNameDescriptor(
            namespace: "opentelemetry", subsystem: "allocator", metricName: "http_duration", unitName: "seconds",
            helpText: "Time to answer an HTTP request, by route")
        durations = Route.allCases.map { registry.makeDurationHistogram(descriptor: latency, labels: [("path", $0.pattern)], buckets: buckets) }
        func gauge(_ name: String, _ unit: String, _ help: String) -> Gauge {
            registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "target_allocator", metricName: name, unitName: unit, helpText: help))
        }
        leader = gauge("leader", "", "1 while this replica holds the Lease")
        loaded = gauge("snapshot_loaded", "", "1 once this replica serves a valid snapshot (what /readyz reports)")
        epoch = gauge("snapshot_epoch", "", "Fencing epoch of the served snapshot (grows with every leadership change)")
        generation = gauge("snapshot_generation", "", "Generation of the served snapshot")
        age = gauge("snapshot_age", "seconds", "Time since the leader built the served snapshot")
        targets = gauge("snapshot_targets", "", "Targets in the served snapshot")
        unassigned = gauge("snapshot_unassigned_targets", "", "Targets in the served snapshot without a collector")
    }

    func refresh(_ rendered: RenderedSnapshot?, isLeader: Bool, nowMillis: Int64) {
        leader.set(to: isLeader ? 1 : 0)
        loaded.set(to: rendered == nil ? 0 : 1)
        guard let rendered else { return }
        epoch.set(to: Double(rendered.epoch))
        generation.set(to: Double(rendered.generation))
        age.set(to: Double(max(0, nowMillis - rendered.createdAtMillis)) / 1000)
        targets.set(to: Double(rendered.targetCount))
        unassigned.set(to: Double(rendered.unassignedTargets))
    }
}
