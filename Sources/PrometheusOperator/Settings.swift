public import JSON

/// A prometheus-operator `ScrapeClass` from `prometheus_cr.scrape_classes`. TLS and
/// authorization stay in their CRD (camelCase) form; they are resolved against each resource's
/// namespace at generation time.
public struct ScrapeClass: Sendable, Hashable {
    public var name: String
    public var isDefault: Bool = false
    public var tlsConfig: JSONValue?
    public var authorization: JSONValue?
    public var relabelings: JSONValue?
    public var metricRelabelings: JSONValue?
    public var attachMetadataNode: Bool?
    public var fallbackScrapeProtocol: String?

    public init(name: String) { self.name = name }
}

/// What the generator needs from the allocator configuration's `prometheus_cr` section (and
/// `collector_namespace`), with the upstream allocator's defaults.
public struct OperatorSettings: Sendable, Hashable {
    public enum EndpointRole: String, Sendable, Hashable {
        case endpoints
        case endpointSlice = "endpointslice"
    }

    public var enabled: Bool = false
    /// Default interval for jobs whose resource sets none (`prometheus_cr.scrape_interval`).
    public var scrapeInterval: String = "30s"
    public var evaluationInterval: String?
    /// The synthetic Prometheus' own namespace: a nil namespace selector selects only this one.
    public var collectorNamespace: String = ""

    /// nil selects nothing, `.everything` (`{}`) selects every resource.
    public var serviceMonitorSelector: LabelSelectorSpec?
    public var podMonitorSelector: LabelSelectorSpec?
    public var probeSelector: LabelSelectorSpec?
    public var scrapeConfigSelector: LabelSelectorSpec?

    /// Default `{}` (every namespace); nil means the collector's namespace only.
    public var serviceMonitorNamespaceSelector: LabelSelectorSpec? = .everything
    public var podMonitorNamespaceSelector: LabelSelectorSpec? = .everything
    public var probeNamespaceSelector: LabelSelectorSpec? = .everything
    public var scrapeConfigNamespaceSelector: LabelSelectorSpec? = .everything

    /// Empty means every namespace. Mutually exclusive with `denyNamespaces`.
    public var allowNamespaces: [String] = []
    public var denyNamespaces: [String] = []
    /// Namespaces whose Secrets may be read (`secret_namespaces`); empty means the collector's.
    public var secretNamespaces: [String] = []

    public var scrapeProtocols: [String] = [
        "OpenMetricsText1.0.0", "OpenMetricsText0.0.1", "PrometheusText1.0.0", "PrometheusText0.0.4",
    ]
    public var scrapeClasses: [ScrapeClass] = []
    /// The upstream allocator always asks for EndpointSlice discovery.
    public var serviceDiscoveryRole: EndpointRole = .endpointSlice
    /// Number of Prometheus shards the sharding relabel rules use (the allocator has one).
    public var shards: Int = 1
    /// `deny_fs_access_through_sms`: drop jobs that read files on the collector.
    public var denyFileSystemAccess: Bool = false

    public init() {}

    /// Reads upstream's `prometheus_cr` keys. Problems are reported, never fatal: a bad value
    /// keeps its default.
    public static func parse(_ json: JSONValue, collectorNamespace: String = "") -> (OperatorSettings, problems: [String]) {
        var s = OperatorSettings()
        s.collectorNamespace = collectorNamespace
        var problems: [String] = []
        guard case .object(let members) = json else {
            if case .null = json { return (s, []) }
            return (s, ["prometheus_cr: expected a mapping"])
        }

        func selector(_ key: String, _ value: JSONValue) -> LabelSelectorSpec? {
            switch LabelSelectorSpec.parse(value) {
            case nil: return nil
            case .ok(let sel)?: return sel
            case .invalid(let why)?:
                problems.append("prometheus_cr.\(key): \(why)")
                return nil
            }
        }
        func strings(_ key: String, _ value: JSONValue) -> [String] {
            guard case .array(let items) = value else {
                if case .null = value { return [] }
                problems.append("prometheus_cr.\(key): expected a list of strings")
                return []
            }
            return items.compactMap { $0.stringValue }
        }
        func duration(_ key: String, _ value: JSONValue) -> String? {
            guard let text = value.stringValue, let ms = PrometheusDuration.milliseconds(text) else {
                problems.append("prometheus_cr.\(key): \(value.serialized) is not a duration")
                return nil
            }
            return PrometheusDuration.format(milliseconds: ms)
        }

        for m in members {
            let v = m.value
            switch m.key {
            case "enabled":
                if case .bool(let b) = v { s.enabled = b } else { problems.append("prometheus_cr.enabled: expected a boolean") }
            case "allow_namespaces": s.allowNamespaces = strings(m.key, v)
            case "deny_namespaces": s.denyNamespaces = strings(m.key, v)
            case "secret_namespaces": s.secretNamespaces = strings(m.key, v)
            case "service_monitor_selector": s.serviceMonitorSelector = selector(m.key, v)
            case "pod_monitor_selector": s.podMonitorSelector = selector(m.key, v)
            case "probe_selector": s.probeSelector = selector(m.key, v)
            case "scrape_config_selector": s.scrapeConfigSelector = selector(m.key, v)
            // Upstream starts from `{}` and only a present, non-null value replaces it.
            case "service_monitor_namespace_selector":
                if v != .null { s.serviceMonitorNamespaceSelector = selector(m.key, v) }
            case "pod_monitor_namespace_selector":
                if v != .null { s.podMonitorNamespaceSelector = selector(m.key, v) }
            case "probe_namespace_selector":
                if v != .null { s.probeNamespaceSelector = selector(m.key, v) }
            case "scrape_config_namespace_selector":
                if v != .null { s.scrapeConfigNamespaceSelector = selector(m.key, v) }
            case "scrape_interval":
                if let d = duration(m.key, v) {
                    if d == "0s" { problems.append("prometheus_cr.scrape_interval: must be positive") } else { s.scrapeInterval = d }
                }
            case "evaluation_interval": s.evaluationInterval = duration(m.key, v)
            case "scrape_protocols":
                let list = strings(m.key, v)
                if !list.isEmpty { s.scrapeProtocols = list }
            case "scrape_classes":
                s.scrapeClasses = parseScrapeClasses(v, &problems)
            case "deny_fs_access_through_sms":
                if case .bool(let b) = v { s.denyFileSystemAccess = b } else { problems.append("prometheus_cr.\(m.key): expected a boolean") }
            default:
                problems.append("prometheus_cr.\(m.key): unknown key, ignored")
            }
        }
        if !s.allowNamespaces.isEmpty && !s.denyNamespaces.isEmpty {
            problems.append("prometheus_cr: only one of allow_namespaces or deny_namespaces can be set")
        }
        return (s, problems)
    }

    private static func parseScrapeClasses(_ value: JSONValue, _ problems: inout [String]) -> [ScrapeClass] {
        guard case .array(let items) = value else {
            if value != .null { problems.append("prometheus_cr.scrape_classes: expected a list") }
            return []
        }
        var out: [ScrapeClass] = []
        var defaultName: String?
        let rules = RelabelRules(validator: nil)
        for (i, item) in items.enumerated() {
            let f = Field(item, path: "prometheus_cr.scrape_classes[\(i)]")
            do throws(ResourceError) {
                var c = ScrapeClass(name: try f["name"].requiredString())
                c.isDefault = try f["default"].bool() ?? false
                c.tlsConfig = f["tlsConfig"].value
                c.authorization = f["authorization"].value
                c.relabelings = f["relabelings"].value
                c.metricRelabelings = f["metricRelabelings"].value
                c.attachMetadataNode = try f["attachMetadata"]["node"].bool()
                c.fallbackScrapeProtocol = try f["fallbackScrapeProtocol"].string()
                _ = try rules.convert(f["relabelings"])
                _ = try rules.convert(f["metricRelabelings"])
                if c.isDefault {
                    if defaultName != nil { throw f.fail("multiple default scrape classes defined") }
                    defaultName = c.name
                }
                out.append(c)
            } catch {
                problems.append(error.text)
            }
        }
        return out
    }

    /// Whether the informers would see resources in this namespace.
    public func namespaceAllowed(_ namespace: String) -> Bool {
        if !allowNamespaces.isEmpty { return allowNamespaces.contains(namespace) }
        return !denyNamespaces.contains(namespace)
    }
}
