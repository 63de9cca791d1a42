import Discovery
import Foundation
import TestSupport
import Testing

@testable import TargetAllocator

/// Config files that must be refused with a short, clear error and nothing else (issue 15):
/// the leader parses the file again on every change, so a bad file must not crash, hang or
/// flood the log of the leader or of any replica that takes over.
@Suite struct BadConfigTests {
    static func problems(_ text: String) -> [String] {
        do {
            _ = try AllocatorConfig.parse(text)
            return []
        } catch let error as AllocatorConfig.Problems {
            return error.problems
        } catch {
            return ["unexpected \(error)"]
        }
    }

    static let oneJob = "config:\n  scrape_configs:\n  - job_name: a\n    static_configs: [{targets: [\"x:1\"]}]\n"

    /// Cases from Go's own `time` tests (`parseDurationTests`, `parseDurationErrorTests`).
    @Test func goDurationsAsGoParsesThem() throws {
        let valid: [(String, Int64)] = [
            ("0", 0), ("5s", 5_000_000_000), ("-5s", -5_000_000_000), ("+5s", 5_000_000_000), ("-0", 0), ("5.6s", 5_600_000_000),
            ("5.s", 5_000_000_000), (".5s", 500_000_000), ("1.004s", 1_004_000_000), ("100.00100s", 100_001_000_000), ("10ns", 10),
            ("11us", 11_000), ("12\u{B5}s", 12_000), ("12\u{3BC}s", 12_000), ("13ms", 13_000_000), ("15m", 900_000_000_000),
            ("16h", 57_600_000_000_000), ("3h30m", 12_600_000_000_000), ("10.5s4m", 250_500_000_000),
            ("-2m3.4s", -123_400_000_000), ("1h2m3s4ms5us6ns", 3_723_004_005_006), ("39h9m14.425s", 140_954_425_000_000),
            ("9007199254740993ns", 9_007_199_254_740_993), ("0.3333333333333333333h", 1_200_000_000_000),
            ("9223372036854775807ns", Int64.max), ("9223372036s854ms775us807ns", Int64.max), ("-9223372036854775808ns", Int64.min),
            ("-2562047h47m16.854775808s", Int64.min), ("0.100000000000000000000h", 360_000_000_000),
            ("0.830103483285477580700h", 2_988_372_539_827),
        ]
        for (text, nanoseconds) in valid {
            #expect(try GoDuration.nanoseconds(text) == nanoseconds, "\(text)")
        }
        let invalid: [(String, GoDuration.Invalid)] = [
            ("", .syntax), ("3", .missingUnit), ("-", .syntax), ("s", .syntax), (".", .syntax), ("-.", .syntax), (".s", .syntax),
            ("+.s", .syntax), ("1d", .unknownUnit("d")), ("9223372036854775810ns", .outOfRange), ("9223372036854775808ns", .outOfRange),
            ("9223372036854775.808us", .outOfRange), ("9223372036854ms775us808ns", .outOfRange), ("-9223372036854775809ns", .outOfRange),
            ("999999999999999999999999h", .outOfRange),
        ]
        for (text, reason) in invalid {
            #expect(throws: reason, "\(text)") { try GoDuration.nanoseconds(text) }
        }
    }

    /// Prometheus's `model.ParseDuration` refuses more than 2⁶³−1 ns ("duration out of range").
    @Test func prometheusDurationsOverflowCleanly() {
        #expect(ScrapeDuration.parseMilliseconds("106751d") == Int64(106_751) * 86_400_000)
        #expect(throws: ScrapeDuration.Invalid.outOfRange) { try ScrapeDuration.milliseconds("106752d") }
        #expect(throws: ScrapeDuration.Invalid.outOfRange) { try ScrapeDuration.milliseconds("999999999999999y") }
        #expect(throws: ScrapeDuration.Invalid.outOfRange) { try ScrapeDuration.milliseconds("99999999999999999999999s") }
        let found = ScrapeConfigModel.normalize(
            global: .object([.init("scrape_interval", .string("999999999999999y"))]),
            scrapeConfigs: [
                .object([
                    .init("job_name", .string("a")), .init("scrape_timeout", .string("300y")),
                    .init("file_sd_configs", .array([.object([.init("files", .array([.string("a.json")])), .init("refresh_interval", .string("293y"))])])),
                ])
            ])
        #expect(
            found.problems == [
                "global.scrape_interval: duration out of range: \"999999999999999y\"", "scrape_configs[0].scrape_timeout: duration out of range: \"300y\"",
                "scrape_configs[0].file_sd_configs[0].refresh_interval: duration out of range: \"293y\"",
            ])
    }

    @Test func overflowingDurationsNameTheirPath() {
        #expect(Self.problems(Self.oneJob + "leader_election: {lease_duration: 999999999999999y}\n") == [
            "leader_election.lease_duration: \"999999999999999y\": unknown unit \"y\" (ns, us, ms, s, m or h)"
        ])
        #expect(Self.problems(Self.oneJob + "leader_election: {lease_duration: 9999999999999999h}\n") == [
            "leader_election.lease_duration: \"9999999999999999h\": out of range (at most about 292 years)"
        ])
        #expect(Self.problems(Self.oneJob + "collector_not_ready_grace_period: 2562048h\n") == [
            "collector_not_ready_grace_period: \"2562048h\": out of range (at most about 292 years)"
        ])
        #expect(Self.problems(Self.oneJob + "prometheus_cr: {scrape_interval: 99999999999999999999s}\n") == [
            "prometheus_cr.scrape_interval: \"99999999999999999999s\": out of range (at most about 292 years)"
        ])
        #expect(Self.problems(Self.oneJob + "snapshot: {min_write_interval: 9223372036854775807}\n").isEmpty, "nanoseconds, as mapstructure decodes a number")
    }

    /// A 600-byte "billion laughs": go-yaml refuses it ("excessive aliasing") after a few
    /// thousand nodes; so do we, instead of expanding it to 9⁹ strings.
    @Test func aliasBombIsRefused() {
        var bomb = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        for (name, previous) in zip(["b", "c", "d", "e", "f", "g", "h", "i"], ["a", "b", "c", "d", "e", "f", "g", "h"]) {
            bomb += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ",") + "]\n"
        }
        #expect(bomb.utf8.count < 700)
        let problems = Self.problems(bomb)
        #expect(problems.count == 1 && problems[0].contains("excessive aliasing"), "\(problems)")
        // As a mapping key, the same structure must not be hashed into exponential time either.
        let problemsAsKey = Self.problems(bomb + "j: {*i : x}\n")
        #expect(problemsAsKey.count == 1 && problemsAsKey[0].contains("may not have keys that are aliases"), "\(problemsAsKey)")
    }

    /// Aliases within go-yaml's ratio are fine, and so are YAML merge keys (`<<`), which
    /// go-yaml applies: written keys win, earlier merged mappings win over later ones.
    @Test func ordinaryAliasesAndMergesWork() throws {
        let text = """
            defaults: &defaults {scrape_interval: 10s, metrics_path: /m}
            other: &other {metrics_path: /other, scheme: https}
            config:
              scrape_configs:
              - <<: [*defaults, *other]
                job_name: a
                scrape_interval: 20s
                static_configs: [{targets: ["x:1"]}]
            """
        let config = try AllocatorConfig.parse(text)
        #expect(config.warnings == ["defaults: unknown key, ignored", "other: unknown key, ignored"])
        #expect(
            config.scrapeConfigs[0].serialized
                == #"{"job_name":"a","scrape_interval":"20s","static_configs":[{"targets":["x:1"]}],"metrics_path":"/m","scheme":"https"}"#)
    }

    @Test func expandedSizeIsBounded() {
        // 1 MiB of text, aliased 70 times: few nodes (under go-yaml's threshold), 70 MiB expanded.
        let big = String(repeating: "x", count: 1 << 20)
        let text = "a: &a \"\(big)\"\nb: [" + Array(repeating: "*a", count: 70).joined(separator: ",") + "]\n"
        #expect(Self.problems(text) == ["the document expands to more than 64 MiB of text"])
        // More values than any config has, with aliases kept under go-yaml's ratio (18 % of
        // the nodes written out, where it allows 84 % through aliases at a million nodes).
        let list = "[" + Array(repeating: "0", count: 1000).joined(separator: ",") + "]"
        let many = "a: [" + Array(repeating: "0", count: 180_000).joined(separator: ",") + "]\nb: &b \(list)\nc: ["
            + Array(repeating: "*b", count: 830).joined(separator: ",") + "]\n"
        #expect(Self.problems(many) == ["the document expands to more than 1000000 values"])
    }

    @Test func oversizedFilesAreNotRead() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        try dir.write("big.yaml", "# " + String(repeating: "x", count: 9 << 20) + "\n")
        #expect(throws: AllocatorConfig.Problems.self) { try AllocatorConfig.load(path: dir.path("big.yaml"), environment: [:]) }
        do {
            _ = try AllocatorConfig.load(path: dir.path("big.yaml"), environment: [:])
        } catch let error as AllocatorConfig.Problems {
            #expect(error.problems == ["the file has more than 8 MiB, the most a config may have"])
        }
    }

    /// A syntax error in a one-line file of megabytes quotes a few dozen characters around
    /// its line and column.
    @Test func syntaxErrorsQuoteABoundedExcerpt() {
        let line = "config: [" + String(repeating: "1,", count: 500_000) + "2 }\n"
        let problems = Self.problems(line)
        #expect(problems.count == 1)
        let problem = problems.first ?? ""
        #expect(problem.utf8.count < 400, "\(problem.utf8.count) bytes")
        #expect(problem.hasPrefix("not valid YAML at line 1, column 1000012: "), "\(problem)")
        #expect(problem.contains("⟨here⟩}"), "\(problem)")
        // An error early in a long line: the excerpt stops a few dozen characters after it.
        let early = Self.problems("a: {b: c] " + String(repeating: "x", count: 1_000_000) + "\n")
        #expect(early.count == 1 && early[0].utf8.count < 400 && early[0].contains("line 1, column 9"), "\(early.first?.prefix(500) ?? "")")
        // Duplicate keys: Yams' own message would quote the whole file.
        let duplicate = "a: 1\nb: " + String(repeating: "y", count: 100_000) + "\na: 2\n"
        let dup = Self.problems(duplicate)
        #expect(dup.count == 1 && dup[0].utf8.count < 400 && dup[0].contains("duplicate key \"a\""), "\(dup)")
    }

    /// Thousands of bad entries are reported as the first hundred and a count.
    @Test func manyProblemsAreCapped() {
        let text = "config:\n  scrape_configs:\n" + String(repeating: "  - {job_name: same}\n", count: 5000)
        let problems = Self.problems(text + "leader_election: {lease_duration: 1s}\n")
        #expect(problems.count == 101 && problems.last == "… and 4900 more problems", "\(problems.count)")
    }

    /// The same through the command a person runs.
    @Test func validateStaysShortOnHugeBadFiles() async throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        try dir.write("line.yaml", "config: {scrape_configs: [" + String(repeating: "\"target\",", count: 500_000) + "\"target\" }\n")
        let result = try await runTool(CommandLineTests.binary, ["validate", "--config-file", dir.path("line.yaml")])
        #expect(result.status == 1)
        #expect(result.stdout.utf8.count + result.stderr.utf8.count < 1000, "\(result.stdout.prefix(2000))")
        #expect(result.stdout.contains("not valid YAML at line"), "\(result.stdout)")
    }
}
