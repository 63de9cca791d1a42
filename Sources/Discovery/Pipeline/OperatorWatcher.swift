import Foundation
import JSON
public import KubernetesClient
public import Logging
public import PrometheusOperator
import Relabel

/// Watches the prometheus-operator resources (ServiceMonitor, PodMonitor, Probe, ScrapeConfig),
/// the namespaces their selectors look at and the Secrets they reference, and publishes the
/// scrape configs the operator would generate from them. A malformed resource is skipped with a
/// log line naming it; the others keep working.
public struct OperatorWatcher: Sendable {
    public var settings: OperatorSettings
    /// How long to wait for more changes before regenerating (a rollout touches many objects).
    public var coalesce: Duration = .milliseconds(200)

    public init(settings: OperatorSettings) {
        self.settings = settings
    }

    public func run(
        client: KubernetesClient, logger: Logger, onSkipped: @escaping @Sendable (SkippedResource) -> Void = { _ in },
        onEvent: @escaping @Sendable () -> Void = {}, publish: @escaping @Sendable ([GeneratedJob]) -> Void
    ) async {
        let serviceMonitors = Informer<ServiceMonitor>(client: client, logger: logger)
        let podMonitors = Informer<PodMonitor>(client: client, logger: logger)
        let probes = Informer<Probe>(client: client, logger: logger)
        let scrapeConfigs = Informer<ScrapeConfig>(client: client, logger: logger)
        let namespaces = Informer<Namespace>(client: client, logger: logger)
        let secrets = Informer<Secret>(client: client, logger: logger)
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
            var last: [GeneratedJob]?
            for await _ in wake {
                let synced =
                    serviceMonitors.hasSynced && podMonitors.hasSynced && probes.hasSynced && scrapeConfigs.hasSynced
                    && namespaces.hasSynced && secrets.hasSynced
                guard synced else { continue }
                do { try await Task.sleep(for: coalesce) } catch { break }
                let secretData = Dictionary(
                    secrets.list().map { ("\($0.namespace ?? "")/\($0.name)", $0.data ?? [:]) }, uniquingKeysWith: { a, _ in a })
                let result = OperatorConfigGenerator.generate(
                    serviceMonitors: serviceMonitors.list().compactMap(Self.json),
                    podMonitors: podMonitors.list().compactMap(Self.json),
                    probes: probes.list().compactMap(Self.json),
                    scrapeConfigs: scrapeConfigs.list().compactMap(Self.json),
                    namespaceLabels: Dictionary(
                        namespaces.list().map { ($0.name, $0.metadata.labels ?? [:]) }, uniquingKeysWith: { a, _ in a }),
                    settings: settings,
                    secrets: { reference in
                        guard let bytes = secretData["\(reference.namespace)/\(reference.name)"]?[reference.key] else { return nil }
                        return String(decoding: bytes, as: UTF8.self)
                    },
                    relabelValidator: { rule in
                        do throws(RelabelError) {
                            _ = try JobTargetBuilder.rules(.array([rule]))
                            return nil
                        } catch {
                            return error.message
                        }
                    })
                if result.jobs != last {
                    for skipped in result.skipped {
                        logger.error("skipping a prometheus-operator resource: \(skipped)")
                        onSkipped(skipped)
                    }
                    last = result.jobs
                    publish(result.jobs)
                }
            }
            group.cancelAll()
        }
    }

    /// The whole object as JSON (metadata and spec), the generator's input.
    static func json<T: KubernetesObject>(_ object: T) -> JSONValue? {
        guard let data = try? JSONEncoder().encode(object) else { return nil }
        return try? JSONValue.parse(String(decoding: data, as: UTF8.self))
    }
}
