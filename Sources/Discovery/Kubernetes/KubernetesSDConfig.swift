public import JSON

/// What a `kubernetes_sd_configs` entry discovers.
public enum KubernetesRole: String, Sendable, Hashable, CaseIterable {
    case pod, service, endpoints, endpointslice, node, ingress

    /// The roles whose `selectors` a config of this role accepts (as Prometheus validates them).
    var allowedSelectorRoles: [KubernetesRole] {
        switch self {
        case .pod: [.pod, .node]
        case .service: [.service]
        case .endpoints: [.pod, .service, .endpoints]
        case .endpointslice: [.pod, .service, .endpointslice]
        case .node: [.node]
        case .ingress: [.ingress]
        }
    }
}

/// One `kubernetes_sd_configs` entry, with the options discovery interprets. Connection options
/// (`api_server`, `kubeconfig_file`, HTTP client settings) are kept for reference only: the
/// allocator discovers through its own cluster connection.
public struct KubernetesSDConfig: Sendable, Hashable {
    public struct Namespaces: Sendable, Hashable {
        public var names: [String]
        public var ownNamespace: Bool

        public init(names: [String] = [], ownNamespace: Bool = false) {
            self.names = names
            self.ownNamespace = ownNamespace
        }
    }

    public struct Selector: Sendable, Hashable {
        public var role: KubernetesRole
        public var label: String?
        public var field: String?

        public init(role: KubernetesRole, label: String? = nil, field: String? = nil) {
            self.role = role
            self.label = label
            self.field = field
        }
    }

    public struct AttachMetadata: Sendable, Hashable {
        public var node: Bool
        public var namespace: Bool
        public var deployment: Bool
        public var job: Bool
        public var cronjob: Bool

        public init(node: Bool = false, namespace: Bool = false, deployment: Bool = false, job: Bool = false, cronjob: Bool = false) {
            self.node = node
            self.namespace = namespace
            self.deployment = deployment
            self.job = job
            self.cronjob = cronjob
        }
    }

    public var role: KubernetesRole
    public var namespaces: Namespaces
    public var selectors: [Selector]
    public var attachMetadata: AttachMetadata
    public var apiServer: String?
    public var kubeconfigFile: String?

    public init(
        role: KubernetesRole, namespaces: Namespaces = Namespaces(), selectors: [Selector] = [], attachMetadata: AttachMetadata = AttachMetadata()
    ) {
        self.role = role
        self.namespaces = namespaces
        self.selectors = selectors
        self.attachMetadata = attachMetadata
    }

    /// The selector a config sets for `role`, if any.
    public func selector(for role: KubernetesRole) -> Selector? {
        selectors.first { $0.role == role }
    }

    /// The namespaces to watch, `nil` meaning all of them (Prometheus's `getNamespaces`, without
    /// duplicates): the listed names, plus the allocator's own namespace with `own_namespace`.
    public func watchedNamespaces(ownNamespace: String) -> [String?] {
        if namespaces.names.isEmpty && !namespaces.ownNamespace { return [nil] }
        var out: [String] = namespaces.names
        if namespaces.ownNamespace && !ownNamespace.isEmpty { out.append(ownNamespace) }
        var seen = Set<String>()
        return out.filter { seen.insert($0).inserted }
    }

    /// Parses one entry as Prometheus reads it from YAML (here as JSON). Problems are
    /// appended with their path; nil when the entry is unusable.
    public init?(json: JSONValue, problems: inout [String], path: String) {
        guard case .object = json else {
            problems.append("\(path): must be a mapping")
            return nil
        }
        let start = problems.count
        func string(_ value: JSONValue?, _ at: String) -> String? {
            guard let value, value != .null else { return nil }
            guard let s = value.stringValue else {
                problems.append("\(at): must be a string")
                return nil
            }
            return s
        }
        func bool(_ value: JSONValue?, _ at: String) -> Bool {
            switch value {
            case nil, .null?: return false
            case .bool(let b)?: return b
            default:
                problems.append("\(at): must be a boolean")
                return false
            }
        }

        var role = KubernetesRole.pod
        switch string(json["role"], "\(path).role") {
        case nil, ""?:
            problems.append("\(path).role: role missing (one of: pod, service, endpoints, endpointslice, node, ingress)")
        case let name?:
            if let r = KubernetesRole(rawValue: name) {
                role = r
            } else {
                problems.append("\(path).role: unknown Kubernetes SD role \"\(name)\"")
            }
        }

        var namespaces = Namespaces()
        if let ns = json["namespaces"], ns != .null {
            if case .object = ns {
                namespaces.ownNamespace = bool(ns["own_namespace"], "\(path).namespaces.own_namespace")
                switch ns["names"] {
                case nil, .null?: break
                case .array(let items)?:
                    for (i, item) in items.enumerated() {
                        if let name = string(item, "\(path).namespaces.names[\(i)]") { namespaces.names.append(name) }
                    }
                default: problems.append("\(path).namespaces.names: must be a list")
                }
            } else {
                problems.append("\(path).namespaces: must be a mapping")
            }
        }

        var selectors: [Selector] = []
        switch json["selectors"] {
        case nil, .null?: break
        case .array(let items)?:
            for (i, item) in items.enumerated() {
                let at = "\(path).selectors[\(i)]"
                guard case .object = item else {
                    problems.append("\(at): must be a mapping")
                    continue
                }
                guard let roleName = string(item["role"], "\(at).role"), let selectorRole = KubernetesRole(rawValue: roleName) else {
                    problems.append("\(at).role: must be one of pod, service, endpoints, endpointslice, node, ingress")
                    continue
                }
                if selectors.contains(where: { $0.role == selectorRole }) {
                    problems.append("\(at): duplicated selector role: \(roleName)")
                    continue
                }
                if !role.allowedSelectorRoles.contains(selectorRole) {
                    problems.append(
                        "\(at): \(role.rawValue) role supports only \(role.allowedSelectorRoles.map(\.rawValue).joined(separator: ", ")) selectors")
                    continue
                }
                let label = string(item["label"], "\(at).label").flatMap { $0.isEmpty ? nil : $0 }
                let field = string(item["field"], "\(at).field").flatMap { $0.isEmpty ? nil : $0 }
                selectors.append(Selector(role: selectorRole, label: label, field: field))
            }
        default: problems.append("\(path).selectors: must be a list")
        }

        var attach = AttachMetadata()
        if let a = json["attach_metadata"], a != .null {
            if case .object = a {
                attach.node = bool(a["node"], "\(path).attach_metadata.node")
                attach.namespace = bool(a["namespace"], "\(path).attach_metadata.namespace")
                attach.deployment = bool(a["deployment"], "\(path).attach_metadata.deployment")
                attach.job = bool(a["job"], "\(path).attach_metadata.job")
                attach.cronjob = bool(a["cronjob"], "\(path).attach_metadata.cronjob")
            } else {
                problems.append("\(path).attach_metadata: must be a mapping")
            }
        }

        apiServer = string(json["api_server"], "\(path).api_server").flatMap { $0.isEmpty ? nil : $0 }
        kubeconfigFile = string(json["kubeconfig_file"], "\(path).kubeconfig_file").flatMap { $0.isEmpty ? nil : $0 }
        if apiServer != nil && kubeconfigFile != nil {
            problems.append("\(path): cannot use 'kubeconfig_file' and 'api_server' simultaneously")
        }
        if namespaces.ownNamespace && apiServer != nil {
            problems.append("\(path): cannot use 'api_server' and 'namespaces.own_namespace' simultaneously")
        }
        if namespaces.ownNamespace && kubeconfigFile != nil {
            problems.append("\(path): cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously")
        }
        guard problems.count == start else { return nil }
        self.role = role
        self.namespaces = namespaces
        self.selectors = selectors
        self.attachMetadata = attach
    }
}
