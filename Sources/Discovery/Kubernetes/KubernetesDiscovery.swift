import Foundation
public import KubernetesClient
public import Logging

/// `kubernetes_sd_configs` for many jobs at once, backed by informers: each distinct
/// (resource, namespace, selectors) is listed and watched once, however many configs need it.
/// Target groups are recomputed from the informer caches whenever something changes (so
/// every group always reflects the current objects), coalesced to at most one publication per
/// `minPublishInterval`.
public final class KubernetesDiscovery: Sendable {
    let client: KubernetesClient
    let ownNamespace: String
    let logger: Logger
    let minPublishInterval: Duration
    let syncTimeout: Duration

    /// - Parameters:
    ///   - ownNamespace: the namespace `namespaces.own_namespace` adds (the allocator's own).
    ///   - minPublishInterval: changes arriving faster are published together.
    ///   - syncTimeout: how long the first publication waits for every informer's first list;
    ///     after it, configs whose informers did list are published and the rest follow once
    ///     theirs do.
    public init(
        client: KubernetesClient, ownNamespace: String, logger: Logger, minPublishInterval: Duration = .milliseconds(100),
        syncTimeout: Duration = .seconds(60)
    ) {
        self.client = client
        self.ownNamespace = ownNamespace
        self.logger = logger
        self.minPublishInterval = minPublishInterval
        self.syncTimeout = syncTimeout
    }

    /// The distinct collections `configs` need: how many list+watch pairs `run` opens.
    public func informerKeys(configs: [String: [KubernetesSDConfig]]) -> Set<InformerKey> {
        Set(configs.values.flatMap { $0 }.flatMap { KubernetesPlan(config: $0, ownNamespace: ownNamespace).keys })
    }

    /// Watches until cancelled. `publish` gets every job's groups (all jobs present, in config
    /// order within a job): first once every informer has listed, then after every change that
    /// alters the result.
    public func run(configs: [String: [KubernetesSDConfig]], publish: @escaping @Sendable ([String: [TargetGroup]]) -> Void) async {
        let plans = configs.mapValues { $0.map { KubernetesPlan(config: $0, ownNamespace: ownNamespace) } }
        var boxes: [InformerKey: any InformerBox] = [:]
        for key in informerKeys(configs: configs) { boxes[key] = makeBox(key) }
        let source = InformerSource(boxes: boxes)
        logger.info(
            "kubernetes discovery starting",
            metadata: ["jobs": "\(configs.count)", "informers": "\(boxes.count)"])

        let clock = ContinuousClock()
        let start = clock.now
        let syncTimeout = syncTimeout
        let (wake, waker) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let dirty = DirtyKeys()
        await withDiscardingTaskGroup { group in
            for (key, box) in boxes {
                group.addTask { await box.run() }
                group.addTask {
                    await box.forward {
                        dirty.insert(key)
                        waker.yield()
                    }
                }
            }
            group.addTask {
                try? await clock.sleep(for: syncTimeout)
                waker.yield()
            }
            waker.yield()
            var last: [String: [TargetGroup]]?
            // Each distinct config's groups as last computed (absent: not yet, or its informers
            // had not listed). Jobs with identical configs (common for generated ones) share them.
            var cached: [KubernetesSDConfig: [TargetGroup]] = [:]
            var lastPublish: ContinuousClock.Instant?
            var warned = false
            for await _ in wake {
                if Task.isCancelled { break }
                let unsynced = Set(boxes.filter { !$0.value.hasSynced }.keys)
                if !unsynced.isEmpty {
                    if clock.now - start < syncTimeout { continue }
                    if !warned {
                        warned = true
                        logger.warning(
                            "kubernetes discovery: some collections have not listed yet; publishing the rest",
                            metadata: ["unsynced": "\(unsynced.map(\.description).sorted())"])
                    }
                }
                if let lastPublish {
                    let next = lastPublish + minPublishInterval
                    if clock.now < next {
                        do { try await clock.sleep(until: next) } catch { break }
                    }
                }
                // Only configs that read a changed collection are recomputed.
                let changed = dirty.take()
                var state: [String: [TargetGroup]] = [:]
                var fresh: [KubernetesSDConfig: [TargetGroup]] = [:]
                for (job, jobPlans) in plans {
                    var groups: [TargetGroup] = []
                    for plan in jobPlans {
                        if let done = fresh[plan.config] {
                            groups += done
                            continue
                        }
                        let keys = plan.keys
                        guard keys.allSatisfy({ !unsynced.contains($0) }) else { continue }
                        let result: [TargetGroup]
                        if let previous = cached[plan.config], !keys.contains(where: changed.contains) {
                            result = previous
                        } else {
                            result = plan.groups(source)
                        }
                        fresh[plan.config] = result
                        groups += result
                    }
                    state[job] = groups
                }
                cached = fresh
                lastPublish = clock.now
                if state != last {
                    last = state
                    publish(state)
                }
            }
            group.cancelAll()
        }
    }

    private func makeBox(_ key: InformerKey) -> any InformerBox {
        switch key.resource {
        case .pods: TypedInformerBox<Pod>(key: key, client: client, logger: logger)
        case .services: TypedInformerBox<Service>(key: key, client: client, logger: logger)
        case .endpoints: TypedInformerBox<Endpoints>(key: key, client: client, logger: logger)
        case .endpointslices: TypedInformerBox<EndpointSlice>(key: key, client: client, logger: logger)
        case .nodes: TypedInformerBox<Node>(key: key, client: client, logger: logger)
        case .namespaces: TypedInformerBox<Namespace>(key: key, client: client, logger: logger)
        case .replicasets: TypedInformerBox<ReplicaSet>(key: key, client: client, logger: logger)
        case .jobs: TypedInformerBox<BatchJob>(key: key, client: client, logger: logger)
        }
    }
}

/// An informer of some kind, behind one interface.
protocol InformerBox: Sendable {
    var hasSynced: Bool { get }
    func run() async
    /// Calls `changed` on every cache change until the informer stops.
    func forward(_ changed: @escaping @Sendable () -> Void) async
    func list<T: KubernetesObject>(_ type: T.Type) -> [T]
    func get<T: KubernetesObject>(_ type: T.Type, namespace: String?, name: String) -> T?
}

final class TypedInformerBox<O: KubernetesObject>: InformerBox {
    let informer: Informer<O>
    let events: AsyncStream<InformerEvent<O>>

    init(key: InformerKey, client: KubernetesClient, logger: Logger) {
        var options = Informer<O>.Options(namespace: key.namespace, labelSelector: key.labelSelector, fieldSelector: key.fieldSelector)
        options.pageSize = 500
        var logger = logger
        logger[metadataKey: "informer"] = "\(key)"
        informer = Informer<O>(client: client, options: options, logger: logger)
        // Only "something changed" matters: the caches are read afresh on every recompute.
        events = informer.events(bufferingPolicy: .bufferingNewest(1))
    }

    var hasSynced: Bool { informer.hasSynced }
    func run() async { await informer.run() }

    func forward(_ changed: @escaping @Sendable () -> Void) async {
        for await _ in events { changed() }
    }

    func list<T: KubernetesObject>(_ type: T.Type) -> [T] {
        (informer.list() as Any) as? [T] ?? []
    }

    func get<T: KubernetesObject>(_ type: T.Type, namespace: String?, name: String) -> T? {
        informer.get(namespace: namespace, name: name) as? T
    }
}

struct InformerSource: KubernetesObjectSource {
    let boxes: [InformerKey: any InformerBox]

    func list<T: KubernetesObject>(_ key: InformerKey, _ type: T.Type) -> [T] {
        boxes[key]?.list(type) ?? []
    }

    func get<T: KubernetesObject>(_ key: InformerKey, _ type: T.Type, namespace: String?, name: String) -> T? {
        boxes[key]?.get(type, namespace: namespace, name: name)
    }
}

/// The collections that changed since the last recompute.
final class DirtyKeys: @unchecked Sendable {
    // @unchecked: every access goes through `lock`.
    private let lock = NSLock()
    private var keys = Set<InformerKey>()

    func insert(_ key: InformerKey) {
        lock.lock()
        keys.insert(key)
        lock.unlock()
    }

    func take() -> Set<InformerKey> {
        lock.lock()
        defer { lock.unlock() }
        let out = keys
        keys = []
        return out
    }
}
