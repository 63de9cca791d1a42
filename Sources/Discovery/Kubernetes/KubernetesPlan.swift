public import KubernetesClient
import Foundation

/// The collections discovery lists and watches; configs that need the same one share it.
public struct InformerKey: Sendable, Hashable, CustomStringConvertible {
    public enum Resource: String, Sendable, Hashable {
        case pods, services, endpoints, endpointslices, nodes, namespaces, replicasets, jobs

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

    /// Every collection this config needs.
    var keys: [InformerKey] {
        let attach = config.attachMetadata
        var out: [InformerKey] = []
        if config.role == .node || attach.node && config.role != .service { out.append(nodes) }
        if attach.namespace && config.role != .node { out.append(namespaces) }
        if config.role == .node { return out }
        for scope in scopes {
            switch config.role {
            case .pod: out.append(pods(scope))
            case .service: out.append(services(scope))
            case .endpoints: out += [endpoints(scope), services(scope), pods(scope)]
            case .endpointslice: out += [endpointSlices(scope), services(scope), pods(scope)]
            case .node: break
            }
            if config.role != .service {
                if attach.deployment { out.append(replicaSets(scope)) }
                if attach.job || attach.cronjob { out.append(jobs(scope)) }
            }
        }
        var seen = Set<InformerKey>()
        return out.filter { seen.insert($0).inserted }
    }

    /// The groups this config yields over `source`, scope by scope, objects ordered by key.
    /// Groups with neither labels nor targets (Prometheus's "nothing here") are left out.
    func groups(_ source: some KubernetesObjectSource) -> [TargetGroup] {
        let attach = config.attachMetadata
        var out: [TargetGroup] = []
        func sorted<T: KubernetesObject>(_ items: [T]) -> [T] { items.sorted { $0.key < $1.key } }
        if config.role == .node {
            for node in sorted(source.list(nodes, Node.self)) {
                if let group = KubernetesTargets.node(node) { out.append(group) }
            }
            return out
        }
        for scope in scopes {
            var lookup = KubernetesLookup()
            if attach.node {
                let key = nodes
                lookup.node = { source.get(key, Node.self, namespace: nil, name: $0) }
            }
            if attach.namespace {
                let key = namespaces
                lookup.namespace = { source.get(key, Namespace.self, namespace: nil, name: $0) }
            }
            if config.role == .endpoints || config.role == .endpointslice {
                let podKey = pods(scope)
                let serviceKey = services(scope)
                lookup.pod = { source.get(podKey, Pod.self, namespace: $0, name: $1) }
                lookup.service = { source.get(serviceKey, Service.self, namespace: $0, name: $1) }
            }
            if attach.deployment {
                let key = replicaSets(scope)
                lookup.replicaSet = { source.get(key, ReplicaSet.self, namespace: $0, name: $1) }
            }
            if attach.job || attach.cronjob {
                let key = jobs(scope)
                lookup.job = { source.get(key, BatchJob.self, namespace: $0, name: $1) }
            }
            switch config.role {
            case .pod:
                for pod in sorted(source.list(pods(scope), Pod.self)) {
                    out.append(KubernetesTargets.pod(pod, attach: attach, lookup: lookup))
                }
            case .service:
                for service in sorted(source.list(services(scope), Service.self)) {
                    out.append(KubernetesTargets.service(service, attach: attach, lookup: lookup))
                }
            case .endpoints:
                for e in sorted(source.list(endpoints(scope), Endpoints.self)) {
                    out.append(KubernetesTargets.endpoints(e, attach: attach, lookup: lookup))
                }
            case .endpointslice:
                for s in sorted(source.list(endpointSlices(scope), EndpointSlice.self)) {
                    out.append(KubernetesTargets.endpointSlice(s, attach: attach, lookup: lookup))
                }
            case .node: break
            }
        }
        return out.filter { !$0.isEmpty }
    }
}

/// Read access to watched collections.
protocol KubernetesObjectSource {
    func list<T: KubernetesObject>(_ key: InformerKey, _ type: T.Type) -> [T]
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
            }
        return items.compactMap { $0 as? T }
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
