import Foundation
public import KubernetesClient
public import Logging
import NIOConcurrencyHelpers

/// `kubernetes_sd_configs` for many jobs at once, incrementally, as Prometheus does it: each
/// object yields its own target group (source `pod/<ns>/<name>`, `endpointslice/<ns>/<name>`,
/// ...), and a change recomputes only the groups of the objects it touches: the object's own,
/// and those that looked it up (a Service's change reaches its Endpoints' groups, a Node's the
/// groups of pods with node metadata, ...).
///
/// Each distinct (resource, namespace, selectors) is listed and watched once, however many
/// configs need it; each distinct config is computed once, however many jobs use it. Jobs
/// subscribe and unsubscribe while it runs (the job set follows prometheus-operator resources),
/// and informers nobody needs any more are stopped.
public final class KubernetesDiscovery: Sendable {
    let client: KubernetesClient
    let ownNamespace: String
    let logger: Logger
    let minPublishInterval: Duration
    private let publish: @Sendable ([GroupUpdate]) -> Void
    private let mailbox = NIOLockedValueBox<[Command]>([])
    private let wake: AsyncStream<Void>
    private let waker: AsyncStream<Void>.Continuation

    enum Command {
        case subscribe(job: String, configs: [KubernetesSDConfig])
        case unsubscribe(job: String)
    }

    /// - Parameters:
    ///   - ownNamespace: the namespace `namespaces.own_namespace` adds (the allocator's own).
    ///   - minPublishInterval: changes arriving faster are published together.
    ///   - publish: receives the groups that changed, per job and config (provider
    ///     `kubernetes/<index of the config in the job>`); a config's first update for a job is
    ///     `complete` (every group it has), sent once every collection it reads has listed.
    public init(
        client: KubernetesClient, ownNamespace: String, logger: Logger, minPublishInterval: Duration = .milliseconds(50),
        publish: @escaping @Sendable ([GroupUpdate]) -> Void
    ) {
        self.client = client
        self.ownNamespace = ownNamespace
        self.logger = logger
        self.minPublishInterval = minPublishInterval
        self.publish = publish
        (wake, waker) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// The provider name of a job's `index`th Kubernetes SD config in updates.
    public static func provider(_ index: Int) -> String { "kubernetes/\(index)" }

    /// The distinct collections `configs` need: how many list+watch pairs they open.
    public func informerKeys(configs: [String: [KubernetesSDConfig]]) -> Set<InformerKey> {
        Set(configs.values.flatMap { $0 }.flatMap { KubernetesPlan(config: $0, ownNamespace: ownNamespace).keys })
    }

    /// Discovers `configs` for `job` (replacing what the job had).
    public func subscribe(job: String, configs: [KubernetesSDConfig]) {
        mailbox.withLockedValue { $0.append(.subscribe(job: job, configs: configs)) }
        waker.yield()
    }

    public func unsubscribe(job: String) {
        mailbox.withLockedValue { $0.append(.unsubscribe(job: job)) }
        waker.yield()
    }

    /// Runs until cancelled.
    public func run() async {
        var state = State(discovery: self)
        let clock = ContinuousClock()
        var lastPass: ContinuousClock.Instant?
        for await _ in wake {
            if Task.isCancelled { break }
            if let lastPass {
                do { try await clock.sleep(until: lastPass + minPublishInterval) } catch { break }
            }
            lastPass = clock.now
            let commands = mailbox.withLockedValue { m in
                defer { m = [] }
                return m
            }
            for command in commands { state.apply(command) }
            let updates = await state.pass()
            if !updates.isEmpty { publish(updates) }
        }
        await state.stopAll()
    }

    fileprivate func signal() { waker.yield() }

    /// Everything the loop owns.
    private struct State {
        let discovery: KubernetesDiscovery
        var informers: [InformerKey: RunningInformer] = [:]
        var plans: [KubernetesSDConfig: PlanState] = [:]
        var jobs: [String: [KubernetesSDConfig]] = [:]

        init(discovery: KubernetesDiscovery) {
            self.discovery = discovery
        }

        var source: InformerSource { InformerSource(boxes: informers.mapValues(\.box)) }

        mutating func apply(_ command: Command) {
            switch command {
            case .subscribe(let job, let configs):
                // Subscribe first, then drop what the job no longer uses: plans and informers
                // both need stay up.
                for (i, config) in configs.enumerated() {
                    if plans[config] == nil {
                        let plan = KubernetesPlan(config: config, ownNamespace: discovery.ownNamespace)
                        for key in plan.keys { retain(key) }
                        plans[config] = PlanState(plan: plan)
                    }
                    plans[config]!.subscribers[Subscriber(job: job, provider: KubernetesDiscovery.provider(i))] = true
                }
                let previous = jobs[job] ?? []
                jobs[job] = configs
                for (i, config) in previous.enumerated() where i >= configs.count || configs[i] != config {
                    drop(Subscriber(job: job, provider: KubernetesDiscovery.provider(i)), from: config)
                }
            case .unsubscribe(let job):
                for (i, config) in (jobs.removeValue(forKey: job) ?? []).enumerated() {
                    drop(Subscriber(job: job, provider: KubernetesDiscovery.provider(i)), from: config)
                }
            }
        }

        /// Ends one subscription; a plan left without subscribers stops, and so do informers
        /// no plan needs any more.
        private mutating func drop(_ subscriber: Subscriber, from config: KubernetesSDConfig) {
            plans[config]?.subscribers[subscriber] = nil
            if plans[config]?.subscribers.isEmpty == true, let plan = plans.removeValue(forKey: config) {
                for key in plan.plan.keys { release(key) }
            }
        }

        private mutating func retain(_ key: InformerKey) {
            if informers[key] == nil {
                informers[key] = RunningInformer(key: key, discovery: discovery)
            }
            informers[key]!.references += 1
        }

        private mutating func release(_ key: InformerKey) {
            informers[key]?.references -= 1
            if let informer = informers[key], informer.references <= 0 {
                informers[key] = nil
                informer.stop()
            }
        }

        /// Recomputes what changed since the last pass; returns the updates to publish.
        mutating func pass() async -> [GroupUpdate] {
            var changed: [InformerKey: Set<String>] = [:]
            for (key, informer) in informers {
                let taken = informer.feed.take()
                if !taken.keys.isEmpty { changed[key] = taken.keys }
            }
            let source = self.source
            let synced = Set(informers.filter { $0.value.box.hasSynced }.keys)
            var updates: [GroupUpdate] = []
            var work = 0
            for config in Array(plans.keys) {
                // Taken out while it changes: a copy left in `plans` would make every change
                // to its groups copy all of them (100k entries per pass).
                guard var plan = plans.removeValue(forKey: config) else { continue }
                if !plan.active {
                    guard plan.plan.keys.allSatisfy(synced.contains) else {
                        plans[config] = plan
                        continue
                    }
                    plan.activate(source)
                    work += plan.digests.count
                } else {
                    work += plan.recompute(changed: changed, source: source)
                }
                updates += plan.updates(source)
                plans[config] = plan
                // Long passes (a first list of 100k pods) let other tasks run in between.
                if work > 2_000 {
                    work = 0
                    await Task.yield()
                }
            }
            return updates
        }

        func stopAll() async {
            for informer in informers.values { informer.stop() }
            for informer in informers.values { await informer.task.value }
        }
    }

    /// A job (and config position) a plan's groups go to.
    fileprivate struct Subscriber: Hashable {
        var job: String
        var provider: String
    }

    /// One distinct config: a digest of each source's group, and which groups read which
    /// objects. The groups themselves are not kept (at 100k pods they were the leader's largest
    /// cache, 3.3 KB per pod): a changed group goes out once, and a new subscriber's groups are
    /// computed again from the informers' caches.
    private struct PlanState {
        let plan: KubernetesPlan
        /// Each subscriber, and whether it still needs every group (its next update is complete).
        var subscribers: [Subscriber: Bool] = [:]
        var active = false
        /// Source → its group's digest, for the sources that have a group.
        var digests: [String: GroupDigest] = [:]
        /// Groups computed since the last update whose digest changed.
        var fresh: [String: TargetGroup] = [:]
        /// Source → the primary collection (a position in `plan.primaryKeys`: one of a few, and
        /// an `InformerKey` inline in every entry cost ~100 B per object) and object it comes from.
        var origins: [String: (primary: Int, object: String)] = [:]
        var dependencies: [String: Set<KubernetesDependency>] = [:]
        var dependents: [KubernetesDependency: Set<String>] = [:]
        /// Sources changed since the last update (a removed group has no digest).
        var dirty: Set<String> = []

        /// `plan.primaryKeys`, made once.
        let primaryKeys: [InformerKey]

        init(plan: KubernetesPlan) {
            self.plan = plan
            primaryKeys = plan.primaryKeys
        }

        mutating func activate(_ source: InformerSource) {
            active = true
            for key in primaryKeys {
                for object in source.keys(key) { compute(key, object, source) }
            }
            dirty = []
        }

        /// Recomputes the groups of changed primary objects and of the groups that read a
        /// changed object; returns how many groups it computed.
        mutating func recompute(changed: [InformerKey: Set<String>], source: InformerSource) -> Int {
            var todo: [(InformerKey, String)] = []
            let primary = Set(primaryKeys)
            for (key, objects) in changed {
                if primary.contains(key) { todo += objects.map { (key, $0) } }
                for object in objects {
                    for dependent in dependents[KubernetesDependency(informer: key, object: object)] ?? [] {
                        if let origin = origins[dependent] { todo.append((primaryKeys[origin.primary], origin.object)) }
                    }
                }
            }
            var done = Set<String>()
            for (key, object) in todo where done.insert(plan.sourcePrefix + "/" + object).inserted {
                compute(key, object, source)
            }
            return done.count
        }

        private mutating func compute(_ key: InformerKey, _ object: String, _ source: InformerSource) {
            let name = plan.sourcePrefix + "/" + object
            var found = Set<KubernetesDependency>()
            let group = plan.group(primary: key, object: object, in: source, dependencies: &found)
            let old = dependencies[name] ?? []
            if old != found {
                for d in old.subtracting(found) {
                    dependents[d]?.remove(name)
                    if dependents[d]?.isEmpty == true { dependents[d] = nil }
                }
                for d in found.subtracting(old) { dependents[d, default: []].insert(name) }
                dependencies[name] = found.isEmpty ? nil : found
            }
            // A gone object may still be depended on (its group reappears with it).
            if let primary = primaryKeys.firstIndex(of: key) { origins[name] = (primary, object) }
            let digest = group.map(GroupDigest.init)
            if digest != digests[name] {
                digests[name] = digest
                fresh[name] = group
                dirty.insert(name)
            }
            if group == nil && found.isEmpty { origins[name] = nil }
        }

        /// What to send: every group to new subscribers, the changed ones to the others.
        mutating func updates(_ source: InformerSource) -> [GroupUpdate] {
            defer {
                dirty = []
                fresh = [:]
            }
            guard active else { return [] }
            var out: [GroupUpdate] = []
            var all: [TargetGroup]?
            var changed: [TargetGroup]?
            for (subscriber, needsAll) in subscribers {
                if needsAll {
                    subscribers[subscriber] = false
                    if all == nil { all = allGroups(source) }
                    out.append(GroupUpdate(job: subscriber.job, provider: subscriber.provider, groups: all!, complete: true))
                } else if !dirty.isEmpty {
                    if changed == nil { changed = dirty.sorted { $0.bytesPrecede($1) }.map { fresh[$0] ?? TargetGroup(source: $0) } }
                    out.append(GroupUpdate(job: subscriber.job, provider: subscriber.provider, groups: changed!, complete: false))
                }
            }
            return out
        }

        /// Every source's group: fresh ones as computed, the others again from the caches.
        private func allGroups(_ source: InformerSource) -> [TargetGroup] {
            // The names are sorted, not the groups: moving a group in a merge sort retains its
            // three references each time, and 100k groups made that a twentieth of a first list.
            var names = Array(digests.keys)
            names.sort { $0.bytesPrecede($1) }
            var all: [TargetGroup] = []
            all.reserveCapacity(names.count)
            for name in names {
                if let group = fresh[name] {
                    all.append(group)
                } else if let origin = origins[name] {
                    var found = Set<KubernetesDependency>()
                    let key = primaryKeys[origin.primary]
                    if let group = plan.group(primary: key, object: origin.object, in: source, dependencies: &found) { all.append(group) }
                }
            }
            return all
        }
    }

    /// One running list+watch, its cache and the keys that changed in it.
    private struct RunningInformer {
        let box: any InformerBox
        let feed: ChangedKeys
        let task: Task<Void, Never>
        var references = 0

        init(key: InformerKey, discovery: KubernetesDiscovery) {
            box = discovery.makeBox(key)
            feed = box.changedKeys { [weak discovery] in discovery?.signal() }
            let box = self.box
            task = Task { await box.run() }
        }

        func stop() {
            feed.cancel()
            task.cancel()
        }
    }

    fileprivate func makeBox(_ key: InformerKey) -> any InformerBox {
        switch key.resource {
        case .pods: TypedInformerBox<Pod>(key: key, client: client, logger: logger)
        case .services: TypedInformerBox<Service>(key: key, client: client, logger: logger)
        case .endpoints: TypedInformerBox<Endpoints>(key: key, client: client, logger: logger)
        case .endpointslices: TypedInformerBox<EndpointSlice>(key: key, client: client, logger: logger)
        case .nodes: TypedInformerBox<Node>(key: key, client: client, logger: logger)
        case .namespaces: TypedInformerBox<Namespace>(key: key, client: client, logger: logger)
        case .replicasets: TypedInformerBox<ReplicaSet>(key: key, client: client, logger: logger)
        case .jobs: TypedInformerBox<BatchJob>(key: key, client: client, logger: logger)
        case .ingresses: TypedInformerBox<Ingress>(key: key, client: client, logger: logger)
        }
    }
}

/// Some of one provider's target groups for one job. `complete`: these are all its groups
/// (any other group the job had from this provider is gone); otherwise each group replaces
/// the one with the same source, and a group with neither labels nor targets removes it.
public struct GroupUpdate: Sendable {
    public var job: String
    public var provider: String
    public var groups: [TargetGroup]
    public var complete: Bool

    public init(job: String, provider: String, groups: [TargetGroup], complete: Bool) {
        self.job = job
        self.provider = provider
        self.groups = groups
        self.complete = complete
    }
}

/// An informer of some kind, behind one interface.
protocol InformerBox: Sendable {
    var hasSynced: Bool { get }
    func run() async
    func changedKeys(onChange: @escaping @Sendable () -> Void) -> ChangedKeys
    func keys() -> [String]
    func get<T: KubernetesObject>(_ type: T.Type, namespace: String?, name: String) -> T?
}

final class TypedInformerBox<O: KubernetesObject>: InformerBox {
    let informer: Informer<O>

    init(key: InformerKey, client: KubernetesClient, logger: Logger) {
        var options = Informer<O>.Options(namespace: key.namespace, labelSelector: key.labelSelector, fieldSelector: key.fieldSelector)
        options.pageSize = 500
        var logger = logger
        logger[metadataKey: "informer"] = "\(key)"
        informer = Informer<O>(client: client, options: options, logger: logger)
    }

    var hasSynced: Bool { informer.hasSynced }
    func run() async { await informer.run() }

    func changedKeys(onChange: @escaping @Sendable () -> Void) -> ChangedKeys {
        informer.changedKeys(onChange: onChange)
    }

    func keys() -> [String] { informer.keys() }

    func get<T: KubernetesObject>(_ type: T.Type, namespace: String?, name: String) -> T? {
        informer.get(namespace: namespace, name: name) as? T
    }
}

struct InformerSource: KubernetesObjectSource {
    let boxes: [InformerKey: any InformerBox]

    func keys(_ key: InformerKey) -> [String] {
        boxes[key]?.keys() ?? []
    }

    func get<T: KubernetesObject>(_ key: InformerKey, _ type: T.Type, namespace: String?, name: String) -> T? {
        boxes[key]?.get(type, namespace: namespace, name: name)
    }
}
