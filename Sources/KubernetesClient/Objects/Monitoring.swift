public import JSON

// prometheus-operator custom resources. Their specs are large and evolve; they are kept as
// JSON here and interpreted by discovery, which knows which fields it honours.

public struct ServiceMonitor: KubernetesObject, Hashable {
    public static let resource = ResourceType(
        group: "monitoring.coreos.com", version: "v1", plural: "servicemonitors", kind: "ServiceMonitor", namespaced: true)
    public var apiVersion: String? = "monitoring.coreos.com/v1"
    public var kind: String? = "ServiceMonitor"
    public var metadata: ObjectMeta
    public var spec: JSONValue

    public init(metadata: ObjectMeta, spec: JSONValue) {
        self.metadata = metadata
        self.spec = spec
    }
}

public struct PodMonitor: KubernetesObject, Hashable {
    public static let resource = ResourceType(
        group: "monitoring.coreos.com", version: "v1", plural: "podmonitors", kind: "PodMonitor", namespaced: true)
    public var apiVersion: String? = "monitoring.coreos.com/v1"
    public var kind: String? = "PodMonitor"
    public var metadata: ObjectMeta
    public var spec: JSONValue

    public init(metadata: ObjectMeta, spec: JSONValue) {
        self.metadata = metadata
        self.spec = spec
    }
}

public struct Probe: KubernetesObject, Hashable {
    public static let resource = ResourceType(group: "monitoring.coreos.com", version: "v1", plural: "probes", kind: "Probe", namespaced: true)
    public var apiVersion: String? = "monitoring.coreos.com/v1"
    public var kind: String? = "Probe"
    public var metadata: ObjectMeta
    public var spec: JSONValue

    public init(metadata: ObjectMeta, spec: JSONValue) {
        self.metadata = metadata
        self.spec = spec
    }
}

public struct ScrapeConfig: KubernetesObject, Hashable {
    public static let resource = ResourceType(
        group: "monitoring.coreos.com", version: "v1alpha1", plural: "scrapeconfigs", kind: "ScrapeConfig", namespaced: true)
    public var apiVersion: String? = "monitoring.coreos.com/v1alpha1"
    public var kind: String? = "ScrapeConfig"
    public var metadata: ObjectMeta
    public var spec: JSONValue

    public init(metadata: ObjectMeta, spec: JSONValue) {
        self.metadata = metadata
        self.spec = spec
    }
}
