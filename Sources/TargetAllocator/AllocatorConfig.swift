import Discovery
import Foundation
import HTTPServer
public import JSON
import PrometheusOperator
import Yams

/// The allocator's config file: upstream's keys with upstream's meaning, plus `leader_election`
/// and `snapshot`. Loaded as upstream loads it (`config.Load`): defaults, then the file, then the
/// environment (`OTELCOL_NAMESPACE`, `ALLOW_INSECURE_AUTH_SECRETS`), then the command-line flags
/// that were given, field by field; then validated as a whole.
public struct AllocatorConfig: Sendable {
    public var listenAddress = ":8080"
    public var kubeConfigPath: String?
    public var collectorNamespace: String?
    public var collectorSelector: LabelSelector?
    /// `config.global`, kept as written.
    public var global: JSONValue?
    /// `config.scrape_configs`, each an object with a `job_name`, members in file order.
    public var scrapeConfigs: [JSONValue] = []
    public var allocationStrategy = "consistent-hashing"
    public var allocationFallbackStrategy: String?
    public var filterStrategy = "relabel-config"
    /// `prometheus_cr` as `OperatorSettings.parse` reads it: upstream's keys only, its Go
    /// durations (`scrape_interval`, `evaluation_interval`) spelled as Prometheus durations.
    public var prometheusCR: JSONValue?
    public var https = HTTPS()
    /// 0 turns the readiness check off: every scheduled collector pod receives targets.
    public var collectorNotReadyGracePeriod: Duration = .seconds(30)
    public var allowInsecureAuthSecrets = false
    public var leaderElection = LeaderElection()
    public var snapshot = SnapshotSettings()
    /// Unknown keys and settings without effect here: reported (log, `validate`), never fatal.
    public var warnings: [String] = []

    public var prometheusCREnabled: Bool { prometheusCR?["enabled"] == .bool(true) }

    public struct HTTPS: Sendable, Hashable {
        public var enabled = false
        public var listenAddress = ":8443"
        public var caFilePath: String?
        public var tlsCertFilePath: String?
        public var tlsKeyFilePath: String?
    }

    public struct LeaderElection: Sendable {
        public var leaseName = "target-allocator"
        public var leaseDuration: Duration = .seconds(15)
        public var renewDeadline: Duration = .seconds(10)
        public var retryPeriod: Duration = .seconds(2)
    }

    public struct SnapshotSettings: Sendable {
        public var configMapName = "target-allocator-snapshot"
        public var minWriteInterval: Duration = .seconds(1)
        /// How long the first allocation of a term waits for every discovery provider to report
        /// before it goes on with what it has (a seeded term keeps serving its seed instead).
        public var initialDiscoveryWait: Duration = .seconds(30)
    }

    /// `metav1.LabelSelector`. Label names and values are bytes: compared, deduplicated and
    /// sorted by their UTF-8, never by `String` equality.
    public struct LabelSelector: Sendable, Hashable {
        public var matchLabels: [Label] = []
        public var matchExpressions: [Expression] = []

        public struct Label: Sendable, Hashable {
            public var name: String
            public var value: String

            public static func == (a: Label, b: Label) -> Bool {
                a.name.utf8.elementsEqual(b.name.utf8) && a.value.utf8.elementsEqual(b.value.utf8)
            }

            public func hash(into hasher: inout Hasher) {
                hasher.combineUTF8(name)
                hasher.combineUTF8(value)
            }
        }

        public struct Expression: Sendable, Hashable {
            public var key: String
            public var `operator`: String
            public var values: [String]

            public static func == (a: Expression, b: Expression) -> Bool {
                a.key.utf8.elementsEqual(b.key.utf8) && a.operator.utf8.elementsEqual(b.operator.utf8)
                    && a.values.count == b.values.count && zip(a.values, b.values).allSatisfy { $0.utf8.elementsEqual($1.utf8) }
            }

            public func hash(into hasher: inout Hasher) {
                hasher.combineUTF8(key)
                hasher.combineUTF8(`operator`)
                for value in values { hasher.combineUTF8(value) }
            }
        }

        /// The selector in `labelSelector=` query syntax, labels in byte order of their names.
        public var queryString: String {
            let labels = matchLabels.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }.map { "\($0.name)=\($0.value)" }
            let expressions = matchExpressions.map { e -> String in
                switch e.operator {
                case "In": "\(e.key) in (\(e.values.joined(separator: ",")))"
                case "NotIn": "\(e.key) notin (\(e.values.joined(separator: ",")))"
                case "Exists": e.key
                default: "!\(e.key)"
                }
            }
            return (labels + expressions).joined(separator: ",")
        }
    }

    /// The command line's settings, each applied only when given (pflag's `Changed`, as
    /// upstream's `LoadFromCLI`), over the file and the environment.
    public struct Overrides: Sendable, Hashable {
        public var listenAddress: String?
        public var kubeConfigPath: String?
        public var prometheusCREnabled: Bool?
        public var httpsEnabled: Bool?
        public var httpsListenAddress: String?
        public var httpsCAFile: String?
        public var httpsCertFile: String?
        public var httpsKeyFile: String?
        public var allowInsecureAuthSecrets: Bool?

        public init() {}
    }

    public init() {}

    public struct Problems: Error, CustomStringConvertible {
        public let problems: [String]
        /// Warnings found before the problems (shown by `validate` too).
        public let warnings: [String]
        public var description: String { problems.joined(separator: "\n") }

        public init(problems: [String], warnings: [String] = []) {
            self.problems = problems
            self.warnings = warnings
        }
    }

    /// Reads and validates a config file; every problem is reported with its path.
    public static func load(path: String, environment: [String: String], overrides: Overrides = .init()) throws -> AllocatorConfig {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw Problems(problems: ["\(path): cannot read the file (missing, or not readable)"])
        }
        defer { try? handle.close() }
        // At most one byte past the limit is read: a huge file is refused, not loaded.
        let data: Data
        do { data = try handle.read(upToCount: ConfigYAML.maxFileBytes + 1) ?? Data() } catch {
            throw Problems(problems: ["\(path): cannot read the file: \(error.localizedDescription)"])
        }
        return try parse(String(decoding: data, as: UTF8.self), environment: environment, overrides: overrides)
    }

    public static func parse(_ text: String, environment: [String: String] = [:], overrides: Overrides = .init()) throws -> AllocatorConfig {
        var reader = ConfigReader()
        var config = AllocatorConfig()
        let document: JSONValue?
        do { document = try ConfigYAML.decode(text) } catch {
            throw Problems(problems: [ConfigText.bounded(error.description)])  // nothing was read: nothing else to report
        }
        switch document {
        case nil, .null?: break  // an empty file leaves every default, as upstream
        case .object(let members)?: config.read(members, &reader)
        default: reader.problems.append("the file must be a mapping of keys")
        }
        config.apply(environment: environment)
        config.apply(overrides)
        config.validateServing(&reader)
        config.validateDiscovery(&reader)
        config.warnings = Self.capped(reader.warnings, "warnings")
        if !reader.problems.isEmpty { throw Problems(problems: Self.capped(reader.problems, "problems"), warnings: config.warnings) }
        return config
    }

    /// At most 100 messages: a file with thousands of bad entries is reported, not echoed.
    static func capped(_ messages: [String], _ what: String) -> [String] {
        messages.count <= 100 ? messages : Array(messages.prefix(100)) + ["… and \(messages.count - 100) more \(what)"]
    }

    /// The defaults with the environment and flags, for a replica that reads no config file
    /// (`--snapshot-file`): only the listeners are checked.
    public static func withoutFile(environment: [String: String], overrides: Overrides) throws -> AllocatorConfig {
        var reader = ConfigReader()
        var config = AllocatorConfig()
        config.apply(environment: environment)
        config.apply(overrides)
        config.validateServing(&reader)
        if !reader.problems.isEmpty { throw Problems(problems: reader.problems) }
        return config
    }

    // MARK: - reading the file

    private mutating func read(_ members: [JSONMember], _ r: inout ConfigReader) {
        for member in members {
            let key = member.key
            let value = member.value
            switch key {
            case "listen_addr": listenAddress = r.string(value, key) ?? listenAddress
            case "kube_config_file_path": kubeConfigPath = r.string(value, key) ?? kubeConfigPath
            case "collector_namespace": collectorNamespace = r.string(value, key) ?? collectorNamespace
            case "collector_selector": collectorSelector = r.selector(value, key)
            case "config": readPrometheusConfig(value, &r)
            case "allocation_strategy": allocationStrategy = r.string(value, key) ?? allocationStrategy
            case "allocation_fallback_strategy": allocationFallbackStrategy = r.string(value, key) ?? allocationFallbackStrategy
            case "filter_strategy": filterStrategy = r.string(value, key) ?? filterStrategy
            case "prometheus_cr": prometheusCR = Self.prometheusCR(value, &r)
            case "https": readHTTPS(value, &r)
            case "collector_not_ready_grace_period":
                collectorNotReadyGracePeriod = r.goDuration(value, key) ?? collectorNotReadyGracePeriod
            case "allow_insecure_auth_secrets": allowInsecureAuthSecrets = r.bool(value, key) ?? allowInsecureAuthSecrets
            case "telemetry":
                if value != .null { r.warning(key, "OTLP push of the allocator's own metrics is not supported; they are served on /metrics") }
            case "leader_election":
                for m in r.members(value, key) ?? [] {
                    let at = "\(key).\(m.key)"
                    switch m.key {
                    case "lease_name": leaderElection.leaseName = r.string(m.value, at) ?? leaderElection.leaseName
                    case "lease_duration": leaderElection.leaseDuration = r.positiveGoDuration(m.value, at) ?? leaderElection.leaseDuration
                    case "renew_deadline": leaderElection.renewDeadline = r.positiveGoDuration(m.value, at) ?? leaderElection.renewDeadline
                    case "retry_period": leaderElection.retryPeriod = r.positiveGoDuration(m.value, at) ?? leaderElection.retryPeriod
                    default: r.unknown(at)
                    }
                }
            case "snapshot":
                for m in r.members(value, key) ?? [] {
                    let at = "\(key).\(m.key)"
                    switch m.key {
                    case "configmap_name": snapshot.configMapName = r.string(m.value, at) ?? snapshot.configMapName
                    case "min_write_interval":
                        if let d = r.goDuration(m.value, at) {
                            if d < .zero { r.problem(at, "must not be negative") } else { snapshot.minWriteInterval = d }
                        }
                    case "initial_discovery_wait":
                        if let d = r.goDuration(m.value, at) {
                            if d < .zero { r.problem(at, "must not be negative") } else { snapshot.initialDiscoveryWait = d }
                        }
                    default: r.unknown(at)
                    }
                }
            default:
                r.unknown(key)
            }
        }
    }

    /// `config`: Prometheus's configuration, of which only `global` and `scrape_configs` are
    /// used (as upstream); `null` for either is no configuration.
    private mutating func readPrometheusConfig(_ value: JSONValue, _ r: inout ConfigReader) {
        for m in r.members(value, "config") ?? [] {
            switch m.key {
            case "global": global = m.value
            case "scrape_configs":
                switch m.value {
                case .null: break
                case .array(let items):
                    for (i, item) in items.enumerated() {
                        guard case .object = item else {
                            r.problem("config.scrape_configs[\(i)]", "must be a mapping")
                            continue
                        }
                        if (item["job_name"]?.stringValue ?? "").isEmpty { r.problem("config.scrape_configs[\(i)].job_name", "required") }
                        scrapeConfigs.append(item)
                    }
                default: r.problem("config.scrape_configs", "must be a list")
                }
            default:
                break  // other Prometheus sections (rule_files, alerting…) are not the allocator's; upstream ignores them too
            }
        }
    }

    private mutating func readHTTPS(_ value: JSONValue, _ r: inout ConfigReader) {
        for m in r.members(value, "https") ?? [] {
            let at = "https.\(m.key)"
            switch m.key {
            case "enabled": https.enabled = r.bool(m.value, at) ?? https.enabled
            case "listen_addr": https.listenAddress = r.string(m.value, at) ?? https.listenAddress
            case "ca_file_path": https.caFilePath = r.string(m.value, at) ?? https.caFilePath
            case "tls_cert_file_path": https.tlsCertFilePath = r.string(m.value, at) ?? https.tlsCertFilePath
            case "tls_key_file_path": https.tlsKeyFilePath = r.string(m.value, at) ?? https.tlsKeyFilePath
            default: r.unknown(at)
            }
        }
    }

    /// upstream's `PrometheusCRConfig` keys.
    static let prometheusCRKeys: Set<String> = [
        "enabled", "allow_namespaces", "deny_namespaces", "secret_namespaces", "pod_monitor_selector", "pod_monitor_namespace_selector",
        "service_monitor_selector", "service_monitor_namespace_selector", "scrape_config_selector", "scrape_config_namespace_selector",
        "probe_selector", "probe_namespace_selector", "scrape_interval", "evaluation_interval", "scrape_protocols", "scrape_classes",
        "deny_fs_access_through_sms",
    ]

    /// `prometheus_cr` with unknown keys dropped (and warned about) and the intervals, Go
    /// `time.Duration`s upstream, turned into the Prometheus durations upstream hands to
    /// prometheus-operator (`model.Duration.String()`, whole milliseconds).
    private static func prometheusCR(_ value: JSONValue, _ r: inout ConfigReader) -> JSONValue? {
        guard let members = r.members(value, "prometheus_cr") else { return nil }
        var kept: [JSONMember] = []
        for m in members {
            let at = "prometheus_cr.\(m.key)"
            guard prometheusCRKeys.contains(m.key) else {
                r.unknown(at)
                continue
            }
            switch m.key {
            case "scrape_interval", "evaluation_interval":
                guard let d = r.goDuration(m.value, at) else { continue }
                let ns = GoDuration.nanoseconds(of: d)
                if ns < 0 || (m.key == "scrape_interval" && ns == 0) {
                    r.problem(at, m.key == "scrape_interval" ? "must be greater than zero" : "must not be negative")
                } else if ns > 0, ns < 1_000_000 {
                    r.problem(at, "\(ns)ns is below one millisecond, the resolution of Prometheus durations (upstream would pass 0s on)")
                } else {
                    kept.append(JSONMember(m.key, .string(ScrapeDuration.format(milliseconds: ns / 1_000_000))))
                }
            default:
                kept.append(m)
            }
        }
        return .object(kept)
    }

    // MARK: - environment, flags, validation

    private mutating func apply(environment: [String: String]) {
        if let ns = environment["OTELCOL_NAMESPACE"], !ns.isEmpty { collectorNamespace = ns }
        if environment["ALLOW_INSECURE_AUTH_SECRETS"] == "true" { allowInsecureAuthSecrets = true }
    }

    private mutating func apply(_ o: Overrides) {
        if let v = o.listenAddress { listenAddress = v }
        if let v = o.kubeConfigPath { kubeConfigPath = v }
        if let v = o.prometheusCREnabled {
            var members: [JSONMember] = []
            if case .object(let existing)? = prometheusCR { members = existing.filter { $0.key != "enabled" } }
            prometheusCR = .object([JSONMember("enabled", .bool(v))] + members)
        }
        if let v = o.httpsEnabled { https.enabled = v }
        if let v = o.httpsListenAddress { https.listenAddress = v }
        if let v = o.httpsCAFile { https.caFilePath = v }
        if let v = o.httpsCertFile { https.tlsCertFilePath = v }
        if let v = o.httpsKeyFile { https.tlsKeyFilePath = v }
        if let v = o.allowInsecureAuthSecrets { allowInsecureAuthSecrets = v }
        // An empty path is no path (a flag given as `--https-ca-file=`).
        if https.caFilePath?.isEmpty == true { https.caFilePath = nil }
        if https.tlsCertFilePath?.isEmpty == true { https.tlsCertFilePath = nil }
        if https.tlsKeyFilePath?.isEmpty == true { https.tlsKeyFilePath = nil }
        if kubeConfigPath?.isEmpty == true { kubeConfigPath = nil }
    }

    /// Listeners and TLS files, after the flags: `--enable-https-server` may take its
    /// certificate paths from the file.
    private func validateServing(_ r: inout ConfigReader) {
        if ListenAddress(listenAddress) == nil {
            r.problem("listen_addr", "expected host:port such as :8080, not \"\(ConfigText.excerpt(listenAddress))\"")
        }
        guard https.enabled else { return }
        if ListenAddress(https.listenAddress) == nil {
            r.problem("https.listen_addr", "expected host:port such as :8443, not \"\(ConfigText.excerpt(https.listenAddress))\"")
        }
        if https.tlsCertFilePath == nil || https.tlsKeyFilePath == nil {
            r.problem("https", "enabled needs tls_cert_file_path and tls_key_file_path (or --https-tls-cert-file and --https-tls-key-file)")
        }
    }

    private func validateDiscovery(_ r: inout ConfigReader) {
        if !["consistent-hashing", "least-weighted", "per-node"].contains(allocationStrategy) {
            r.problem("allocation_strategy", "must be consistent-hashing, least-weighted or per-node, not \"\(ConfigText.excerpt(allocationStrategy))\"")
        }
        if let fallback = allocationFallbackStrategy, !fallback.isEmpty, !["consistent-hashing", "least-weighted"].contains(fallback) {
            r.problem("allocation_fallback_strategy", "must be consistent-hashing or least-weighted, not \"\(ConfigText.excerpt(fallback))\"")
        }
        var seenJobs = Set<[UInt8]>()
        for (i, sc) in scrapeConfigs.enumerated() {
            if let name = sc["job_name"]?.stringValue, !seenJobs.insert(Array(name.utf8)).inserted {
                r.problem("config.scrape_configs[\(i)].job_name", "duplicate \"\(ConfigText.excerpt(name))\"")
            }
        }
        let le = leaderElection
        if !(le.leaseDuration > le.renewDeadline) { r.problem("leader_election.lease_duration", "must be greater than renew_deadline") }
        if !(le.renewDeadline > le.retryPeriod * 1.2) { r.problem("leader_election.renew_deadline", "must be greater than 1.2 × retry_period") }
        if scrapeConfigs.isEmpty, !prometheusCREnabled {
            r.problem("config.scrape_configs", "at least one scrape config is needed unless prometheus_cr.enabled (or --enable-prometheus-cr-watcher)")
        }
        if let cr = prometheusCR {
            func nonEmpty(_ key: String) -> Bool {
                if case .array(let items)? = cr[key] { return !items.isEmpty }
                return false
            }
            let both = "only one of allow_namespaces or deny_namespaces can be set"
            if nonEmpty("allow_namespaces"), nonEmpty("deny_namespaces") { r.problem("prometheus_cr", both) }
            // Everything else prometheus-operator's settings need, as the watcher will read them.
            for problem in OperatorSettings.parse(cr, collectorNamespace: collectorNamespace ?? "").problems
            where !problem.hasSuffix(both) {
                r.problems.append(ConfigText.bounded(problem))
            }
        }
    }

    /// YAML → ordered JSON with YAML 1.1 core scalar types (for callers that compose YAML
    /// themselves); the bounds of `ConfigYAML` apply, and a document past them reads as null.
    static func json(_ node: Node) -> JSONValue {
        (try? ConfigYAML.convert(node)) ?? .null
    }
}

extension Hasher {
    fileprivate mutating func combineUTF8(_ text: String) {
        for byte in text.utf8 { combine(byte) }
        combine(0xFF as UInt8)  // never a byte of UTF-8: ends the string
    }
}
