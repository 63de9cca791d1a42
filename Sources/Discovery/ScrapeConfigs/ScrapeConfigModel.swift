import ByteStrings
public import JSON

/// One scrape config after Prometheus's defaults and validation: what `/scrape_configs` serves
/// for it and the service discovery it asks for.
public struct NormalizedJob: Sendable, Hashable {
    public var name: String
    /// The config as upstream serves it: Prometheus defaults filled in (from `global` where
    /// Prometheus inherits them), durations spelled as Prometheus prints them, relabel rules
    /// with their defaults, every field we do not interpret kept as given, and object keys in
    /// byte order at every level (upstream round-trips the config through Go maps).
    public var scrapeConfig: JSONValue
    public var scrapeInterval: Duration
    public var scrapeTimeout: Duration
    /// `static_configs`, one group per entry with source `"<index>"`, as Prometheus's static provider.
    public var staticGroups: [TargetGroup]
    public var fileSD: [FileSDConfig]
    public var httpSD: [HTTPSDConfig]
    public var dnsSD: [DNSSDConfig] = []
    /// Each `kubernetes_sd_configs` entry as given, for `KubernetesSDConfig(json:problems:path:)`.
    public var kubernetesSD: [JSONValue]
    /// `relabel_configs` as given (the Relabel module applies its own defaults).
    public var relabelConfigs: [JSONValue]
    /// `<name>_sd_configs` keys of mechanisms this allocator does not discover with (`ec2`, …).
    public var unsupportedSD: [String] = []

    public init(
        name: String, scrapeConfig: JSONValue, scrapeInterval: Duration, scrapeTimeout: Duration, staticGroups: [TargetGroup] = [],
        fileSD: [FileSDConfig] = [], httpSD: [HTTPSDConfig] = [], kubernetesSD: [JSONValue] = [], relabelConfigs: [JSONValue] = []
    ) {
        self.name = name
        self.scrapeConfig = scrapeConfig
        self.scrapeInterval = scrapeInterval
        self.scrapeTimeout = scrapeTimeout
        self.staticGroups = staticGroups
        self.fileSD = fileSD
        self.httpSD = httpSD
        self.kubernetesSD = kubernetesSD
        self.relabelConfigs = relabelConfigs
    }
}

/// Reads `config.global` and `config.scrape_configs` the way Prometheus does (`config.Load`
/// followed by each scrape config's `Validate(global)`), without Prometheus's code.
public enum ScrapeConfigModel {
    public static let defaultScrapeProtocols = ["OpenMetricsText1.0.0", "OpenMetricsText0.0.1", "PrometheusText1.0.0", "PrometheusText0.0.4"]
    public static let protoFirstScrapeProtocols = ["PrometheusProto"] + defaultScrapeProtocols
    static let knownProtocols = Set(protoFirstScrapeProtocols)
    /// Service discovery kinds whose targets we produce.
    public static let supportedSDKinds: Set<String> = ["static_configs", "file_sd_configs", "http_sd_configs", "kubernetes_sd_configs", "dns_sd_configs"]
    static let relabelActions: Set<String> = [
        "replace", "keep", "drop", "hashmod", "labelmap", "labeldrop", "labelkeep", "lowercase", "uppercase", "keepequal", "dropequal",
    ]
    /// Settings a scrape config inherits from `global` when it leaves them unset (or zero).
    static let inheritedLimits = [
        "body_size_limit", "sample_limit", "target_limit", "label_limit", "label_name_length_limit", "label_value_length_limit",
        "keep_dropped_targets", "scrape_failure_log_file",
    ]
    static let inheritedFlags = ["scrape_native_histograms", "extra_scrape_metrics", "always_scrape_classic_histograms", "convert_classic_histograms_to_nhcb"]

    struct Global {
        var intervalMillis: Int64 = 60_000
        var timeoutMillis: Int64 = 10_000
        var protocols: [JSONValue]?
        var limits: [String: JSONValue] = [:]
        var flags: [String: Bool] = [:]
        var validationScheme = "utf8"
        var escapingScheme = "allow-utf-8"
    }

    /// The jobs, and problems and warnings together in file order (jobs with problems are
    /// left out; a warning, such as a service-discovery mechanism not supported here, keeps
    /// its job).
    public static func normalize(global: JSONValue?, scrapeConfigs: [JSONValue]) -> (jobs: [NormalizedJob], problems: [String]) {
        let found = walk(global: global, scrapeConfigs: scrapeConfigs)
        return (found.jobs, found.messages.map(\.text))
    }

    /// `normalize`, with warnings apart from problems (`validate` fails only on problems).
    public static func check(global: JSONValue?, scrapeConfigs: [JSONValue]) -> (jobs: [NormalizedJob], problems: [String], warnings: [String]) {
        let found = walk(global: global, scrapeConfigs: scrapeConfigs)
        return (found.jobs, found.messages.filter { !$0.isWarning }.map(\.text), found.messages.filter(\.isWarning).map(\.text))
    }

    private static func walk(global: JSONValue?, scrapeConfigs: [JSONValue]) -> (jobs: [NormalizedJob], messages: [(isWarning: Bool, text: String)]) {
        var problems: [String] = []
        var messages: [(isWarning: Bool, text: String)] = []
        let g = parseGlobal(global, problems: &problems)
        messages = problems.map { (false, $0) }
        problems = []
        var jobs: [NormalizedJob] = []
        var seen = Set<[UInt8]>()  // job names by their bytes, as Go compares them
        for (i, config) in scrapeConfigs.enumerated() {
            let path = "scrape_configs[\(i)]"
            var jobProblems: [String] = []
            var warnings: [String] = []
            defer {
                messages += problems.map { (false, $0) } + warnings.map { (true, $0) }
                problems = []
            }
            guard let job = normalizeJob(config, path: path, global: g, problems: &jobProblems, warnings: &warnings) else {
                problems += jobProblems.isEmpty ? ["\(path): invalid scrape config"] : jobProblems
                warnings = []
                continue
            }
            guard jobProblems.isEmpty else {
                problems += jobProblems
                warnings = []
                continue
            }
            guard seen.insert(Array(job.name.utf8)).inserted else {
                problems.append("\(path).job_name: duplicate job name \"\(ConfigText.excerpt(job.name))\"")
                warnings = []
                continue
            }
            jobs.append(job)
        }
        return (jobs, messages)
    }

    // MARK: - global

    static func parseGlobal(_ global: JSONValue?, problems: inout [String]) -> Global {
        var g = Global()
        guard let global, global != .null else { return g }
        guard case .object = global else {
            problems.append("global: must be a mapping")
            return g
        }
        var intervalSet = false
        if let v = global["scrape_interval"], v != .null {
            if let ms = duration(v, "global.scrape_interval", &problems) {
                if ms == 0 { problems.append("global.scrape_interval: must be greater than zero") } else {
                    g.intervalMillis = ms
                    intervalSet = true
                }
            }
        }
        var timeoutSet = false
        if let v = global["scrape_timeout"], v != .null, let ms = duration(v, "global.scrape_timeout", &problems), ms != 0 {
            g.timeoutMillis = ms
            timeoutSet = true
        }
        if timeoutSet, g.timeoutMillis > g.intervalMillis {
            problems.append("global.scrape_timeout: global scrape timeout greater than scrape interval")
            g.timeoutMillis = g.intervalMillis
        } else if !timeoutSet, intervalSet, g.timeoutMillis > g.intervalMillis {
            g.timeoutMillis = g.intervalMillis
        }
        if case .array(let protocols)? = global["scrape_protocols"] { g.protocols = protocols }
        for key in inheritedLimits {
            if let v = global[key], v != .null { g.limits[key] = v }
        }
        for key in inheritedFlags {
            if case .bool(let b)? = global[key] { g.flags[key] = b }
        }
        if let s = global["metric_name_validation_scheme"]?.stringValue, !s.isEmpty { g.validationScheme = s }
        if let s = global["metric_name_escaping_scheme"]?.stringValue, !s.isEmpty {
            g.escapingScheme = s
        } else {
            g.escapingScheme = g.validationScheme == "legacy" ? "underscores" : "allow-utf-8"
        }
        return g
    }

    // MARK: - one scrape config

    static func normalizeJob(_ config: JSONValue, path: String, global g: Global, problems: inout [String], warnings: inout [String]) -> NormalizedJob? {
        guard case .object(let members) = config else {
            problems.append("\(path): must be a mapping")
            return nil
        }
        guard let name = config["job_name"]?.stringValue, !name.isEmpty else {
            problems.append("\(path).job_name: required")
            return nil
        }
        var out = OrderedMembers()
        var intervalMillis = g.intervalMillis
        var timeoutMillis: Int64?
        var job = NormalizedJob(name: name, scrapeConfig: .null, scrapeInterval: .zero, scrapeTimeout: .zero)

        for member in members {
            let key = member.key
            let value = member.value
            let at = "\(path).\(key)"
            switch key {
            case "job_name":
                out["job_name"] = .string(name)
            case "scrape_interval":
                if value != .null, let ms = duration(value, at, &problems), ms != 0 { intervalMillis = ms }
            case "scrape_timeout":
                if value != .null, let ms = duration(value, at, &problems), ms != 0 { timeoutMillis = ms }
            case "honor_labels", "honor_timestamps", "track_timestamps_staleness", "enable_compression", "follow_redirects", "enable_http2":
                guard value == .null || value.isBool else {
                    problems.append("\(at): must be a boolean")
                    continue
                }
                if case .bool = value { out[key] = value }
            case "relabel_configs", "metric_relabel_configs":
                guard let rules = list(value, at, &problems) else { continue }
                var served: [JSONValue] = []
                for (r, rule) in rules.enumerated() {
                    if let s = relabelRule(rule, path: "\(at)[\(r)]", problems: &problems) { served.append(s) }
                }
                if key == "relabel_configs" { job.relabelConfigs = rules }
                if !served.isEmpty { out[key] = .array(served) }
            case "static_configs":
                guard let groups = list(value, at, &problems) else { continue }
                var served: [JSONValue] = []
                for (n, group) in groups.enumerated() {
                    guard let parsed = staticGroup(group, path: "\(at)[\(n)]", source: String(n), problems: &problems)
                    else { continue }
                    job.staticGroups.append(parsed.group)
                    served.append(parsed.served)
                }
                if !served.isEmpty { out[key] = .array(served) }
            case "file_sd_configs":
                guard let entries = list(value, at, &problems) else { continue }
                var served: [JSONValue] = []
                for (n, entry) in entries.enumerated() {
                    guard let parsed = fileSD(entry, path: "\(at)[\(n)]", problems: &problems) else { continue }
                    job.fileSD.append(parsed.config)
                    served.append(parsed.served)
                }
                if !served.isEmpty { out[key] = .array(served) }
            case "http_sd_configs":
                guard let entries = list(value, at, &problems) else { continue }
                var served: [JSONValue] = []
                for (n, entry) in entries.enumerated() {
                    guard let parsed = httpSD(entry, path: "\(at)[\(n)]", problems: &problems) else { continue }
                    job.httpSD.append(parsed.config)
                    served.append(parsed.served)
                }
                if !served.isEmpty { out[key] = .array(served) }
            case "dns_sd_configs":
                guard let entries = list(value, at, &problems) else { continue }
                var served: [JSONValue] = []
                for (n, entry) in entries.enumerated() {
                    guard let parsed = dnsSD(entry, path: "\(at)[\(n)]", problems: &problems) else { continue }
                    job.dnsSD.append(parsed.config)
                    served.append(parsed.served)
                }
                if !served.isEmpty { out[key] = .array(served) }
            case "kubernetes_sd_configs":
                guard let entries = list(value, at, &problems) else { continue }
                var served: [JSONValue] = []
                for (n, entry) in entries.enumerated() {
                    guard KubernetesSDConfig(json: entry, problems: &problems, path: "\(at)[\(n)]") != nil else { continue }
                    job.kubernetesSD.append(entry)
                    served.append(kubernetesSDServed(entry))
                }
                if !served.isEmpty { out[key] = .array(served) }
            case "params":
                if case .object(let params) = value, !params.isEmpty { out[key] = value }
            case "metrics_path", "scheme", "fallback_scrape_protocol":
                guard value == .null || value.stringValue != nil else {
                    problems.append("\(at): must be a string")
                    continue
                }
                if let s = value.stringValue, !s.isEmpty { out[key] = value }
                if key == "fallback_scrape_protocol", let s = value.stringValue, !s.isEmpty, !knownProtocols.contains(s) {
                    problems.append("\(at): unknown scrape protocol \"\(ConfigText.excerpt(s))\"")
                }
            case "scrape_protocols":
                guard let protocols = list(value, at, &problems) else { continue }
                for (n, p) in protocols.enumerated() where !(p.stringValue.map(knownProtocols.contains) ?? false) {
                    problems.append("\(at)[\(n)]: unknown scrape protocol \(ConfigText.excerpt(p.serialized))")
                }
                if Set(protocols).count != protocols.count { problems.append("\(at): duplicated protocol in scrape_protocols") }
                out[key] = value
            case "bearer_token", "bearer_token_file":
                if let s = value.stringValue, !s.isEmpty { out[key] = value }
            default:
                if key.hasSuffix("_sd_configs"), !supportedSDKinds.contains(key) {
                    job.unsupportedSD.append(String(key.dropLast("_sd_configs".count)))
                    warnings.append(
                        "\(at): job \"\(name)\": service discovery mechanism \"\(key.dropLast("_sd_configs".count))\" is not supported by this target allocator; its targets are not discovered")
                }
                out[key] = value
            }
        }

        // Intervals, as `ScrapeConfig.Validate(global)` settles them.
        if let t = timeoutMillis, t > intervalMillis {
            problems.append(
                "\(path).scrape_timeout: scrape timeout \(ScrapeDuration.format(milliseconds: t)) greater than scrape interval \(ScrapeDuration.format(milliseconds: intervalMillis)) for job \"\(ConfigText.excerpt(name))\""
            )
        }
        let timeout = timeoutMillis ?? min(g.timeoutMillis, intervalMillis)
        job.scrapeInterval = .milliseconds(intervalMillis)
        job.scrapeTimeout = .milliseconds(timeout)
        out["scrape_interval"] = .string(ScrapeDuration.format(milliseconds: intervalMillis))
        out["scrape_timeout"] = .string(ScrapeDuration.format(milliseconds: timeout))

        // Defaults from `DefaultScrapeConfig` and the HTTP client's defaults.
        out.setDefault("honor_timestamps", .bool(true))
        out.setDefault("track_timestamps_staleness", .bool(false))
        out.setDefault("metrics_path", .string("/metrics"))
        out.setDefault("scheme", .string("http"))
        out.setDefault("enable_compression", .bool(true))
        if out["honor_labels"] == .bool(false) { out.remove("honor_labels") }
        applyHTTPClientDefaults(&out, path: path, problems: &problems)

        // Inherited from global.
        for key in inheritedLimits where out[key] == nil || out[key] == .null || out[key] == .number("0") || out[key] == .string("") {
            if let v = g.limits[key], v != .number("0"), v != .string("") { out[key] = v } else { out.remove(key) }
        }
        for key in inheritedFlags {
            switch out[key] {
            case .bool?: break
            case nil, .null?: out[key] = .bool(g.flags[key] ?? false)
            default: problems.append("\(path).\(key): must be a boolean")
            }
        }
        if out["scrape_protocols"] == nil || out["scrape_protocols"] == .null {
            if let p = g.protocols {
                out["scrape_protocols"] = .array(p)
            } else {
                let native = out["scrape_native_histograms"] == .bool(true)
                out["scrape_protocols"] = .array((native ? protoFirstScrapeProtocols : defaultScrapeProtocols).map(JSONValue.string))
            }
        }
        let localValidation = out["metric_name_validation_scheme"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        switch localValidation {
        case nil: out["metric_name_validation_scheme"] = .string(g.validationScheme)
        case "utf8"?, "legacy"?: break
        case let other?: problems.append("\(path).metric_name_validation_scheme: unknown name validation method \"\(ConfigText.excerpt(other))\", must be either '', 'legacy' or 'utf8'")
        }
        if out["metric_name_escaping_scheme"]?.stringValue.map({ $0.isEmpty }) ?? true {
            let escaping: String
            if localValidation == nil {
                escaping = g.escapingScheme
            } else {
                escaping = localValidation == "legacy" ? "underscores" : "allow-utf-8"
            }
            out["metric_name_escaping_scheme"] = .string(escaping)
        }

        job.scrapeConfig = JSONValue.object(out.members).sortedKeys()
        return job
    }

    // MARK: - HTTP client settings

    /// The inline `HTTPClientConfig` of a scrape config or SD config: defaults, bearer tokens
    /// moved into `authorization`, `authorization.type` defaulting to `Bearer`.
    static func applyHTTPClientDefaults(_ out: inout OrderedMembers, path: String, problems: inout [String]) {
        out.setDefault("follow_redirects", .bool(true))
        out.setDefault("enable_http2", .bool(true))
        let token = out["bearer_token"]?.stringValue
        let tokenFile = out["bearer_token_file"]?.stringValue
        if token != nil, tokenFile != nil {
            problems.append("\(path): at most one of bearer_token & bearer_token_file must be configured")
        }
        if token != nil || tokenFile != nil {
            if out["basic_auth"] != nil || out["oauth2"] != nil {
                problems.append("\(path): at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured")
            }
            if out["authorization"] != nil {
                problems.append("\(path): authorization is not compatible with bearer_token & bearer_token_file")
            } else {
                var auth = OrderedMembers()
                auth["type"] = .string("Bearer")
                if let token { auth["credentials"] = .string(token) }
                if let tokenFile { auth["credentials_file"] = .string(tokenFile) }
                out["authorization"] = .object(auth.members)
            }
            out.remove("bearer_token")
            out.remove("bearer_token_file")
        }
        if case .object(let members)? = out["authorization"] {
            var auth = OrderedMembers(members)
            let type = (auth["type"]?.stringValue ?? "").trimmingSpaces
            auth["type"] = .string(type.isEmpty ? "Bearer" : type)
            if type.lowercased() == "basic" {
                problems.append("\(path).authorization.type: authorization type cannot be set to \"basic\", use \"basic_auth\" instead")
            }
            if out["basic_auth"] != nil || out["oauth2"] != nil {
                problems.append("\(path): at most one of basic_auth, oauth2 & authorization must be configured")
            }
            out["authorization"] = .object(auth.members)
        }
        if case .object(let members)? = out["tls_config"] {
            var tls = OrderedMembers(members)
            tls.setDefault("insecure_skip_verify", .bool(false))
            out["tls_config"] = .object(tls.members)
        }
    }

    // MARK: - relabel rules

    /// A rule with Prometheus's defaults (`separator ";"`, `regex "(.*)"`, `replacement "$1"`,
    /// `action replace`), the action lowercased, and no `regex` on keepequal/dropequal (as the
    /// upstream allocator serves them).
    static func relabelRule(_ rule: JSONValue, path: String, problems: inout [String]) -> JSONValue? {
        guard case .object(let members) = rule else {
            problems.append("\(path): empty or null relabeling rule")
            return nil
        }
        var out = OrderedMembers(members)
        // An explicit null is what Prometheus's YAML unmarshalling makes of it: the zero value ""
        // (for regex, the empty regex), not the default. Served as "" so collectors agree.
        for key in ["separator", "regex", "replacement"] where out[key] == .null {
            out[key] = .string("")
        }
        if out["action"] == .null {
            problems.append("\(path).action: relabel action cannot be empty")
        }
        out.setDefault("separator", .string(";"))
        out.setDefault("regex", .string("(.*)"))
        out.setDefault("replacement", .string("$1"))
        let action = (out["action"]?.stringValue ?? "replace").lowercased()
        if !relabelActions.contains(action) {
            problems.append("\(path).action: unknown relabel action \(ConfigText.excerpt(out["action"]?.serialized ?? ""))")
        }
        out["action"] = .string(action)
        for key in ["separator", "regex", "replacement", "target_label"] {
            if case .number(let n)? = out[key] { out[key] = .string(n) }
        }
        if action == "keepequal" || action == "dropequal" { out.remove("regex") }
        if out["source_labels"].map({ $0 == .null || $0 == .array([]) }) ?? false { out.remove("source_labels") }
        if out["target_label"] == .string("") { out.remove("target_label") }
        if out["modulus"] == .number("0") { out.remove("modulus") }
        return .object(out.members)
    }

    // MARK: - SD configs

    static func staticGroup(_ group: JSONValue, path: String, source: String, problems: inout [String]) -> (group: TargetGroup, served: JSONValue)? {
        guard case .object(let members) = group else {
            problems.append("\(path): must be a mapping")
            return nil
        }
        var parsed = TargetGroup(source: source)
        var labels: [JSONMember] = []
        var addresses: [JSONValue] = []
        for member in members {
            switch member.key {
            case "targets":
                guard let items = list(member.value, "\(path).targets", &problems) else { return nil }
                for (t, item) in items.enumerated() {
                    guard let address = item.scalarString else {
                        problems.append("\(path).targets[\(t)]: must be a string")
                        return nil
                    }
                    parsed.targets.append(["__address__": address])
                    addresses.append(.string(address))
                }
            case "labels":
                guard member.value != .null else { continue }
                guard case .object(let pairs) = member.value else {
                    problems.append("\(path).labels: must be a mapping")
                    return nil
                }
                for pair in pairs {
                    guard let value = pair.value.scalarString else {
                        problems.append("\(path).labels.\(pair.key): must be a string")
                        return nil
                    }
                    guard isValidLabelName(pair.key) else {
                        problems.append("\(path).labels: \"\(pair.key)\" is not a valid label name")
                        return nil
                    }
                    parsed.labels[pair.key] = value
                    labels.append(JSONMember(pair.key, .string(value)))
                }
            default:
                problems.append("\(path).\(member.key): unknown field in a target group")
                return nil
            }
        }
        var served = [JSONMember("targets", .array(addresses))]
        if !labels.isEmpty { served.append(JSONMember("labels", .object(labels))) }
        return (parsed, .object(served))
    }

    static func fileSD(_ entry: JSONValue, path: String, problems: inout [String]) -> (config: FileSDConfig, served: JSONValue)? {
        guard case .object(let members) = entry else {
            problems.append("\(path): must be a mapping")
            return nil
        }
        let start = problems.count
        var config = FileSDConfig(files: [])
        var out = OrderedMembers(members)
        if let files = list(entry["files"] ?? .null, "\(path).files", &problems) {
            for (n, file) in files.enumerated() {
                guard let name = file.stringValue else {
                    problems.append("\(path).files[\(n)]: must be a string")
                    continue
                }
                if !FileSDProvider.isValidPattern(name) {
                    problems.append("\(path).files[\(n)]: path name \"\(ConfigText.excerpt(name))\" is not valid for file discovery")
                }
                config.files.append(name)
            }
        }
        if config.files.isEmpty, problems.count == start {
            problems.append("\(path).files: file service discovery config must contain at least one path name")
        }
        if let v = entry["refresh_interval"], v != .null, let ms = duration(v, "\(path).refresh_interval", &problems), ms != 0 {
            config.refreshInterval = .milliseconds(ms)
        }
        out["refresh_interval"] = .string(ScrapeDuration.format(config.refreshInterval))
        for member in members where !["files", "refresh_interval"].contains(member.key) {
            problems.append("\(path).\(member.key): unknown field in file_sd_config")
        }
        return problems.count == start ? (config, .object(out.members)) : nil
    }

    static func httpSD(_ entry: JSONValue, path: String, problems: inout [String]) -> (config: HTTPSDConfig, served: JSONValue)? {
        guard case .object(let members) = entry else {
            problems.append("\(path): must be a mapping")
            return nil
        }
        let start = problems.count
        var out = OrderedMembers(members)
        let url = entry["url"]?.stringValue ?? ""
        var config = HTTPSDConfig(url: url)
        if url.isEmpty {
            problems.append("\(path).url: URL is missing")
        } else if let parsed = ParsedURL(url) {
            if parsed.host.isEmpty { problems.append("\(path).url: host is missing in URL") }
        } else {
            problems.append("\(path).url: URL scheme must be 'http' or 'https'")
        }
        if let v = entry["refresh_interval"], v != .null, let ms = duration(v, "\(path).refresh_interval", &problems), ms != 0 {
            config.refreshInterval = .milliseconds(ms)
        }
        out["refresh_interval"] = .string(ScrapeDuration.format(config.refreshInterval))
        applyHTTPClientDefaults(&out, path: path, problems: &problems)
        config.followRedirects = out["follow_redirects"] != .bool(false)
        config.enableHTTP2 = out["enable_http2"] != .bool(false)
        if case .object? = out["basic_auth"], let b = out["basic_auth"] {
            config.basicAuth = .init(
                username: b["username"]?.scalarString ?? "", usernameFile: b["username_file"]?.stringValue, password: b["password"]?.scalarString,
                passwordFile: b["password_file"]?.stringValue)
        }
        if case .object? = out["authorization"], let a = out["authorization"] {
            config.authorization = .init(
                type: a["type"]?.stringValue ?? "Bearer", credentials: a["credentials"]?.scalarString, credentialsFile: a["credentials_file"]?.stringValue)
        }
        if case .object? = out["tls_config"], let t = out["tls_config"] {
            config.tlsConfig = .init(
                caFile: t["ca_file"]?.stringValue, ca: t["ca"]?.stringValue, certFile: t["cert_file"]?.stringValue, cert: t["cert"]?.stringValue,
                keyFile: t["key_file"]?.stringValue, key: t["key"]?.stringValue, serverName: t["server_name"]?.stringValue,
                insecureSkipVerify: t["insecure_skip_verify"] == .bool(true))
        }
        if case .object(let headers)? = out["http_headers"] {
            for header in headers {
                for key in ["values", "secrets"] {
                    guard case .array(let values)? = header.value[key] else { continue }
                    for value in values { if let v = value.scalarString { config.headers.append((header.key, v)) } }
                }
            }
        }
        return problems.count == start ? (config, .object(out.members)) : nil
    }

    /// A `kubernetes_sd_configs` entry as Prometheus marshals it back.
    static func kubernetesSDServed(_ entry: JSONValue) -> JSONValue {
        guard case .object(let members) = entry else { return entry }
        var out = OrderedMembers(members)
        out.setDefault("kubeconfig_file", .string(""))
        if out["api_server"] == .string("") || out["api_server"] == .null { out.remove("api_server") }
        var ignored: [String] = []
        applyHTTPClientDefaults(&out, path: "", problems: &ignored)
        if case .object(let ns)? = out["namespaces"] {
            var namespaces = OrderedMembers(ns)
            namespaces.setDefault("own_namespace", .bool(false))
            namespaces.setDefault("names", .array([]))
            if namespaces["own_namespace"] == .bool(false), namespaces["names"] == .array([]) {
                out.remove("namespaces")
            } else {
                out["namespaces"] = .object(namespaces.members)
            }
        } else {
            out.remove("namespaces")
        }
        if out["selectors"] == .null || out["selectors"] == .array([]) { out.remove("selectors") }
        if case .object(let a)? = out["attach_metadata"] {
            var attach = OrderedMembers(a)
            for key in ["node", "namespace", "deployment", "job", "cronjob"] { attach.setDefault(key, .bool(false)) }
            if attach.members.allSatisfy({ $0.value == .bool(false) }) {
                out.remove("attach_metadata")
            } else {
                out["attach_metadata"] = .object(attach.members)
            }
        } else {
            out.remove("attach_metadata")
        }
        return .object(out.members)
    }

    // MARK: - helpers

    static func duration(_ value: JSONValue, _ path: String, _ problems: inout [String]) -> Int64? {
        guard let text = value.stringValue ?? (value == .number("0") ? "0" : nil) else {
            problems.append("\(path): not a valid duration string: \(ConfigText.excerpt(value.serialized))")
            return nil
        }
        do {
            return try ScrapeDuration.milliseconds(text)
        } catch {
            problems.append("\(path): \(error): \"\(ConfigText.excerpt(text))\"")
            return nil
        }
    }

    static func list(_ value: JSONValue, _ path: String, _ problems: inout [String]) -> [JSONValue]? {
        switch value {
        case .null: return []
        case .array(let items): return items
        default:
            problems.append("\(path): must be a list")
            return nil
        }
    }

    /// Prometheus's default (UTF-8) label-name rule: any non-empty valid UTF-8 string.
    static func isValidLabelName(_ name: String) -> Bool { !name.isEmpty }
}

/// Object members in insertion order with keyed access; small enough that linear search is fine.
struct OrderedMembers {
    var members: [JSONMember]

    init(_ members: [JSONMember] = []) { self.members = members }

    subscript(key: String) -> JSONValue? {
        get { members.first { $0.key == key }?.value }
        set {
            if let i = members.firstIndex(where: { $0.key == key }) {
                if let newValue { members[i].value = newValue } else { members.remove(at: i) }
            } else if let newValue {
                members.append(JSONMember(key, newValue))
            }
        }
    }

    mutating func setDefault(_ key: String, _ value: JSONValue) {
        if self[key] == nil || self[key] == .null { self[key] = value }
    }

    mutating func remove(_ key: String) { members.removeAll { $0.key == key } }
}

/// `scheme://host[:port]/...` for http and https URLs; nil for any other scheme.
struct ParsedURL {
    var scheme: String
    var host: String

    init?(_ text: String) {
        guard let range = text.range(of: "://") else { return nil }
        scheme = text[..<range.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        let rest = text[range.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        host = String(authority.split(separator: "@", omittingEmptySubsequences: false).last ?? "")
    }
}

extension JSONValue {
    var isBool: Bool {
        if case .bool = self { return true }
        return false
    }

    /// A scalar as text, as Go's YAML decoder reads a scalar into a string field.
    var scalarString: String? {
        switch self {
        case .string(let s): return s
        case .number(let n): return n
        case .bool(let b): return b ? "true" : "false"
        default: return nil
        }
    }

    /// The same value with every object's members in byte order of their keys, as Go's
    /// `encoding/json` writes maps.
    func sortedKeys() -> JSONValue {
        switch self {
        case .object(let members):
            return .object(
                members.map { JSONMember($0.key, $0.value.sortedKeys()) }
                    .sorted { $0.key.bytesPrecede($1.key) })
        case .array(let items):
            return .array(items.map { $0.sortedKeys() })
        default:
            return self
        }
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}
