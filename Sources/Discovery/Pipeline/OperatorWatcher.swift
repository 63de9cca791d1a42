import Foundation
public import JSON
public import KubernetesClient
public import Logging
public import PrometheusOperator
import Relabel

/// Watches the prometheus-operator resources (ServiceMonitor, PodMonitor, Probe, ScrapeConfig),
/// the namespaces their selectors look at and the Secrets and ConfigMaps they reference, and
/// publishes the scrape configs the operator would generate from them, with the generated
/// `global` section Prometheus takes their defaults from. A resource that cannot be translated,
/// or whose jobs Prometheus (or our discovery) would refuse, is skipped and reported once, with
/// its kind, namespace, name and the reason; the others keep working.
public struct OperatorWatcher: Sendable {
    public var settings: OperatorSettings
    /// How long to wait for more changes before regenerating (a rollout touches many objects).
    public var coalesce: Duration = .milliseconds(200)

    public init(settings: OperatorSettings) {
        self.settings = settings
    }

    /// The snapshot ConfigMaps the replicas write carry this label; they are never referenced by
    /// monitors and are large, so the ConfigMap informer leaves them out.
    static let configMapSelector = "app.kubernetes.io/managed-by!=target-allocator"

    /// - Parameters:
    ///   - onSkipped: called for each resource that becomes invalid (again after it was fixed).
    ///   - publish: the jobs and the `global` section whenever either changes.
    public func run(
        client: KubernetesClient, logger: Logger, onSkipped: @escaping @Sendable (SkippedResource) -> Void = { _ in },
        onEvent: @escaping @Sendable () -> Void = {}, publish: @escaping @Sendable (_ jobs: [GeneratedJob], _ global: JSONValue) -> Void
    ) async {
        let serviceMonitors = Informer<ServiceMonitor>(client: client, logger: logger)
        let podMonitors = Informer<PodMonitor>(client: client, logger: logger)
        let probes = Informer<Probe>(client: client, logger: logger)
        let scrapeConfigs = Informer<ScrapeConfig>(client: client, logger: logger)
        let namespaces = Informer<Namespace>(client: client, logger: logger)
        let secrets = Informer<Secret>(client: client, logger: logger)
        let configMaps = Informer<ConfigMap>(client: client, options: .init(labelSelector: Self.configMapSelector), logger: logger)
        let settings = self.settings
        await withDiscardingTaskGroup { group in
            let (wake, waker) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
            func follow<T: KubernetesObject>(_ informer: Informer<T>) {
                let events = informer.events()
                group.addTask { await informer.run() }
                group.addTask {
                    for await event in events {
                        if case .synced = event {} else { onEvent() }
                        waker.yield()
                    }
                    waker.finish()
                }
            }
            follow(serviceMonitors)
            follow(podMonitors)
            follow(probes)
            follow(scrapeConfigs)
            follow(namespaces)
            follow(secrets)
            follow(configMaps)
            var last: ([GeneratedJob], JSONValue)?
            var lastSkipped: Set<SkippedResource> = []
            for await _ in wake {
                let synced =
                    serviceMonitors.hasSynced && podMonitors.hasSynced && probes.hasSynced && scrapeConfigs.hasSynced
                    && namespaces.hasSynced && secrets.hasSynced && configMaps.hasSynced
                guard synced else { continue }
                do { try await Task.sleep(for: coalesce) } catch { break }
                let references = References(secrets: secrets.list(), configMaps: configMaps.list())
                var unreadable: [SkippedResource] = []
                func objects<T: KubernetesObject>(_ informer: Informer<T>, _ kind: String) -> [JSONValue] {
                    informer.list().compactMap { object in
                        if let json = Self.json(object) { return json }
                        unreadable.append(
                            SkippedResource(kind: kind, namespace: object.namespace ?? "", name: object.name, reason: "the object cannot be read as JSON"))
                        return nil
                    }
                }
                let result = OperatorConfigGenerator.generate(
                    serviceMonitors: objects(serviceMonitors, "serviceMonitor"),
                    podMonitors: objects(podMonitors, "podMonitor"),
                    probes: objects(probes, "probe"),
                    scrapeConfigs: objects(scrapeConfigs, "scrapeConfig"),
                    namespaceLabels: Dictionary(
                        namespaces.list().map { ($0.name, $0.metadata.labels ?? [:]) }, uniquingKeysWith: { a, _ in a }),
                    settings: settings,
                    secrets: references.lookup,
                    relabelValidator: { rule in
                        do throws(RelabelError) {
                            _ = try JobTargetBuilder.rules(.array([rule]))
                            return nil
                        } catch {
                            return error.message
                        }
                    })
                let checked = Self.loadable(result)
                let skipped = Set(unreadable + result.skipped + checked.skipped)
                for resource in skipped.subtracting(lastSkipped).sorted(by: { $0.description < $1.description }) {
                    logger.error("skipping a prometheus-operator resource: \(resource)")
                    onSkipped(resource)
                }
                lastSkipped = skipped
                if last.map({ $0.0 != checked.jobs || $0.1 != result.global }) ?? true {
                    last = (checked.jobs, result.global)
                    publish(checked.jobs, result.global)
                }
            }
            group.cancelAll()
        }
    }

    /// The generated jobs Prometheus would load (with the generated `global`) and discovery can
    /// run; a resource with any job that is not is dropped whole, with that job's problems.
    /// Upstream would fail the whole regeneration instead.
    static func loadable(_ result: GenerationResult) -> (jobs: [GeneratedJob], skipped: [SkippedResource]) {
        var refused: [String: SkippedResource] = [:]
        func key(_ job: GeneratedJob) -> String { "\(job.kind)/\(job.namespace)/\(job.name)" }
        for job in result.jobs where refused[key(job)] == nil {
            var reason: String?
            let normalized = ScrapeConfigModel.normalize(global: result.global, scrapeConfigs: [job.scrapeConfig])
            if let loaded = normalized.jobs.first, normalized.problems.isEmpty {
                do throws(RelabelError) {
                    _ = try JobTargetBuilder(job: loaded.name, scrapeConfig: loaded.scrapeConfig, filter: true)
                } catch {
                    reason = "job \(job.jobName): \(error)"
                }
            } else {
                let problems = normalized.problems.isEmpty ? ["invalid scrape config"] : normalized.problems
                reason = "job \(job.jobName): " + problems.map { $0.replacingOccurrences(of: "scrape_configs[0].", with: "") }.joined(separator: "; ")
            }
            if let reason {
                refused[key(job)] = SkippedResource(kind: job.kind, namespace: job.namespace, name: job.name, reason: reason)
            }
        }
        let jobs = result.jobs.filter { refused[key($0)] == nil }
        return (jobs, refused.values.sorted { $0.description < $1.description })
    }

    /// The whole object as JSON (metadata and spec), the generator's input.
    static func json<T: KubernetesObject>(_ object: T) -> JSONValue? {
        guard let data = try? JSONEncoder().encode(object) else { return nil }
        return try? JSONValue.parse(String(decoding: data, as: UTF8.self))
    }
}

/// The keys of the Secrets and ConfigMaps resources reference, as prometheus-operator's asset
/// store reads them: a Secret's `data`, a ConfigMap's `data` then `binaryData`.
struct References: Sendable {
    private var secrets: [String: [String: Data]] = [:]
    private var configMaps: [String: ConfigMap] = [:]

    init(secrets: [Secret], configMaps: [ConfigMap]) {
        for s in secrets { self.secrets["\(s.namespace ?? "")/\(s.name)"] = s.data ?? [:] }
        for c in configMaps { self.configMaps["\(c.namespace ?? "")/\(c.name)"] = c }
    }

    var lookup: SecretLookup {
        let references = self
        return { reference in references.value(reference) }
    }

    func value(_ reference: SecretReference) -> String? {
        let object = "\(reference.namespace)/\(reference.name)"
        switch reference.kind {
        case .secret:
            return secrets[object]?[reference.key].map { String(decoding: $0, as: UTF8.self) }
        case .configMap:
            guard let configMap = configMaps[object] else { return nil }
            if let text = configMap.data?[reference.key] { return text }
            return configMap.binaryData?[reference.key].map { String(decoding: $0, as: UTF8.self) }
        }
    }
}
