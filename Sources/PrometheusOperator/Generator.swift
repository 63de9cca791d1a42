public import JSON

/// One scrape job generated from a custom resource.
public struct GeneratedJob: Sendable, Hashable {
    public var jobName: String
    /// The Prometheus scrape config as prometheus-operator writes it (keys in its order, no
    /// defaults: Prometheus fills those in from `GenerationResult.global` when it loads it).
    public var scrapeConfig: JSONValue
    /// `serviceMonitor/<ns>/<name>/<i>`, `podMonitor/...`, `probe/<ns>/<name>`, `scrapeConfig/<ns>/<name>`.
    public var source: String
    /// The resource it came from: `serviceMonitor`, `podMonitor`, `probe` or `scrapeConfig`, its
    /// namespace and name.
    public var kind = ""
    public var namespace = ""
    public var name = ""
}

/// A selected resource that produced no job.
public struct SkippedResource: Sendable, Hashable, CustomStringConvertible {
    /// `serviceMonitor`, `podMonitor`, `probe` or `scrapeConfig`.
    public var kind: String
    public var namespace: String
    public var name: String
    public var reason: String

    public init(kind: String, namespace: String, name: String, reason: String) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.reason = reason
    }

    /// `serviceMonitor default/foo`.
    public var resource: String { "\(kind) \(namespace)/\(name)" }
    /// `serviceMonitor default/foo: endpoints[0].relabelings[1]: unknown action "foo"`.
    public var description: String { "\(resource): \(reason)" }
}

public struct GenerationResult: Sendable {
    /// Service monitors, then pod monitors, probes and scrape configs, each in `namespace/name` order.
    public var jobs: [GeneratedJob]
    /// Resources that were selected but are invalid (or reference a missing secret).
    public var skipped: [SkippedResource]
    /// The `global` section prometheus-operator writes for the synthetic Prometheus: the
    /// defaults (interval, timeout, scrape protocols) Prometheus gives the jobs when it loads them.
    public var global: JSONValue
}

/// Turns ServiceMonitor, PodMonitor, Probe and ScrapeConfig resources into Prometheus scrape
/// configs the way prometheus-operator's config generator does for the upstream allocator.
public enum OperatorConfigGenerator {
    /// - Parameters:
    ///   - serviceMonitors, podMonitors, probes, scrapeConfigs: whole objects (`metadata`, `spec`).
    ///   - namespaceLabels: labels of every namespace, for the namespace selectors (a namespace
    ///     missing here counts as having no labels).
    ///   - secrets: reads Secret/ConfigMap keys referenced by the resources.
    ///   - relabelValidator: full validation of each user relabel rule (see `RelabelRuleValidator`).
    public static func generate(
        serviceMonitors: [JSONValue] = [],
        podMonitors: [JSONValue] = [],
        probes: [JSONValue] = [],
        scrapeConfigs: [JSONValue] = [],
        namespaceLabels: [String: [String: String]] = [:],
        settings: OperatorSettings,
        secrets: @escaping SecretLookup = { _ in nil },
        relabelValidator: RelabelRuleValidator? = nil
    ) -> GenerationResult {
        var g = Generation(settings: settings, namespaceLabels: namespaceLabels, secrets: secrets, rules: RelabelRules(validator: relabelValidator))
        let sms = g.select(serviceMonitors, kind: "serviceMonitor", settings.serviceMonitorSelector, settings.serviceMonitorNamespaceSelector)
        g.run(kind: "serviceMonitor", sms) { (g: Generation, r: Resource) throws(ResourceError) in try g.serviceMonitor(r) }
        let pms = g.select(podMonitors, kind: "podMonitor", settings.podMonitorSelector, settings.podMonitorNamespaceSelector)
        g.run(kind: "podMonitor", pms) { (g: Generation, r: Resource) throws(ResourceError) in try g.podMonitor(r) }
        let prs = g.select(probes, kind: "probe", settings.probeSelector, settings.probeNamespaceSelector)
        g.run(kind: "probe", prs) { (g: Generation, r: Resource) throws(ResourceError) in [try g.probe(r)] }
        let scs = g.select(scrapeConfigs, kind: "scrapeConfig", settings.scrapeConfigSelector, settings.scrapeConfigNamespaceSelector)
        g.run(kind: "scrapeConfig", scs) { (g: Generation, r: Resource) throws(ResourceError) in [try g.scrapeConfig(r)] }
        return GenerationResult(jobs: g.jobs, skipped: g.skipped, global: globalSection(settings))
    }

    static func globalSection(_ s: OperatorSettings) -> JSONValue {
        var o = ObjectBuilder()
        o.set("scrape_interval", s.scrapeInterval)
        if !s.scrapeProtocols.isEmpty { o.set("scrape_protocols", strings: s.scrapeProtocols) }
        o.set("evaluation_interval", s.evaluationInterval ?? "0s")
        return o.value
    }
}

/// A selected resource.
struct Resource {
    var namespace: String
    var name: String
    var spec: Field
}

struct Generation {
    let settings: OperatorSettings
    let namespaceLabels: [String: [String: String]]
    let secrets: SecretLookup
    let rules: RelabelRules
    var jobs: [GeneratedJob] = []
    var skipped: [SkippedResource] = []

    init(settings: OperatorSettings, namespaceLabels: [String: [String: String]], secrets: @escaping SecretLookup, rules: RelabelRules) {
        self.settings = settings
        self.namespaceLabels = namespaceLabels
        self.secrets = secrets
        self.rules = rules
    }

    // MARK: selection

    /// `ResourceSelector.selectObjects`: allow/deny lists scope what the informers see, the
    /// namespace selector picks namespaces (nil: the collector's own), the label selector picks
    /// resources (nil: none). Sorted by `namespace/name` as Go sorts map keys.
    mutating func select(_ objects: [JSONValue], kind: String, _ selector: LabelSelectorSpec?, _ nsSelector: LabelSelectorSpec?) -> [Resource] {
        guard let selector else { return [] }
        var byKey: [String: Resource] = [:]
        for (i, object) in objects.enumerated() {
            let meta = Field(object["metadata"], path: "metadata")
            let namespace = (try? meta["namespace"].string()) ?? nil
            let name = (try? meta["name"].string()) ?? nil
            guard let namespace, let name, !namespace.isEmpty, !name.isEmpty else {
                skipped.append(SkippedResource(kind: kind, namespace: namespace ?? "", name: name ?? "#\(i)", reason: "metadata.namespace and metadata.name are required"))
                continue
            }
            guard settings.namespaceAllowed(namespace) else { continue }
            if let nsSelector {
                guard nsSelector.matches(namespaceLabels[namespace] ?? [:]) else { continue }
            } else {
                guard namespace == settings.collectorNamespace else { continue }
            }
            var labels: [String: String] = [:]
            if let pairs = try? meta["labels"].stringMap() { for (k, v) in pairs { labels[k] = v } }
            guard selector.matches(labels) else { continue }
            byKey["\(namespace)/\(name)"] = Resource(namespace: namespace, name: name, spec: Field(object["spec"], path: ""))
        }
        return byKey.keys.sorted(by: goLess).map { byKey[$0]! }
    }

    mutating func run(kind: String, _ resources: [Resource], _ body: (Generation, Resource) throws(ResourceError) -> [GeneratedJob]) {
        for r in resources {
            do throws(ResourceError) {
                var produced = try body(self, r)
                if settings.denyFileSystemAccess {
                    produced = try produced.map { job throws(ResourceError) in
                        if let why = Self.fileSystemAccess(job.scrapeConfig) { throw ResourceError(path: "", message: why) }
                        return job
                    }
                }
                for i in produced.indices {
                    produced[i].kind = kind
                    produced[i].namespace = r.namespace
                    produced[i].name = r.name
                }
                jobs.append(contentsOf: produced)
            } catch {
                skipped.append(SkippedResource(kind: kind, namespace: r.namespace, name: r.name, reason: error.text))
            }
        }
    }

    /// Upstream's `deny_fs_access_through_sms` filter.
    static func fileSystemAccess(_ job: JSONValue) -> String? {
        if job["authorization"]?["credentials_file"] != nil {
            return "authorization.credentials_file reads the collector's file system (deny_fs_access_through_sms)"
        }
        for key in ["ca_file", "cert_file", "key_file"] where job["tls_config"]?[key] != nil {
            return "tls_config.\(key) reads the collector's file system (deny_fs_access_through_sms)"
        }
        return nil
    }

    // MARK: shared pieces

    func scrapeClass(_ spec: Field) throws(ResourceError) -> ScrapeClass? {
        if let name = try spec["scrapeClass"].string(), !name.isEmpty {
            guard let c = settings.scrapeClasses.first(where: { $0.name == name }) else {
                throw ResourceError(path: "scrapeClassName", message: "scrapeClass \"\(name)\" not found in Prometheus scrapeClasses")
            }
            return c
        }
        return settings.scrapeClasses.first { $0.isDefault }
    }

    func classRules(_ value: JSONValue?, _ path: String) throws(ResourceError) -> [JSONValue] {
        try rules.convert(Field(value, path: path))
    }

    /// `validateScrapeIntervalAndTimeout` plus the CRD's duration pattern.
    func checkIntervals(interval: Field, timeout: Field) throws(ResourceError) {
        let i = try interval.string(), t = try timeout.string()
        if let i, !i.isEmpty, PrometheusDuration.milliseconds(i) == nil { throw interval.fail("invalid duration \"\(i)\"") }
        guard let t, !t.isEmpty else { return }
        guard let tms = PrometheusDuration.milliseconds(t) else { throw timeout.fail("invalid duration \"\(t)\"") }
        let effective = (i?.isEmpty ?? true) ? settings.scrapeInterval : i!
        if let ims = PrometheusDuration.milliseconds(effective), tms > ims {
            throw ResourceError(path: "", message: "scrapeTimeout \"\(t)\" greater than scrapeInterval \"\(effective)\"")
        }
    }

    /// `HTTPConfigWithoutTLS.Validate`: at most one authentication method.
    func checkExclusiveAuth(_ f: Field) throws(ResourceError) {
        let set = ["authorization", "basicAuth", "oauth2", "bearerTokenSecret"].filter { f[$0].isSet }
        if set.count > 1 { throw f.fail("\(set[0]) and \(set[1]) cannot be configured at the same time") }
    }

    func limits(_ spec: Field, into o: inout ObjectBuilder) throws(ResourceError) {
        for (field, key) in [
            ("sampleLimit", "sample_limit"), ("targetLimit", "target_limit"), ("labelLimit", "label_limit"),
            ("labelNameLengthLimit", "label_name_length_limit"), ("labelValueLengthLimit", "label_value_length_limit"),
            ("keepDroppedTargets", "keep_dropped_targets"),
        ] {
            if let v = try spec[field].int() { o.set(key, v) }
        }
        // Native histograms (Prometheus 3 spellings).
        if let v = try spec["scrapeNativeHistograms"].bool() { o.set("scrape_native_histograms", v) }
        if let v = try spec["nativeHistogramBucketLimit"].int() { o.set("native_histogram_bucket_limit", v) }
        // A `resource.Quantity`, written as the float64 upstream computes from it.
        if let v = spec["nativeHistogramMinBucketFactor"].value {
            let text: String? =
                switch v {
                case .number(let n): n
                case .string(let s): s
                default: nil
                }
            guard let text, let factor = Quantity.approximateDouble(text), factor.isFinite else {
                throw spec["nativeHistogramMinBucketFactor"].fail("\(v.serialized) is not a quantity")
            }
            o.set("native_histogram_min_bucket_factor", .number(goJSONNumber(factor)))
        }
        if let v = try spec["scrapeClassicHistograms"].bool() { o.set("always_scrape_classic_histograms", v) }
        if let v = try spec["convertClassicHistogramsToNHCB"].bool() { o.set("convert_classic_histograms_to_nhcb", v) }
    }

    func protocols(_ spec: Field, scrapeClass: ScrapeClass?, into o: inout ObjectBuilder) throws(ResourceError) {
        if let p = try spec["scrapeProtocols"].stringArray(), !p.isEmpty { o.set("scrape_protocols", strings: p) }
        if let fb = try spec["fallbackScrapeProtocol"].string() ?? scrapeClass?.fallbackScrapeProtocol {
            o.set("fallback_scrape_protocol", fb)
        }
    }

    /// Keep/drop rules that emulate a label selector with relabeling (`<prefix>label_<k>`).
    func selectorRules(_ sel: LabelSelectorSpec, prefix: String) -> [JSONValue] {
        var out: [JSONValue] = []
        func rule(_ action: String, _ sources: [String], _ regex: String) -> JSONValue {
            var o = ObjectBuilder()
            o.set("action", action)
            o.set("source_labels", strings: sources)
            o.set("regex", regex)
            return o.value
        }
        for k in sel.matchLabels.keys.sorted(by: goLess) {
            let s = sanitizeLabelName(k)
            out.append(rule("keep", ["\(prefix)label_\(s)", "\(prefix)labelpresent_\(s)"], "(\(sel.matchLabels[k]!));true"))
        }
        for e in sel.matchExpressions {
            let s = sanitizeLabelName(e.key)
            let values = e.values.joined(separator: "|")
            switch e.operator {
            case .in: out.append(rule("keep", ["\(prefix)label_\(s)", "\(prefix)labelpresent_\(s)"], "(\(values));true"))
            case .notIn: out.append(rule("drop", ["\(prefix)label_\(s)", "\(prefix)labelpresent_\(s)"], "(\(values));true"))
            case .exists: out.append(rule("keep", ["\(prefix)labelpresent_\(s)"], "true"))
            case .doesNotExist: out.append(rule("drop", ["\(prefix)labelpresent_\(s)"], "true"))
            }
        }
        return out
    }

    /// `kubernetes_sd_configs` for monitors: role, namespaces, attach_metadata, role selectors.
    func k8sSD(namespaceSelector: Field, namespace: String, role: String, attachNode: Bool?, roleSelectors: (roles: [String], selector: LabelSelectorSpec)?) throws(ResourceError) -> JSONValue {
        var o = ObjectBuilder()
        o.set("role", role)
        let any = try namespaceSelector["any"].bool() ?? false
        let names = try namespaceSelector["matchNames"].stringArray() ?? []
        let namespaces: [String] = any ? [] : (names.isEmpty ? [namespace] : names)
        if !namespaces.isEmpty {
            var n = ObjectBuilder()
            n.set("names", strings: namespaces)
            o.set("namespaces", n.value)
        }
        if let attachNode {
            var a = ObjectBuilder()
            a.set("node", attachNode)
            o.set("attach_metadata", a.value)
        }
        if let roleSelectors {
            let label = roleSelectors.selector.selectorString
            o.set("selectors", .array(roleSelectors.roles.map { r in
                var s = ObjectBuilder()
                s.set("role", r)
                s.set("label", label)
                return s.value
            }))
        }
        return .array([o.value])
    }

    /// `appendShardingRelabelingWithLabel`.
    func sharding(label: String) -> [JSONValue] {
        var a = ObjectBuilder()
        a.set("source_labels", strings: [label, "__tmp_hash"])
        a.set("target_label", "__tmp_hash")
        a.set("regex", "(.+);")
        a.set("replacement", "$1")
        a.set("action", "replace")
        var b = ObjectBuilder()
        b.set("source_labels", strings: ["__tmp_hash"])
        b.set("target_label", "__tmp_hash")
        b.set("modulus", Int64(settings.shards))
        b.set("action", "hashmod")
        var c = ObjectBuilder()
        c.set("source_labels", strings: ["__tmp_hash", "__tmp_disable_sharding"])
        c.set("regex", "$(SHARD);|.+;.+")
        c.set("action", "keep")
        return [a.value, b.value, c.value]
    }

    static func rule(_ pairs: [(String, JSONValue)]) -> JSONValue {
        .object(pairs.map { JSONMember($0.0, $0.1) })
    }

    static let jobToTmp = rule([("source_labels", .strings(["job"])), ("target_label", .string("__tmp_prometheus_job_name"))])

    static func copy(_ source: String, to target: String) -> JSONValue {
        rule([("source_labels", .strings([source])), ("target_label", .string(target))])
    }

    static func labelFrom(_ source: String, to target: String) -> JSONValue {
        rule([("source_labels", .strings([source])), ("target_label", .string(target)), ("regex", .string("(.+)")), ("replacement", .string("${1}"))])
    }

    static func set(_ target: String, _ value: String) -> JSONValue {
        rule([("target_label", .string(target)), ("replacement", .string(value))])
    }

    static let runningFilter = rule([
        ("action", .string("drop")), ("source_labels", .strings(["__meta_kubernetes_pod_phase"])), ("regex", .string("(Failed|Succeeded)")),
    ])

    static func keep(_ source: String, _ regex: String) -> JSONValue {
        rule([("action", .string("keep")), ("source_labels", .strings([source])), ("regex", .string(regex))])
    }

    func monitorSelector(_ spec: Field) throws(ResourceError) -> (LabelSelectorSpec, roleMechanism: Bool) {
        let sel: LabelSelectorSpec
        do throws(ResourceError) {
            sel = try LabelSelectorSpec.parse(spec["selector"])
        } catch {
            throw ResourceError(path: "", message: "failed to parse label selector: \(error.text)")
        }
        let mechanism = try spec["selectorMechanism"].string() ?? "RelabelConfig"
        switch mechanism {
        case "RelabelConfig": return (sel, false)
        case "RoleSelector": return (sel, true)
        default: throw spec["selectorMechanism"].fail("unknown selector mechanism \"\(mechanism)\"")
        }
    }

    func renderer(_ r: Resource) -> HTTPRenderer { HTTPRenderer(namespace: r.namespace, secrets: secrets) }
}

/// Replaces every character outside `[a-zA-Z0-9_]` with `_`.
func sanitizeLabelName(_ name: String) -> String {
    String(String.UnicodeScalarView(name.unicodeScalars.map { s in
        let v = s.value
        let ok = (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5a) || (v >= 0x61 && v <= 0x7a) || v == 0x5f
        return ok ? s : "_"
    }))
}
