import JSON

/// How the emulator serves one resource: its URL, kind, scope and the registry-strategy
/// flags of the real API server (see the semantics reference, section B.1).
public struct ResourceDefinition: Sendable, Hashable {
    public enum NameRule: Sendable, Hashable {
        case dns1123Subdomain, dns1123Label, dns1035Label
    }

    public let group: String
    public let version: String
    public let plural: String
    public let singular: String
    public let kind: String
    public let namespaced: Bool
    public let shortNames: [String]
    public let categories: [String]
    /// Has a `/status` subresource: the main resource ignores status changes and `/status` ignores the rest.
    public let hasStatus: Bool
    /// A custom resource (CRD-backed): list items carry kind/apiVersion, no strategic merge.
    public let custom: Bool
    public let allowCreateOnUpdate: Bool
    public let allowUnconditionalUpdate: Bool
    /// DELETE answers with the deleted object rather than a Success Status.
    public let returnsDeletedObject: Bool
    /// `metadata.generation` starts at 1 and increases with every spec change.
    public let tracksGeneration: Bool
    public let nameRule: NameRule
    /// Field selector labels beyond metadata.name/metadata.namespace, with their extractors.
    let extraFields: [String: @Sendable (JSONValue) -> String]

    init(
        group: String, version: String, plural: String, singular: String, kind: String, namespaced: Bool, shortNames: [String] = [],
        categories: [String] = [], hasStatus: Bool = false, custom: Bool = false, allowCreateOnUpdate: Bool = false,
        allowUnconditionalUpdate: Bool = true, returnsDeletedObject: Bool = false, tracksGeneration: Bool = false,
        nameRule: NameRule = .dns1123Subdomain, extraFields: [String: @Sendable (JSONValue) -> String] = [:]
    ) {
        self.group = group
        self.version = version
        self.plural = plural
        self.singular = singular
        self.kind = kind
        self.namespaced = namespaced
        self.shortNames = shortNames
        self.categories = categories
        self.hasStatus = hasStatus
        self.custom = custom
        self.allowCreateOnUpdate = allowCreateOnUpdate
        self.allowUnconditionalUpdate = allowUnconditionalUpdate
        self.returnsDeletedObject = returnsDeletedObject
        self.tracksGeneration = tracksGeneration
        self.nameRule = nameRule
        self.extraFields = extraFields
    }

    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    public var listKind: String { kind + "List" }
    /// `leases.coordination.k8s.io`, or `configmaps` for the core group (error messages).
    public var qualifiedResource: String { group.isEmpty ? plural : "\(plural).\(group)" }
    /// `Lease.coordination.k8s.io`, or `ConfigMap` (Invalid error messages).
    public var qualifiedKind: String { group.isEmpty ? kind : "\(kind).\(group)" }
    /// Storage key of the resource.
    var id: String { "\(group)/\(plural)" }

    public static func == (a: ResourceDefinition, b: ResourceDefinition) -> Bool { a.id == b.id && a.version == b.version }
    public func hash(into h: inout Hasher) { h.combine(id) }
}

extension ResourceDefinition {
    private static func field(_ path: String...) -> @Sendable (JSONValue) -> String {
        { object in
            var v: JSONValue? = object
            for p in path { v = v?[p] }
            switch v {
            case .string(let s)?: return s
            case .bool(let b)?: return b ? "true" : "false"
            case .number(let n)?: return n
            default: return ""
            }
        }
    }

    private static let monitoringCategories = ["prometheus-operator"]

    /// Everything the emulator serves.
    public static let all: [ResourceDefinition] = [
        ResourceDefinition(
            group: "", version: "v1", plural: "pods", singular: "pod", kind: "Pod", namespaced: true, shortNames: ["po"], categories: ["all"],
            hasStatus: true, returnsDeletedObject: true, tracksGeneration: true,
            extraFields: [
                "spec.nodeName": field("spec", "nodeName"), "spec.restartPolicy": field("spec", "restartPolicy"),
                "spec.schedulerName": field("spec", "schedulerName"), "spec.serviceAccountName": field("spec", "serviceAccountName"),
                "spec.hostNetwork": { o in o.at("spec", "hostNetwork")?.boolValue == true ? "true" : "false" },
                "status.phase": field("status", "phase"), "status.podIP": field("status", "podIP"),
                "status.nominatedNodeName": field("status", "nominatedNodeName"),
            ]),
        ResourceDefinition(
            group: "", version: "v1", plural: "services", singular: "service", kind: "Service", namespaced: true, shortNames: ["svc"],
            categories: ["all"], hasStatus: true, allowCreateOnUpdate: true, returnsDeletedObject: true, nameRule: .dns1035Label),
        ResourceDefinition(
            group: "", version: "v1", plural: "endpoints", singular: "endpoints", kind: "Endpoints", namespaced: true, shortNames: ["ep"],
            allowCreateOnUpdate: true),
        ResourceDefinition(
            group: "", version: "v1", plural: "configmaps", singular: "configmap", kind: "ConfigMap", namespaced: true, shortNames: ["cm"]),
        ResourceDefinition(
            group: "", version: "v1", plural: "secrets", singular: "secret", kind: "Secret", namespaced: true,
            extraFields: ["type": field("type")]),
        ResourceDefinition(
            group: "", version: "v1", plural: "nodes", singular: "node", kind: "Node", namespaced: false, shortNames: ["no"], hasStatus: true,
            extraFields: ["spec.unschedulable": { o in o.at("spec", "unschedulable")?.boolValue == true ? "true" : "false" }]),
        ResourceDefinition(
            group: "", version: "v1", plural: "namespaces", singular: "namespace", kind: "Namespace", namespaced: false, shortNames: ["ns"],
            hasStatus: true, returnsDeletedObject: true, nameRule: .dns1123Label, extraFields: ["status.phase": field("status", "phase")]),
        ResourceDefinition(
            group: "discovery.k8s.io", version: "v1", plural: "endpointslices", singular: "endpointslice", kind: "EndpointSlice",
            namespaced: true),
        // Read by the `ingress` role of Kubernetes service discovery. Stored as it comes: the
        // spec is not validated (a real server requires each path's pathType and backend).
        ResourceDefinition(
            group: "networking.k8s.io", version: "v1", plural: "ingresses", singular: "ingress", kind: "Ingress", namespaced: true,
            shortNames: ["ing"], hasStatus: true, tracksGeneration: true),
        ResourceDefinition(
            group: "coordination.k8s.io", version: "v1", plural: "leases", singular: "lease", kind: "Lease", namespaced: true,
            allowCreateOnUpdate: true, allowUnconditionalUpdate: false),
        ResourceDefinition(
            group: "monitoring.coreos.com", version: "v1", plural: "servicemonitors", singular: "servicemonitor", kind: "ServiceMonitor",
            namespaced: true, shortNames: ["smon"], categories: monitoringCategories, hasStatus: true, custom: true,
            allowUnconditionalUpdate: false, returnsDeletedObject: true, tracksGeneration: true),
        ResourceDefinition(
            group: "monitoring.coreos.com", version: "v1", plural: "podmonitors", singular: "podmonitor", kind: "PodMonitor",
            namespaced: true, shortNames: ["pmon"], categories: monitoringCategories, hasStatus: true, custom: true,
            allowUnconditionalUpdate: false, returnsDeletedObject: true, tracksGeneration: true),
        ResourceDefinition(
            group: "monitoring.coreos.com", version: "v1", plural: "probes", singular: "probe", kind: "Probe",
            namespaced: true, shortNames: ["prb"], categories: monitoringCategories, hasStatus: true, custom: true,
            allowUnconditionalUpdate: false, returnsDeletedObject: true, tracksGeneration: true),
        ResourceDefinition(
            group: "monitoring.coreos.com", version: "v1alpha1", plural: "scrapeconfigs", singular: "scrapeconfig", kind: "ScrapeConfig",
            namespaced: true, shortNames: ["scfg"], categories: monitoringCategories, hasStatus: true, custom: true,
            allowUnconditionalUpdate: false, returnsDeletedObject: true, tracksGeneration: true),
        // The kinds `deploy/` installs, so `kubectl apply -k deploy/base` works against the emulator.
        // Stored as they come: no controllers act on them and only metadata is validated.
        ResourceDefinition(
            group: "", version: "v1", plural: "serviceaccounts", singular: "serviceaccount", kind: "ServiceAccount", namespaced: true,
            shortNames: ["sa"]),
        ResourceDefinition(
            group: "apps", version: "v1", plural: "deployments", singular: "deployment", kind: "Deployment", namespaced: true,
            shortNames: ["deploy"], categories: ["all"], hasStatus: true, tracksGeneration: true),
        ResourceDefinition(
            group: "apps", version: "v1", plural: "statefulsets", singular: "statefulset", kind: "StatefulSet", namespaced: true,
            shortNames: ["sts"], categories: ["all"], hasStatus: true, tracksGeneration: true),
        ResourceDefinition(
            group: "policy", version: "v1", plural: "poddisruptionbudgets", singular: "poddisruptionbudget", kind: "PodDisruptionBudget",
            namespaced: true, shortNames: ["pdb"], hasStatus: true, tracksGeneration: true),
        ResourceDefinition(
            group: "rbac.authorization.k8s.io", version: "v1", plural: "roles", singular: "role", kind: "Role", namespaced: true),
        ResourceDefinition(
            group: "rbac.authorization.k8s.io", version: "v1", plural: "rolebindings", singular: "rolebinding", kind: "RoleBinding",
            namespaced: true),
        ResourceDefinition(
            group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterroles", singular: "clusterrole", kind: "ClusterRole",
            namespaced: false),
        ResourceDefinition(
            group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterrolebindings", singular: "clusterrolebinding",
            kind: "ClusterRoleBinding", namespaced: false),
    ]

    static func find(group: String, version: String, plural: String) -> ResourceDefinition? {
        all.first { $0.group == group && $0.version == version && $0.plural == plural }
    }

    public static func named(_ plural: String, group: String = "") -> ResourceDefinition {
        all.first { $0.group == group && $0.plural == plural }!
    }

    public static let pods = named("pods")
    public static let services = named("services")
    public static let endpoints = named("endpoints")
    public static let configMaps = named("configmaps")
    public static let secrets = named("secrets")
    public static let nodes = named("nodes")
    public static let namespaces = named("namespaces")
    public static let endpointSlices = named("endpointslices", group: "discovery.k8s.io")
    public static let ingresses = named("ingresses", group: "networking.k8s.io")
    public static let leases = named("leases", group: "coordination.k8s.io")
    public static let serviceMonitors = named("servicemonitors", group: "monitoring.coreos.com")
    public static let podMonitors = named("podmonitors", group: "monitoring.coreos.com")
    public static let probes = named("probes", group: "monitoring.coreos.com")
    public static let scrapeConfigs = named("scrapeconfigs", group: "monitoring.coreos.com")
    public static let serviceAccounts = named("serviceaccounts")
    public static let deployments = named("deployments", group: "apps")
    public static let statefulSets = named("statefulsets", group: "apps")
    public static let podDisruptionBudgets = named("poddisruptionbudgets", group: "policy")
    public static let roles = named("roles", group: "rbac.authorization.k8s.io")
    public static let roleBindings = named("rolebindings", group: "rbac.authorization.k8s.io")
    public static let clusterRoles = named("clusterroles", group: "rbac.authorization.k8s.io")
    public static let clusterRoleBindings = named("clusterrolebindings", group: "rbac.authorization.k8s.io")
}
