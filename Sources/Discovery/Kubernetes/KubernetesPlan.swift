public import KubernetesClient
import Foundation

/// The collections discovery lists and watches; configs that need the same one share it.
public struct InformerKey: Sendable, Hashable, CustomStringConvertible {
    public enum Resource: String, Sendable, Hashable {
        case pods, services, endpoints, endpointslices, nodes, namespaces, replicasets, jobs, ingresses

        var namespaced: Bool { self != .nodes && self != .namespaces }
    }

    public var resource: Resource
    /// nil: every namespace (or a cluster-scoped resource).
    public var namespace: String?
    public var labelSelector: String?
    public var fieldSelector: String?

    public init(_ resource: Resource, namespace: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil) {
        self.resource = resource
        self.namespace = resource.namespaced ? namespace : nil
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
    }

    public var description: String {
        var s = resource.rawValue
        if let namespace { s += " in \(namespace)" }
        if let labelSelector { s += " labels \(labelSelector)" }
        if let fieldSelector { s += " fields \(fieldSelector)" }
        return s
    }
}

/// What one config watches, namespace by namespace, as Prometheus sets its informers up.
struct KubernetesPlan: Sendable {
    var config: KubernetesSDConfig
    /// The watched namespaces (`nil` = all).
    var scopes: [String?]

    init(config: KubernetesSDConfig, ownNamespace: String) {
        self.config = config
        self.scopes = config.watchedNamespaces(ownNamespace: ownNamespace)
    }

    private func key(_ resource: InformerKey.Resource, _ role: KubernetesRole?, _ scope: String?) -> InformerKey {
        let selector = role.flatMap { config.selector(for: $0) }
        return InformerKey(resource, namespace: scope, labelSelector: selector?.label, fieldSelector: selector?.field)
    }

    func pods(_ scope: String?) -> InformerKey { key(.pods, .pod, scope) }
    func services(_ scope: String?) -> InformerKey { key(.services, .service, scope) }
    func endpoints(_ scope: String?) -> InformerKey { key(.endpoints, .endpoints, scope) }
    func endpointSlices(_ scope: String?) -> InformerKey { key(.endpointslices, .endpointslice, scope) }
    var nodes: InformerKey { key(.nodes, .node, nil) }
    var namespaces: InformerKey { key(.namespaces, nil, nil) }
    func replicaSets(_ scope: String?) -> InformerKey { key(.replicasets, nil, scope) }
    func jobs(_ scope: String?) -> InformerKey { key(.jobs, nil, scope) }
    func ingresses(_ scope: String?) -> InformerKey { key(.ingresses, .ingress, scope) }

    /// Every collection this config needs.
    var keys: [InformerKey] {
        let attach = config.attachMetadata
        var out: [InformerKey] = []
        if config.role == .node || attach.node && config.role != .service && config.role != .ingress { out.append(nodes) }
        if attach.namespace && config.role != .node { out.append(namespaces) }
        if config.role == .node { return out }
        for scope in scopes {
            switch config.role {
            case .pod: out.append(pods(scope))
            case .service: out.append(services(scope))
            case .endpoints: out += [endpoints(scope), services(scope), pods(scope)]
            case .endpointslice: out += [endpointSlices(scope), services(scope), pods(scope)]
            case .ingress: out.append(ingresses(scope))
            case .node: break
            }
            if config.role != .service && config.role != .ingress {
                if attach.deployment { out.append(replicaSets(scope)) }
                if attach.job || attach.cronjob { out.append(jobs(scope)) }
            }
        }
        var seen = Set<InformerKey>()
        return out.filter { seen.insert($0).inserted }
    }

    /// The collections whose objects each yield one group (one per scope).
    var primaryKeys: [InformerKey] {
        switch config.role {
        case .node: [nodes]
        case .pod: scopes.map(pods)
        case .service: scopes.map(services)
        case .endpoints: scopes.map(endpoints)
        case .endpointslice: scopes.map(endpointSlices)
        case .ingress: scopes.map(ingresses)
        }
    }

    /// The group sources of this role: `<prefix>/<namespace>/<name>` (`node/<name>`), as Prometheus names them.
    var sourcePrefix: String {
        switch config.role {
        case .node: "node"
        case .pod: "pod"
        case .service: "svc"
        case .endpoints: "endpoints"
        case .endpointslice: "endpointslice"
        case .ingress: "ingress"
        }
    }

    /// The group of one object of a primary collection (nil when the object is gone or yields
    /// nothing), with every related object it looked up added to `dependencies`: a change of
    /// any of them changes the group.
    func group(
        primary key: InformerKey, object: String, in source: some KubernetesObjectSource, dependencies: inout Set<KubernetesDependency>
    ) -> TargetGroup? {
        let (namespace, name) = KubernetesDependency.split(object)
        let recorder = DependencyRecorder()
        let lookup = self.lookup(scope: key.namespace, source: source, recorder: recorder)
        let attach = config.attachMetadata
        let group: TargetGroup?
        switch config.role {
        case .node:
            group = source.get(key, Node.self, namespace: nil, name: name).flatMap { KubernetesTargets.node($0) }
        case .pod:
            group = source.get(key, Pod.self, namespace: namespace, name: name).map { KubernetesTargets.pod($0, attach: attach, lookup: lookup) }
        case .service:
            group = source.get(key, Service.self, namespace: namespace, name: name).map {
                KubernetesTargets.service($0, attach: attach, lookup: lookup)
            }
        case .endpoints:
            group = source.get(key, Endpoints.self, namespace: namespace, name: name).map {
                KubernetesTargets.endpoints($0, attach: attach, lookup: lookup)
            }
        case .endpointslice:
            group = source.get(key, EndpointSlice.self, namespace: namespace, name: name).map {
                KubernetesTargets.endpointSlice($0, attach: attach, lookup: lookup)
            }
        case .ingress:
            group = source.get(key, Ingress.self, namespace: namespace, name: name).map {
                KubernetesTargets.ingress($0, attach: attach, lookup: lookup)
            }
        }
        dependencies.formUnion(recorder.dependencies)
        guard let group, !group.isEmpty else { return nil }
        return group
    }

    /// Lookups of related objects for the objects of one scope; each records what it read
    /// (found or not: an object that appears later changes the group too).
    private func lookup(scope: String?, source: some KubernetesObjectSource, recorder: DependencyRecorder) -> KubernetesLookup {
        let attach = config.attachMetadata
        var lookup = KubernetesLookup()
        func recorded<T: KubernetesObject>(_ key: InformerKey, _ type: T.Type, _ namespace: String?, _ name: String) -> T? {
            recorder.dependencies.insert(KubernetesDependency(informer: key, object: namespace.map { "\($0)/\(name)" } ?? name))
            return source.get(key, type, namespace: namespace, name: name)
        }
        if attach.node {
            let key = nodes
            lookup.node = { recorded(key, Node.self, nil, $0) }
        }
        if attach.namespace {
            let key = namespaces
            lookup.namespace = { recorded(key, Namespace.self, nil, $0) }
        }
        if config.role == .endpoints || config.role == .endpointslice {
            let podKey = pods(scope)
            let serviceKey = services(scope)
            lookup.pod = { recorded(podKey, Pod.self, $0, $1) }
            lookup.service = { recorded(serviceKey, Service.self, $0, $1) }
        }
        if attach.deployment {
            let key = replicaSets(scope)
            lookup.replicaSet = { recorded(key, ReplicaSet.self, $0, $1) }
        }
        if attach.job || attach.cronjob {
            let key = jobs(scope)
            lookup.job = { recorded(key, BatchJob.self, $0, $1) }
        }
        return lookup
    }

    /// Every group this config yields over `source`, scope by scope, objects ordered by key.
    func groups(_ source: some KubernetesObjectSource) -> [TargetGroup] {
        var out: [TargetGroup] = []
        var ignored = Set<KubernetesDependency>()
        for key in primaryKeys {
            for object in source.keys(key).sorted() {
                if let group = group(primary: key, object: object, in: source, dependencies: &ignored) { out.append(group) }
            }
        }
        return out
    }
}

/// A related object a group was built from: a change of it recomputes the group.
struct KubernetesDependency: Hashable, Sendable {
    var informer: InformerKey
    /// `namespace/name`, or `name` for cluster-scoped objects.
    var object: String

    static func split(_ object: String) -> (namespace: String?, name: String) {
        guard let slash = object.firstIndex(of: "/") else { return (nil, object) }
        return (String(object[..<slash]), String(object[object.index(after: slash)...]))
    }
}

/// Collects the lookups one group computation makes.
final class DependencyRecorder {
    var dependencies = Set<KubernetesDependency>()
}

/// Read access to watched collections.
protocol KubernetesObjectSource {
    /// The keys (`namespace/name` or `name`) of every object in a collection.
    func keys(_ key: InformerKey) -> [String]
    func get<T: KubernetesObject>(_ key: InformerKey, _ type: T.Type, namespace: String?, name: String) -> T?
}

/// A fixed set of objects, for computing what discovery would publish without a cluster.
public struct KubernetesObjects: Sendable {
    public var pods: [Pod] = []
    public var services: [Service] = []
    public var endpoints: [Endpoints] = []
    public var endpointSlices: [EndpointSlice] = []
    public var nodes: [Node] = []
    public var namespaces: [Namespace] = []
    public var replicaSets: [ReplicaSet] = []
    public var jobs: [BatchJob] = []
    public var ingresses: [Ingress] = []

    public init() {}
}

extension KubernetesTargets {
    /// The groups discovery would publish for `config` if the cluster held exactly `objects`.
    /// Namespaces and equality/existence label selectors (`k=v`, `k!=v`, `k`, `!k`) are
    /// honoured; field selectors and set-based label selectors are left to the API server
    /// and ignored here.
    public static func groups(config: KubernetesSDConfig, ownNamespace: String, objects: KubernetesObjects) -> [TargetGroup] {
        KubernetesPlan(config: config, ownNamespace: ownNamespace).groups(objects)
    }
}

extension KubernetesObjects: KubernetesObjectSource {
    func all<T: KubernetesObject>(_ resource: InformerKey.Resource, _ type: T.Type) -> [T] {
        let items: [any KubernetesObject] =
            switch resource {
            case .pods: pods
            case .services: services
            case .endpoints: endpoints
            case .endpointslices: endpointSlices
            case .nodes: nodes
            case .namespaces: namespaces
            case .replicasets: replicaSets
            case .jobs: jobs
            case .ingresses: ingresses
            }
        return items.compactMap { $0 as? T }
    }

    func keys(_ key: InformerKey) -> [String] {
        let items: [any KubernetesObject] =
            switch key.resource {
            case .pods: list(key, Pod.self)
            case .services: list(key, Service.self)
            case .endpoints: list(key, Endpoints.self)
            case .endpointslices: list(key, EndpointSlice.self)
            case .nodes: list(key, Node.self)
            case .namespaces: list(key, Namespace.self)
            case .replicasets: list(key, ReplicaSet.self)
            case .jobs: list(key, BatchJob.self)
            case .ingresses: list(key, Ingress.self)
            }
        return items.map(\.key)
    }

    func list<T: KubernetesObject>(_ key: InformerKey, _ type: T.Type) -> [T] {
        all(key.resource, type).filter { item in
            if let ns = key.namespace, item.namespace != ns { return false }
            if let selector = key.labelSelector, !Self.matches(selector, item.metadata.labels ?? [:]) { return false }
            return true
        }
    }

    func get<T: KubernetesObject>(_ key: InformerKey, _ type: T.Type, namespace: String?, name: String) -> T? {
        list(key, type).first { $0.name == name && (key.resource.namespaced ? $0.namespace == namespace : true) }
    }

    static func matches(_ selector: String, _ labels: [String: String]) -> Bool {
        for raw in selector.split(separator: ",") {
            let term = raw.trimmingCharacters(in: .whitespaces)
            if term.isEmpty { continue }
            if let r = term.range(of: "!=") {
                let k = term[..<r.lowerBound].trimmingCharacters(in: .whitespaces)
                let v = term[r.upperBound...].trimmingCharacters(in: .whitespaces)
                if labels[k] == v { return false }
            } else if let r = term.range(of: "=") {
                let k = term[..<r.lowerBound].trimmingCharacters(in: .whitespaces)
                let v = term[r.upperBound...].trimmingCharacters(in: .whitespaces).trimmingPrefix("=")
                    .trimmingCharacters(in: .whitespaces)
                if labels[k] != v { return false }
            } else if term.hasPrefix("!") {
                if labels[String(term.dropFirst()).trimmingCharacters(in: .whitespaces)] != nil { return false }
            } else if labels[term] == nil {
                return false
            }
        }
        return true
    }
}
