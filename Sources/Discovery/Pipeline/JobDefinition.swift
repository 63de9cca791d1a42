public import JSON
import KubernetesClient
public import Logging

/// One scrape job as discovery runs it: its served scrape config and where its targets come from.
public struct JobDefinition: Sendable {
    public var name: String
    /// As `/scrape_configs` serves it (Prometheus defaults filled in).
    public var scrapeConfig: JSONValue
    var staticGroups: [TargetGroup]
    var kubernetes: [KubernetesSDConfig]
    var fileSD: [FileSDConfig]
    var httpSD: [HTTPSDConfig]
    var dnsSD: [DNSSDConfig] = []
    /// Mechanisms of its `*_sd_configs` that are not discovered (see `ScrapeConfigModel`).
    public var unsupportedSD: [String] = []

    /// Normalizes scrape configs (Prometheus defaults, validation); a job with problems is
    /// skipped with a log line naming each problem, the others are kept.
    public static func parse(global: JSONValue?, scrapeConfigs: [JSONValue], logger: Logger) -> [JobDefinition] {
        let normalized = ScrapeConfigModel.normalize(global: global, scrapeConfigs: scrapeConfigs)
        for problem in normalized.problems { logger.error("scrape configs: \(problem)") }
        var jobs: [JobDefinition] = []
        for job in normalized.jobs {
            var problems: [String] = []
            var kubernetes: [KubernetesSDConfig] = []
            for (i, item) in job.kubernetesSD.enumerated() {
                if let parsed = KubernetesSDConfig(json: item, problems: &problems, path: "job \(job.name): kubernetes_sd_configs[\(i)]") {
                    kubernetes.append(parsed)
                }
            }
            if !problems.isEmpty {
                for problem in problems { logger.error("skipping job \(job.name): \(problem)") }
                continue
            }
            jobs.append(
                JobDefinition(
                    name: job.name, scrapeConfig: job.scrapeConfig, staticGroups: job.staticGroups, kubernetes: kubernetes,
                    fileSD: job.fileSD, httpSD: job.httpSD, dnsSD: job.dnsSD, unsupportedSD: job.unsupportedSD))
        }
        return jobs
    }
}

extension JobDefinition: Equatable {
    /// Same name and scrape config: the served config determines discovery and relabeling.
    public static func == (a: JobDefinition, b: JobDefinition) -> Bool {
        a.name == b.name && a.scrapeConfig == b.scrapeConfig
    }

    /// The providers that report this job's groups (each reports completely once at start).
    var providerNames: [String] {
        var names = ["static"]
        names += kubernetes.indices.map(KubernetesDiscovery.provider)
        if !fileSD.isEmpty { names.append("file") }
        names += httpSD.indices.map { "http/\($0)" }
        names += dnsSD.indices.map { "dns/\($0)" }
        return names
    }
}

/// The per-job providers (static groups, file, HTTP and DNS SD) of the running jobs: started when a
/// job appears or changes, stopped when it goes. Kubernetes SD is shared across jobs and runs
/// in `KubernetesDiscovery` instead.
struct ProviderTasks {
    private var tasks: [String: [Task<Void, Never>]] = [:]

    mutating func start(_ job: JobDefinition, ownNamespace: String, logger: Logger, inbox: DiscoveryInbox) {
        let name = job.name
        inbox.post(.groups([GroupUpdate(job: name, provider: "static", groups: job.staticGroups, complete: true)]))
        var started: [Task<Void, Never>] = []
        if !job.fileSD.isEmpty {
            let provider = FileSDProvider(configs: job.fileSD, logger: logger)
            started.append(Task { await provider.run { inbox.post(.groups([GroupUpdate(job: name, provider: "file", groups: $0, complete: true)])) } })
        }
        for (i, config) in job.httpSD.enumerated() {
            let provider = HTTPSDProvider(config: config, logger: logger)
            started.append(
                Task { await provider.run { inbox.post(.groups([GroupUpdate(job: name, provider: "http/\(i)", groups: $0, complete: true)])) } })
        }
        for (i, config) in job.dnsSD.enumerated() {
            let provider = DNSSDProvider(config: config, logger: logger)
            started.append(
                Task { await provider.run { inbox.post(.groups([GroupUpdate(job: name, provider: "dns/\(i)", groups: $0, complete: true)])) } })
        }
        tasks[name] = started
    }

    mutating func stop(_ job: String) {
        for task in tasks.removeValue(forKey: job) ?? [] { task.cancel() }
    }

    func stopAll() async {
        for task in tasks.values.joined() { task.cancel() }
        for task in tasks.values.joined() { await task.value }
    }
}
