public import KubernetesClient
public import Logging
public import Snapshot

/// Decides which collector pods may receive targets. A pod is a collector while it is
/// Running and Ready; one that stops being so is kept for a grace period (a restarting
/// collector should not reshuffle its targets), and one being deleted is dropped at once.
/// A grace period of zero turns the readiness check off, as upstream: every scheduled pod
/// that is not being deleted is a collector, Running and Ready or not.
public struct CollectorSelection: Sendable {
    public var gracePeriod: Duration
    /// When each pod was last seen healthy (monotonic clock).
    private var lastHealthy: [String: ContinuousClock.Instant] = [:]

    public init(gracePeriod: Duration) {
        self.gracePeriod = gracePeriod
    }

    /// The collectors among `pods` at `now`, sorted by name.
    public mutating func collectors(from pods: [Pod], now: ContinuousClock.Instant) -> [Collector] {
        var result: [Collector] = []
        var seen = Set<String>()
        for pod in pods {
            let name = pod.name
            guard !name.isEmpty, pod.metadata.deletionTimestamp == nil else { continue }
            seen.insert(name)
            if gracePeriod == .zero {
                guard !(pod.spec?.nodeName ?? "").isEmpty else { continue }  // unscheduled: no collector runs yet
            } else if Self.isHealthy(pod) {
                lastHealthy[name] = now
            } else if let since = lastHealthy[name], now - since < gracePeriod {
                // Keep it for the grace period.
            } else {
                continue
            }
            result.append(Collector(name: name, node: pod.spec?.nodeName))
        }
        lastHealthy = lastHealthy.filter { seen.contains($0.key) }
        return result.sorted { $0.name < $1.name }
    }

    static func isHealthy(_ pod: Pod) -> Bool {
        guard pod.status?.phase == "Running" else { return false }
        return pod.status?.conditions?.contains { $0.type == "Ready" && $0.status == "True" } ?? false
    }
}

/// Watches the collector pods (`collector_selector` in `collector_namespace`) and publishes
/// the collector set whenever it changes, after the first complete list only, so a new
/// leader never allocates against a half-known set.
public struct CollectorWatcher: Sendable {
    public var namespace: String
    public var labelSelector: String?
    public var gracePeriod: Duration

    public init(namespace: String, labelSelector: String?, gracePeriod: Duration) {
        self.namespace = namespace
        self.labelSelector = labelSelector
        self.gracePeriod = gracePeriod
    }

    public func run(client: KubernetesClient, logger: Logger, publish: @escaping @Sendable ([Collector]) -> Void) async {
        let informer = Informer<Pod>(
            client: client, options: .init(namespace: namespace, labelSelector: labelSelector), logger: logger)
        let events = informer.events()
        let clock = ContinuousClock()
        await withDiscardingTaskGroup { group in
            let (wake, waker) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
            group.addTask { await informer.run() }
            group.addTask {
                for await _ in events { waker.yield() }
                waker.finish()
            }
            // Re-evaluate when a grace period may have run out.
            group.addTask {
                while !Task.isCancelled {
                    do { try await clock.sleep(for: .seconds(1)) } catch { break }
                    waker.yield()
                }
                waker.finish()
            }
            var selection = CollectorSelection(gracePeriod: gracePeriod)
            var last: [Collector]?
            for await _ in wake {
                guard informer.hasSynced else { continue }
                let collectors = selection.collectors(from: informer.list(), now: clock.now)
                if collectors != last {
                    logger.info("collectors changed", metadata: ["collectors": "\(collectors.map(\.name))"])
                    last = collectors
                    publish(collectors)
                }
            }
            group.cancelAll()
        }
    }
}
