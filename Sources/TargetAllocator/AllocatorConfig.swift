import Foundation
public import JSON
import Yams

/// The allocator's config file: the upstream keys with upstream meaning, plus
/// `leader_election` and `snapshot`. Unknown keys are reported, not silently ignored.
public struct AllocatorConfig: Sendable {
    public var listenAddress: String?
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
    public var prometheusCR: JSONValue?
    public var https = HTTPS()
    public var collectorNotReadyGracePeriod: Duration = .seconds(30)
    public var allowInsecureAuthSecrets = false
    public var leaderElection = LeaderElection()
    public var snapshot = SnapshotSettings()

    public struct HTTPS: Sendable {
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
    }

    /// `metav1.LabelSelector`; both `matchLabels` and the operator's `matchlabels` spellings.
    public struct LabelSelector: Sendable, Hashable {
        public var matchLabels: [String: String] = [:]
        public var matchExpressions: [Expression] = []

        public struct Expression: Sendable, Hashable {
            public var key: String
            public var `operator`: String
            public var values: [String]
        }

        /// The selector in `labelSelector=` query syntax.
        public var queryString: String {
            let labels = matchLabels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
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

    public init() {}

    public struct Problems: Error, CustomStringConvertible {
        public let problems: [String]
        public var description: String { problems.joined(separator: "\n") }
    }

    /// Reads and validates a config file; every problem is reported with its path.
    public static func load(path: String, environment: [String: String]) throws -> AllocatorConfig {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw Problems(problems: ["\(path): cannot read: \(error.localizedDescription)"])
        }
        return try parse(text, environment: environment)
    }

    public static func parse(_ text: String, environment: [String: String] = [:]) throws -> AllocatorConfig {
        var problems: [String] = []
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw Problems(problems: ["config: not valid YAML: \(error)"])
        }
        var config = AllocatorConfig()
        guard let root else { throw Problems(problems: ["config: the file is empty"]) }
        guard case .mapping(let mapping) = root else { throw Problems(problems: ["config: must be a mapping"]) }

        for (keyNode, value) in mapping {
            let key = keyNode.string ?? ""
            let path = key
            switch key {
            case "listen_addr": config.listenAddress = string(value, path, &problems)
            case "kube_config_file_path": config.kubeConfigPath = string(value, path, &problems)
            case "collector_namespace": config.collectorNamespace = string(value, path, &problems)
            case "collector_selector": config.collectorSelector = selector(value, path, &problems)
            case "config":
                guard case .mapping(let prom) = value else {
                    problems.append("config: must be a mapping")
                    continue
                }
                for (k, v) in prom {
                    switch k.string {
                    case "global": config.global = json(v)
                    case "scrape_configs":
                        guard case .sequence(let items) = v else {
                            problems.append("config.scrape_configs: must be a list")
                            continue
                        }
                        for (i, item) in items.enumerated() {
                            let value = json(item)
                            guard case .object = value else {
                                problems.append("config.scrape_configs[\(i)]: must be a mapping")
                                continue
                            }
                            if (value["job_name"]?.stringValue ?? "").isEmpty {
                                problems.append("config.scrape_configs[\(i)].job_name: required")
                            }
                            config.scrapeConfigs.append(value)
                        }
                    default:
                        break  // other Prometheus sections (rule_files, alerting…) are not ours; upstream ignores them too
                    }
                }
            case "allocation_strategy":
                config.allocationStrategy = string(value, path, &problems) ?? config.allocationStrategy
            case "allocation_fallback_strategy": config.allocationFallbackStrategy = string(value, path, &problems)
            case "filter_strategy": config.filterStrategy = string(value, path, &problems) ?? ""
            case "prometheus_cr": config.prometheusCR = json(value)
            case "https":
                forEachMember(value, path, &problems) { k, v, p, problems in
                    switch k {
                    case "enabled": config.https.enabled = bool(v, p, &problems) ?? false
                    case "listen_addr": config.https.listenAddress = string(v, p, &problems) ?? config.https.listenAddress
                    case "ca_file_path": config.https.caFilePath = string(v, p, &problems)
                    case "tls_cert_file_path": config.https.tlsCertFilePath = string(v, p, &problems)
                    case "tls_key_file_path": config.https.tlsKeyFilePath = string(v, p, &problems)
                    default: problems.append("\(p): unknown key")
                    }
                }
            case "collector_not_ready_grace_period":
                config.collectorNotReadyGracePeriod = duration(value, path, &problems) ?? config.collectorNotReadyGracePeriod
            case "allow_insecure_auth_secrets": config.allowInsecureAuthSecrets = bool(value, path, &problems) ?? false
            case "leader_election":
                forEachMember(value, path, &problems) { k, v, p, problems in
                    switch k {
                    case "lease_name": config.leaderElection.leaseName = string(v, p, &problems) ?? config.leaderElection.leaseName
                    case "lease_duration": config.leaderElection.leaseDuration = duration(v, p, &problems) ?? config.leaderElection.leaseDuration
                    case "renew_deadline": config.leaderElection.renewDeadline = duration(v, p, &problems) ?? config.leaderElection.renewDeadline
                    case "retry_period": config.leaderElection.retryPeriod = duration(v, p, &problems) ?? config.leaderElection.retryPeriod
                    default: problems.append("\(p): unknown key")
                    }
                }
            case "snapshot":
                forEachMember(value, path, &problems) { k, v, p, problems in
                    switch k {
                    case "configmap_name": config.snapshot.configMapName = string(v, p, &problems) ?? config.snapshot.configMapName
                    case "min_write_interval": config.snapshot.minWriteInterval = duration(v, p, &problems) ?? config.snapshot.minWriteInterval
                    default: problems.append("\(p): unknown key")
                    }
                }
            case "telemetry":
                break  // accepted for compatibility; metrics are served on /metrics
            default:
                problems.append("\(path): unknown key")
            }
        }

        // Environment, as upstream: OTELCOL_NAMESPACE, ALLOW_INSECURE_AUTH_SECRETS.
        if let ns = environment["OTELCOL_NAMESPACE"], !ns.isEmpty { config.collectorNamespace = ns }
        if environment["ALLOW_INSECURE_AUTH_SECRETS"] == "true" { config.allowInsecureAuthSecrets = true }

        if !["consistent-hashing", "least-weighted", "per-node"].contains(config.allocationStrategy) {
            problems.append("allocation_strategy: must be consistent-hashing, least-weighted or per-node, not \"\(config.allocationStrategy)\"")
        }
        if let fallback = config.allocationFallbackStrategy, !fallback.isEmpty,
            !["consistent-hashing", "least-weighted"].contains(fallback)
        {
            problems.append("allocation_fallback_strategy: must be consistent-hashing or least-weighted, not \"\(fallback)\"")
        }
        var seenJobs = Set<String>()
        for (i, sc) in config.scrapeConfigs.enumerated() {
            if let name = sc["job_name"]?.stringValue, !seenJobs.insert(name).inserted {
                problems.append("config.scrape_configs[\(i)].job_name: duplicate \"\(name)\"")
            }
        }
        let le = config.leaderElection
        if !(le.leaseDuration > le.renewDeadline) { problems.append("leader_election.lease_duration: must be greater than renew_deadline") }
        if !(le.renewDeadline > le.retryPeriod * 1.2) { problems.append("leader_election.renew_deadline: must be greater than 1.2 × retry_period") }
        let prometheusCREnabled = config.prometheusCR?["enabled"] == .bool(true)
        if config.scrapeConfigs.isEmpty, !prometheusCREnabled {
            problems.append("config.scrape_configs: at least one scrape config is needed unless prometheus_cr.enabled")
        }
        if config.https.enabled, config.https.tlsCertFilePath == nil || config.https.tlsKeyFilePath == nil {
            problems.append("https: enabled needs tls_cert_file_path and tls_key_file_path")
        }
        if !problems.isEmpty { throw Problems(problems: problems) }
        return config
    }

    // MARK: - node helpers

    private static func string(_ node: Node, _ path: String, _ problems: inout [String]) -> String? {
        if Tag.Name(rawValue: node.tag.rawValue) == .null { return nil }
        guard case .scalar(let s) = node else {
            problems.append("\(path): must be a string")
            return nil
        }
        return s.string
    }

    private static func bool(_ node: Node, _ path: String, _ problems: inout [String]) -> Bool? {
        guard let b = node.bool else {
            problems.append("\(path): must be true or false")
            return nil
        }
        return b
    }

    private static func duration(_ node: Node, _ path: String, _ problems: inout [String]) -> Duration? {
        guard let text = node.string, let d = PrometheusDuration.parse(text) else {
            problems.append("\(path): must be a duration such as 30s, 1m or 1h30m")
            return nil
        }
        return d
    }

    private static func forEachMember(
        _ node: Node, _ path: String, _ problems: inout [String], _ body: (String, Node, String, inout [String]) -> Void
    ) {
        var found: [String] = []
        if let problem = forEach(node, path, { k, v, p in body(k, v, p, &found) }) { found.append(problem) }
        problems += found
    }

    /// Calls `body` for each member of a mapping; returns a problem if the node is not one.
    private static func forEach(_ node: Node, _ path: String, _ body: (String, Node, String) -> Void) -> String? {
        guard case .mapping(let m) = node else {
            return Tag.Name(rawValue: node.tag.rawValue) == .null ? nil : "\(path): must be a mapping"
        }
        for (k, v) in m { body(k.string ?? "", v, "\(path).\(k.string ?? "")") }
        return nil
    }

    private static func selector(_ node: Node, _ path: String, _ problems: inout [String]) -> LabelSelector? {
        if Tag.Name(rawValue: node.tag.rawValue) == .null { return nil }
        var s = LabelSelector()
        var camelLabels: [String: String]?
        var lowerLabels: [String: String]?
        forEachMember(node, path, &problems) { k, v, p, problems in
            switch k {
            case "matchLabels", "matchlabels":
                var labels: [String: String] = [:]
                forEachMember(v, p, &problems) { lk, lv, _, _ in labels[lk] = lv.string ?? "" }
                if k == "matchLabels" { camelLabels = labels } else { lowerLabels = labels }
            case "matchExpressions", "matchexpressions":
                guard case .sequence(let items) = v else { return }
                for (i, item) in items.enumerated() {
                    let key = item["key"]?.string ?? ""
                    let op = item["operator"]?.string ?? ""
                    let values = item["values"]?.sequence?.compactMap(\.string) ?? []
                    guard !key.isEmpty, ["In", "NotIn", "Exists", "DoesNotExist"].contains(op) else {
                        problems.append("\(p)[\(i)]: needs a key and an operator In, NotIn, Exists or DoesNotExist")
                        continue
                    }
                    s.matchExpressions.append(.init(key: key, operator: op, values: values))
                }
            default:
                problems.append("\(p): unknown key")
            }
        }
        s.matchLabels = camelLabels ?? lowerLabels ?? [:]  // camelCase wins, as upstream
        return s
    }

    /// YAML → ordered JSON with YAML 1.1 core scalar types.
    static func json(_ node: Node) -> JSONValue {
        switch node {
        case .scalar(let s):
            switch Tag.Name(rawValue: node.tag.rawValue) {
            case .null: return .null
            case .bool: return node.bool.map(JSONValue.bool) ?? .string(s.string)
            case .int: return node.int.map { .number(String($0)) } ?? .string(s.string)
            case .float:
                guard let f = node.float, f.isFinite else { return .string(s.string) }
                return .number(f == f.rounded() && abs(f) < 1e15 ? String(Int64(f)) : String(f))
            default: return .string(s.string)
            }
        case .mapping(let m):
            return .object(m.map { JSONMember($0.key.string ?? "", json($0.value)) })
        case .sequence(let items):
            return .array(items.map(json))
        case .alias:
            return .null
        }
    }
}

/// Prometheus duration strings (`1h30m`, `15s`, `500ms`, `1d`).
public enum PrometheusDuration {
    public static func parse(_ text: String) -> Duration? {
        guard !text.isEmpty else { return nil }
        if text == "0" { return .zero }
        let units: [(String, Int64)] = [
            ("ms", 1), ("y", 365 * 86_400_000), ("w", 7 * 86_400_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000),
        ]
        var rest = Substring(text)
        var millis: Int64 = 0
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let n = Int64(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            rest = rest.dropFirst(unit.0.count)
            millis += n * unit.1
        }
        return .milliseconds(millis)
    }
}
