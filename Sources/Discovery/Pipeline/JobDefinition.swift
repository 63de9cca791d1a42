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
                    fileSD: job.fileSD, httpSD: job.httpSD))
        }
        return jobs
    }
}

/// A source of target groups for some jobs, run while leading.
struct Provider: Sendable {
    var key: String
    var run: @Sendable (_ client: KubernetesClient?, _ publish: @escaping @Sendable ([String: [TargetGroup]]) -> Void) async -> Void
}

extension [JobDefinition] {
    /// The providers these jobs need: static groups, one shared Kubernetes discovery, and file
    /// and HTTP SD per job.
    func providers(ownNamespace: String, logger: Logger) -> [Provider] {
        var providers: [Provider] = []
        let statics = Dictionary(map { ($0.name, $0.staticGroups) }, uniquingKeysWith: { a, _ in a })
        providers.append(
            Provider(key: "static") { _, publish in
                publish(statics)
                while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            })
        let kubernetes = Dictionary(filter { !$0.kubernetes.isEmpty }.map { ($0.name, $0.kubernetes) }, uniquingKeysWith: { a, _ in a })
        if !kubernetes.isEmpty {
            providers.append(
                Provider(key: "kubernetes") { client, publish in
                    guard let client else {
                        logger.error("kubernetes_sd_configs need the Kubernetes API; jobs \(kubernetes.keys.sorted()) get no targets")
                        publish(kubernetes.mapValues { _ in [] })
                        return
                    }
                    await KubernetesDiscovery(client: client, ownNamespace: ownNamespace, logger: logger)
                        .run(configs: kubernetes, publish: publish)
                })
        }
        for job in self {
            let name = job.name
            if !job.fileSD.isEmpty {
                let provider = FileSDProvider(configs: job.fileSD, logger: logger)
                providers.append(Provider(key: "file/\(name)") { _, publish in await provider.run { publish([name: $0]) } })
            }
            for (i, config) in job.httpSD.enumerated() {
                let provider = HTTPSDProvider(config: config, logger: logger)
                providers.append(Provider(key: "http/\(name)/\(i)") { _, publish in await provider.run { publish([name: $0]) } })
            }
        }
        return providers
    }
}
