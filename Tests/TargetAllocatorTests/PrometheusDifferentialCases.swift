import Foundation
import JSON
import Relabel
import TestSupport

/// One scrape job of the differential test: its settings, relabel rules and file SD targets.
struct GeneratedJob {
    struct Target {
        var tid: String
        var address: String
        /// Group labels as written to the file (empty values included).
        var labels: [(String, String)]

        /// What the allocator serves: the labels as discovered, with file SD's `__meta_filepath`.
        func servedLabels(file path: String) -> [[UInt8]: [UInt8]] {
            var out: [[UInt8]: [UInt8]] = [:]
            for (k, v) in labels { out[Array(k.utf8)] = Array(v.utf8) }
            out[Array("__address__".utf8)] = Array(address.utf8)
            out[Array("__meta_filepath".utf8)] = Array(path.utf8)
            return out
        }
    }

    var name: String
    /// Scrape settings (`scrape_timeout`, `metrics_path`, `scheme`, `params`), as JSON members.
    var settings: [JSONMember] = []
    var params: [(String, String)] = []
    var rules: [JSONValue] = []
    var targets: [Target] = []
    /// Run by the allocator too (the fold job is Prometheus-only: its cost is all rules × all targets).
    var inAllocator = true
    var isFold = false
    var filePath = ""

    /// Generated names need no URL escaping.
    var fileName: String { "sd-\(name).json" }

    /// The file SD document: one group per target.
    func fileSD() -> [UInt8] {
        let groups = JSONValue.array(targets.map { t in
            .object([
                JSONMember("targets", .array([.string(t.address)])),
                JSONMember("labels", .object(t.labels.map { JSONMember($0.0, .string($0.1)) })),
            ])
        })
        var out: [UInt8] = []
        groups.write(into: &out)
        return out
    }

    func scrapeConfig() -> JSONValue {
        .object([JSONMember("job_name", .string(name))] + settings + [
            JSONMember("file_sd_configs", .array([.object([JSONMember("files", .array([.string(filePath)]))])])),
            JSONMember("relabel_configs", .array(rules)),
        ])
    }

    /// The rules through the Relabel module's own parser, as Prometheus `options` reads them.
    func parsedRules(options: RelabelOptions) throws -> [RelabelConfig] {
        try RelabelConfig.parseList(rules.map { rule in
            guard case .object(let members) = rule else { return [:] }
            var fields: [String: RelabelInput] = [:]
            for m in members {
                switch m.value {
                case .null: fields[m.key] = .null
                case .string(let s): fields[m.key] = .string(s)
                case .number(let n): fields[m.key] = Int(n).map(RelabelInput.int) ?? .string(n)
                case .array(let xs): fields[m.key] = .strings(xs.compactMap(\.stringValue))
                case .bool(let b): fields[m.key] = .string(b ? "true" : "false")
                case .object: break
                }
            }
            return fields
        }, options: options)
    }

    /// A target for a failure message: its labels as written and what Prometheus made of it.
    func describe(_ tid: String, _ oracle: PrometheusDifferentialTests.Oracle) -> String {
        let t = targets.first { $0.tid == tid }
        let labels = (t?.labels ?? []).map { "\($0.0)=\($0.1.debugDescription)\($0.1.unicodeScalars.map { String($0.value, radix: 16) })" }
        let verdict = oracle.active[tid].map { "\($0.labels)" } ?? (oracle.noAddress.contains(tid) ? "no address" : "dropped")
        return "\(tid) address \(t?.address.debugDescription ?? "?") labels \(labels) → Prometheus \(verdict)"
    }

    var timeout: String { settings.first { $0.key == "scrape_timeout" }?.value.stringValue ?? "1s" }
    var metricsPath: String { settings.first { $0.key == "metrics_path" }?.value.stringValue ?? "/metrics" }
    var scheme: String { settings.first { $0.key == "scheme" }?.value.stringValue ?? "http" }

    /// What Prometheus 2.42 hands to relabeling (`scrape.PopulateLabels`): the group labels and the
    /// address, file SD's `__meta_filepath`, `job`, `__scrape_interval__`, `__scrape_timeout__`,
    /// `__metrics_path__` and `__scheme__` where absent or empty, and the job's params (2.42
    /// overwrites `__param_*`; 3.x fills in). Its own `discoveredLabels` cannot be used: see the suite.
    func prometheus242Input(_ target: Target) -> [Label] {
        var labels = target.labels.map { Label(name: $0.0, value: $0.1) }
        labels.append(Label(name: "__address__", value: target.address))
        labels.append(Label(name: "__meta_filepath", value: filePath))
        func value(_ label: String) -> String { labels.last { $0.name == label }?.value ?? "" }
        let seeds = [("job", name), ("__scrape_interval__", "1h"), ("__scrape_timeout__", timeout),
                     ("__metrics_path__", metricsPath), ("__scheme__", scheme)]
        for (label, seed) in seeds where value(label).isEmpty { labels.append(Label(name: label, value: seed)) }
        for (param, first) in params { labels.append(Label(name: "__param_" + param, value: first)) }
        return labels
    }
}

/// The seeded generator. Values mix canonically equivalent spellings, case-folding partners,
/// words and empty strings; rules draw on every action, separators and replacements including
/// explicit nulls, the scrape defaults Prometheus fills in, and pathological regexes.
struct CaseGenerator {
    var rng: SeededRandom

    init(seed: UInt64) { rng = SeededRandom(state: seed) }

    static let spellings = [
        "é", "e\u{301}", "É", "E\u{301}", "Å", "\u{212B}", "A\u{30A}", "å", "K", "\u{212A}", "k", ";", "\u{37E}", "ſ", "s", "S",
        "σ", "ς", "Σ", "µ", "μ", "Μ", "ß", "ẞ", "ss", "SS", "İ", "i", "ı", "I", "ǅ", "ǆ", "Ǆ", "Ω", "\u{2126}", "ω", "θ", "ϑ", "ϴ",
    ]
    /// Canonically equivalent (to Swift's `==`), byte-different spellings.
    static let twins = ["é", "e\u{301}", "Å", "\u{212B}", "A\u{30A}", "K", "\u{212A}", ";", "\u{37E}"]
    static let words = ["web", "api", "WEB", "Api", "db", "x", "abc", "a;b", "10", "true", "Web-1", "API-2", "café", "cafe\u{301}", "aaab"]
    static let regexes = [
        "(?i)[a-z]+", "(?i)[^a-z]+", "[[:upper:]]+", "\\p{Lu}.*", "(?i)\\p{Ll}+", ".*é.*", ".*e\u{301}.*", "(?i).*Å.*", "(?i)(web|api).*",
        "", "(.+)", "e\u{301}|é", "(?i)K|k", "\\x{212A}", ".*[\\x{300}-\\x{36f}].*", "(?i)s+", "(?i)[^s]+", "(?i)σ+|ς+", "(?i)[ſk]+",
        "a;b|a\u{37E}b", "(a+)+b", "(a|aa)*c", "(?i)(?P<w>[a-z]+)-\\d", "[^;]*", "(?i)\\x{3a3}", "(?i)ss|ß",
    ]
    static let pathological = ["(a+)+b", "(a|aa)*c", "(.*a){25}", "(x+x+)+y"]

    mutating func pick<T>(_ xs: [T]) -> T { xs[Int.random(in: 0..<xs.count, using: &rng)] }
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &rng) < p }

    mutating func value() -> String {
        switch Int.random(in: 0..<20, using: &rng) {
        case 0..<3: return ""
        case 3..<12: return pick(Self.spellings)
        case 12..<18: return pick(Self.words)
        default: return pick(Self.words) + pick(Self.spellings) + pick(Self.words)
        }
    }

    mutating func regex() -> String {
        switch Int.random(in: 0..<10, using: &rng) {
        case 0..<3: return pick(Self.spellings)
        case 3..<5: return "(?i)" + pick(Self.spellings + Self.words)
        default: return pick(Self.regexes)
        }
    }

    func rule(_ members: [(String, JSONValue)]) -> JSONValue { .object(members.map { JSONMember($0.0, $0.1) }) }
    func names(_ xs: [String]) -> JSONValue { .array(xs.map(JSONValue.string)) }

    /// Three kinds of job settings: defaults, a probe-like job with a param, and explicit timeouts.
    mutating func jobs(count: Int, targetsPerJob: Int) -> [GeneratedJob] {
        var jobs: [GeneratedJob] = []
        var nextTid = 0
        for j in 0..<count {
            var job = GeneratedJob(name: "gen-\(j)")
            switch j % 3 {
            case 1:
                job.settings = [
                    JSONMember("metrics_path", .string("/probe")), JSONMember("scheme", .string("https")),
                    JSONMember("params", .object([JSONMember("module", .array([.string("icmp")]))])),
                    JSONMember("scrape_timeout", .string("5s")),
                ]
                job.params = [("module", "icmp")]
            case 2: job.settings = [JSONMember("scrape_timeout", .string("1s")), JSONMember("metrics_path", .string("/metrics"))]
            default: break
            }
            job.rules = rules(hasParams: !job.params.isEmpty)
            for _ in 0..<targetsPerJob {
                job.targets.append(target(tid: "t\(nextTid)", hasParams: !job.params.isEmpty))
                nextTid += 1
            }
            jobs.append(job)
        }
        return jobs
    }

    mutating func target(tid: String, hasParams: Bool) -> GeneratedJob.Target {
        // `A` sorts first, so in every target its value sits at the same place in the snapshot's
        // string cache, where a spelling compared with Swift's `==` would take an earlier one's bytes.
        var labels: [(String, String)] = [("tid", tid), ("A", pick(Self.twins))]
        for name in ["v1", "v2", "v3", "v4"] where chance(0.85) { labels.append((name, value())) }
        // An empty address is filled in from `host` by the first rule (or the target has no address).
        let address = chance(0.15) ? "" : "192.0.2.\(Int.random(in: 1...254, using: &rng)):\(Int.random(in: 1000...9999, using: &rng))"
        if chance(0.25) { labels.append(("host", "192.0.2.\(Int.random(in: 1...254, using: &rng))")) }
        if chance(0.2) { labels.append(("long", chance(0.8) ? String(repeating: "a", count: 3000) + "!" : "aaab")) }
        // Scrape defaults given empty (Prometheus fills them in) or set.
        if chance(0.15) { labels.append(("job", chance(0.7) ? "" : "custom")) }
        if chance(0.15) { labels.append(("__scheme__", chance(0.7) ? "" : "https")) }
        if chance(0.15) { labels.append(("__metrics_path__", chance(0.7) ? "" : "/alt")) }
        if chance(0.1) { labels.append(("__scrape_interval__", "")) }
        if chance(0.1) { labels.append(("__scrape_timeout__", "")) }
        // Prometheus 2.x overwrites a job param whatever the target says; 3.x only fills it in.
        if chance(0.15) { labels.append(("__param_module", hasParams ? "" : pick(Self.words))) }
        return GeneratedJob.Target(tid: tid, address: address, labels: labels)
    }

    mutating func rules(hasParams: Bool) -> [JSONValue] {
        let v = ["v1", "v2", "v3", "v4"]
        var out: [JSONValue] = [
            rule([("source_labels", names(["host"])), ("regex", .string("(.+)")), ("target_label", .string("__address__")), ("replacement", .string("${1}:9"))]),
            // The defaults, seen through labels and decisions.
            rule([("source_labels", names(["job"])), ("target_label", .string("seen_job"))]),
            rule([("source_labels", names(["__scheme__", "__metrics_path__"])), ("separator", .string("|")), ("target_label", .string("seen_sp"))]),
            rule([("source_labels", names(["__scrape_interval__", "__scrape_timeout__"])), ("target_label", .string("seen_iv"))]),
            rule([("source_labels", names(["job"])), ("regex", .string("")), ("action", .string("drop"))]),
            rule([("source_labels", names(["__scheme__", "__metrics_path__", "__scrape_interval__"])), ("regex", .string("https?;/.+;1h")), ("action", .string("keep"))]),
        ]
        if hasParams || chance(0.5) { out.append(rule([("source_labels", names(["__param_module"])), ("target_label", .string("seen_param"))])) }
        for _ in 0..<Int.random(in: 6...10, using: &rng) {
            switch Int.random(in: 0..<11, using: &rng) {
            case 0, 1:
                out.append(rule([("source_labels", names([pick(v)])), ("regex", .string(regex())), ("action", .string(chance(0.75) ? "drop" : "keep"))]))
            case 2:
                out.append(rule([("source_labels", names([pick(v)])), ("target_label", .string(pick(v))), ("action", .string(chance(0.5) ? "keepequal" : "dropequal"))]))
            case 3, 4:
                let separator: JSONValue = pick([.string(";"), .null, .string(""), .string("\u{37E}"), .string("|")])
                let regex: JSONValue = pick([.string("(.*)"), .string("(.*);(.*)"), .string("(?i)(.*)é(.*)"), .null, .string("(?P<first>[^;]*);(?P<second>.*)"), .string("(.+)"), .string("(.*)\u{37E}(.*)")])
                let replacement: JSONValue = pick([.string("$1"), .string("${1}x"), .string("$1x"), .string("$first-$second"), .string("${2}"), .string("$$1"), .null, .string(""), .string("const"), .string("$2$1")])
                var members: [(String, JSONValue)] = [("source_labels", names([pick(v), pick(v)])), ("target_label", .string(pick(["out_a", "out_b", "v3"])))]
                if separator != .string(";") || chance(0.5) { members.append(("separator", separator)) }
                if regex != .string("(.*)") || chance(0.5) { members.append(("regex", regex)) }
                if replacement != .string("$1") || chance(0.5) { members.append(("replacement", replacement)) }
                out.append(rule(members))
            case 5:
                out.append(rule([("source_labels", names([pick(v)])), ("target_label", .string("out_c")), ("action", .string(chance(0.5) ? "lowercase" : "uppercase"))]))
            case 6:
                out.append(rule([("source_labels", names([pick(v)])), ("modulus", .number("7")), ("target_label", .string("out_h")), ("action", .string("hashmod"))]))
                if chance(0.5) { out.append(rule([("source_labels", names(["out_h"])), ("regex", .string("0")), ("action", .string("drop"))])) }
            case 7:
                out.append(rule([("regex", .string("v([12])")), ("replacement", .string("mapped_$1")), ("action", .string("labelmap"))]))
            case 8:
                out.append(rule([("regex", pick([.string("v4"), .string("out_.*"), .string("seen_sp")])), ("action", .string("labeldrop"))]))
            case 9:
                out.append(rule([("source_labels", names(["long"])), ("regex", .string(pick(Self.pathological))), ("action", .string("drop"))]))
            default:
                out.append(rule([("source_labels", names([pick(v), "out_a"])), ("separator", .null), ("regex", .string(regex())), ("action", .string("drop"))]))
            }
        }
        return out
    }

    /// `(?i)` on every cased character (Unicode ≤ 13, which Debian's Go and RE2 both have) against
    /// every other: one rule per pattern character writes `m<i>` when it matches the target's `v`.
    static func foldJob() -> GeneratedJob {
        var job = GeneratedJob(name: "fold")
        job.inAllocator = false
        job.isFold = true
        let characters = foldCharacters()
        job.rules = characters.enumerated().map { i, c in
            .object([
                JSONMember("source_labels", .array([.string("v")])), JSONMember("regex", .string("(?i)" + String(Character(c)))),
                JSONMember("target_label", .string("m\(i)")), JSONMember("replacement", .string("1")),
            ])
        }
        job.targets = characters.enumerated().map { i, c in
            GeneratedJob.Target(tid: "f\(i)", address: "192.0.2.1:9", labels: [("tid", "f\(i)"), ("v", String(Character(c)))])
        }
        return job
    }

    static func foldCharacters() -> [Unicode.Scalar] {
        let ranges: [ClosedRange<UInt32>] = [
            0x41...0x7A, 0xB5...0xB5, 0xC0...0x24F, 0x345...0x345, 0x370...0x3FF, 0x400...0x52F, 0x531...0x586, 0x10A0...0x10FF,
            0x13A0...0x13FD, 0x1C80...0x1C88, 0x1C90...0x1CBF, 0x1E00...0x1FFF, 0x2126...0x2126, 0x212A...0x212B, 0x2C00...0x2C5F,
            0xA640...0xA69F, 0xAB70...0xABBF, 0x10400...0x1044F,
        ]
        return ranges.flatMap { $0 }.compactMap(Unicode.Scalar.init).filter { u in
            guard let age = u.properties.age, age.major < 13 || (age.major == 13 && age.minor == 0) else { return false }
            return u.properties.changesWhenCaseMapped || u.properties.changesWhenCaseFolded
        }
    }

    static func globalSettings() -> JSONValue {
        .object([JSONMember("scrape_interval", .string("1h")), JSONMember("scrape_timeout", .string("1s"))])
    }

    static func prometheusConfig(_ jobs: [GeneratedJob]) -> [UInt8] {
        let config = JSONValue.object([
            JSONMember("global", globalSettings()), JSONMember("scrape_configs", .array(jobs.map { $0.scrapeConfig() })),
        ])
        var out: [UInt8] = []
        config.write(into: &out)
        return out
    }

    static func allocatorConfig(_ jobs: [GeneratedJob]) -> String {
        var config: [UInt8] = []
        JSONValue.object([JSONMember("global", globalSettings()), JSONMember("scrape_configs", .array(jobs.map { $0.scrapeConfig() }))])
            .write(into: &config)
        return """
            collector_namespace: \(ClusterHarness.namespace)
            collector_selector: {matchlabels: {app: collector}}
            leader_election: {lease_duration: 3s, renew_deadline: 2s, retry_period: 500ms}
            snapshot: {min_write_interval: 100ms}
            config: \(String(decoding: config, as: UTF8.self))

            """
    }
}
