/// networking.k8s.io/v1 Ingress: only what the `ingress` role of Kubernetes service discovery
/// reads (class, TLS hosts, rules with their hosts and paths).
public struct Ingress: KubernetesObject, Hashable {
    public static let resource = ResourceType(group: "networking.k8s.io", version: "v1", plural: "ingresses", kind: "Ingress", namespaced: true)
    public var metadata: ObjectMeta
    public var spec: Spec?

    public init(metadata: ObjectMeta, spec: Spec? = nil) {
        self.metadata = metadata
        self.spec = spec
    }

    public struct Spec: Codable, Sendable, Hashable {
        public var ingressClassName: String?
        public var tls: [TLS]?
        public var rules: [Rule]?

        public init(ingressClassName: String? = nil, tls: [TLS]? = nil, rules: [Rule]? = nil) {
            self.ingressClassName = ingressClassName
            self.tls = tls
            self.rules = rules
        }
    }

    public struct TLS: Codable, Sendable, Hashable {
        public var hosts: [String]?

        public init(hosts: [String]? = nil) { self.hosts = hosts }
    }

    public struct Rule: Codable, Sendable, Hashable {
        public var host: String?
        /// Absent and present-but-empty differ: a rule without `http` is scraped at `/`, one
        /// with an `http` block but no paths is not scraped at all (as Prometheus reads them).
        public var http: HTTP?

        public init(host: String? = nil, http: HTTP? = nil) {
            self.host = host
            self.http = http
        }
    }

    public struct HTTP: Codable, Sendable, Hashable {
        public var paths: [Path]?

        public init(paths: [Path]? = nil) { self.paths = paths }
    }

    public struct Path: Codable, Sendable, Hashable {
        public var path: String?

        public init(path: String? = nil) { self.path = path }
    }
}
