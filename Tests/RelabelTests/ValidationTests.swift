import Testing
import Relabel

@Suite struct RelabelValidationTests {
    struct Invalid: CustomTestStringConvertible, Sendable {
        let fields: [String: RelabelInput]
        let message: String
        var options: RelabelOptions = .prometheus3
        var testDescription: String { message }
    }

    static let invalid: [Invalid] = [
        Invalid(fields: ["action": "replace"], message: "relabel configuration for replace action requires 'target_label' value"),
        Invalid(fields: ["action": "lowercase"], message: "relabel configuration for lowercase action requires 'target_label' value"),
        Invalid(fields: ["action": "uppercase", "source_labels": ["a"]], message: "relabel configuration for uppercase action requires 'target_label' value"),
        Invalid(fields: ["action": "keepequal", "source_labels": ["a"]], message: "relabel configuration for keepequal action requires 'target_label' value"),
        Invalid(fields: ["action": "dropequal", "source_labels": ["a"]], message: "relabel configuration for dropequal action requires 'target_label' value"),
        Invalid(fields: ["action": "hashmod", "target_label": "t"], message: "relabel configuration for hashmod requires non-zero modulus"),
        Invalid(fields: ["action": "hashmod", "modulus": 2], message: "relabel configuration for hashmod action requires 'target_label' value"),
        Invalid(fields: ["action": "hashmod", "modulus": 2, "target_label": "a-b"], message: "\"a-b\" is invalid 'target_label' for hashmod action",
                options: .prometheus2),
        Invalid(fields: ["target_label": "-label"], message: "\"-label\" is invalid 'target_label' for replace action", options: .prometheus2),
        Invalid(fields: ["target_label": "bar.foo${1}bar"], message: "\"bar.foo${1}bar\" is invalid 'target_label' for replace action", options: .prometheus2),
        Invalid(fields: ["target_label": "${"], message: "\"${\" is invalid 'target_label' for replace action", options: .prometheus2),
        Invalid(fields: ["action": "lowercase", "target_label": "${3}"], message: "\"${3}\" is invalid 'target_label' for lowercase action", options: .prometheus2),
        Invalid(fields: ["action": "lowercase", "target_label": "t", "replacement": "x"], message: "'replacement' can not be set for lowercase action"),
        Invalid(fields: ["action": "keepequal", "target_label": "t", "replacement": "x"], message: "'replacement' can not be set for keepequal action"),
        Invalid(fields: ["action": "keepequal", "target_label": "t", "regex": "(.*)"],
                message: "keepequal action requires only 'source_labels' and `target_label`, and no other fields"),
        Invalid(fields: ["action": "dropequal", "target_label": "t", "separator": ","],
                message: "dropequal action requires only 'source_labels' and `target_label`, and no other fields"),
        Invalid(fields: ["action": "dropequal", "target_label": "t", "modulus": 3],
                message: "dropequal action requires only 'source_labels' and `target_label`, and no other fields"),
        Invalid(fields: ["action": "labeldrop", "regex": "x", "source_labels": ["a"]], message: "labeldrop action requires only 'regex', and no other fields"),
        Invalid(fields: ["action": "labeldrop", "regex": "x", "source_labels": []], message: "labeldrop action requires only 'regex', and no other fields"),
        Invalid(fields: ["action": "labelkeep", "regex": "x", "target_label": "t"], message: "labelkeep action requires only 'regex', and no other fields"),
        Invalid(fields: ["action": "labelkeep", "regex": "x", "replacement": "r"], message: "labelkeep action requires only 'regex', and no other fields"),
        Invalid(fields: ["action": "labelkeep", "regex": "x", "separator": ""], message: "labelkeep action requires only 'regex', and no other fields"),
        Invalid(fields: ["action": "labelmap", "replacement": "-x"], message: "\"-x\" is invalid 'replacement' for labelmap action", options: .prometheus2),
        Invalid(fields: ["action": "labelmap", "replacement": ""], message: "\"\" is invalid 'replacement' for labelmap action"),
        Invalid(fields: ["action": "explode"], message: "unknown relabel action \"explode\""),
        Invalid(fields: ["target_label": "t", "regex": "(a)\\1"], message: "error parsing regexp: invalid escape sequence: `\\1`"),
        Invalid(fields: ["target_label": "t", "regex": "a(?=b)"], message: "error parsing regexp: invalid or unsupported Perl syntax: `(?=`"),
        Invalid(fields: ["target_label": "t", "source_labels": [""]], message: "\"\" is not a valid label name"),
        Invalid(fields: ["target_label": "t", "source_labels": ["a.b"]], message: "\"a.b\" is not a valid label name", options: .prometheus2),
        Invalid(fields: ["target_label": "t", "unknown": "x"], message: "field unknown not found in type relabel.plain"),
        Invalid(fields: ["action": "hashmod", "target_label": "t", "modulus": -1], message: "field modulus: cannot unmarshal -1 into uint64"),
    ]

    @Test(arguments: invalid)
    func rejected(_ c: Invalid) {
        do {
            _ = try RelabelConfig(fields: c.fields, options: c.options)
            Issue.record("accepted \(c.fields)")
        } catch {
            #expect(error.description == c.message)
        }
    }

    static let valid: [(String, [String: RelabelInput], RelabelOptions)] = [
        ("utf8 lowercase target ${3}", ["action": "lowercase", "target_label": "${3}"], .prometheus3),
        ("utf8 replace target 0${3}", ["target_label": "0${3}", "regex": "some-([^-]+)-([^,]+)"], .prometheus3),
        ("utf8 replace target -${3}", ["target_label": "-${3}"], .prometheus3),
        ("legacy label${1}", ["target_label": "label${1}"], .prometheus2),
        ("legacy ${1}label", ["target_label": "${1}label"], .prometheus2),
        ("legacy $1", ["target_label": "$1"], .prometheus2),
        ("legacy asd$2asd", ["target_label": "asd$2asd"], .prometheus2),
        ("legacy _${1}_", ["target_label": "_${1}_"], .prometheus2),
        ("legacy foo${bar}foo", ["target_label": "foo${bar}foo"], .prometheus2),
        ("labelmap $1", ["action": "labelmap", "regex": "__meta_kubernetes_pod_label_(strimzi_io_.+)", "replacement": "$1"], .prometheus2),
        ("labelmap ${1}", ["action": "labelmap", "regex": "__meta_(.+)", "replacement": "${1}"], .prometheus2),
        ("keepequal minimal", ["action": "keepequal", "source_labels": ["a"], "target_label": "b"], .prometheus3),
        ("labeldrop minimal", ["action": "labeldrop", "regex": "x"], .prometheus3),
        ("null fields", ["source_labels": .null, "target_label": "t", "modulus": .null], .prometheus3),
        ("int scalar as regex", ["target_label": "t", "regex": 0], .prometheus3),
        ("modulus as raw text", ["action": "hashmod", "target_label": "t", "modulus": "8"], .prometheus3),
    ]

    @Test func accepted() throws {
        for (name, fields, options) in Self.valid {
            #expect(throws: Never.self, "\(name)") { _ = try RelabelConfig(fields: fields, options: options) }
        }
    }

    @Test func listErrorsNameThePosition() {
        let list: [[String: RelabelInput]] = [
            ["target_label": "a"],
            ["action": "keep", "regex": "x"],
            ["action": "hashmod", "target_label": "t"],
        ]
        do {
            _ = try RelabelConfig.parseList(list)
            Issue.record("accepted")
        } catch {
            #expect(error.index == 2)
            #expect(error.description == "relabel_configs[2]: relabel configuration for hashmod requires non-zero modulus")
        }
        do {
            _ = try RelabelConfig.parseList([["action": "keep", "regex": "("]], field: "metric_relabel_configs")
            Issue.record("accepted")
        } catch {
            #expect(error.description.hasPrefix("metric_relabel_configs[0]: error parsing regexp: missing closing )"))
        }
    }

    @Test func defaults() throws {
        let r = try RelabelConfig(fields: [:].merging(["target_label": "t"]) { a, _ in a })
        #expect(r.action == .replace)
        #expect(r.separator == ";")
        #expect(r.regex.pattern == "(.*)")
        #expect(r.regexIsDefault)
        #expect(r.replacement == "$1")
        #expect(r.modulus == 0)
        #expect(r.sourceLabels == nil)
        let explicit = try RelabelConfig(fields: ["target_label": "t", "regex": "(.*)"])
        #expect(!explicit.regexIsDefault)
        let null = try RelabelConfig(fields: ["target_label": "t", "regex": .null])
        #expect(null.regex.pattern == "")
        #expect(null.regex.matches(""))
        #expect(!null.regex.matches("x"))
        // Explicit nulls are the zero value, as Prometheus's YAML unmarshalling leaves them.
        let nulls = try RelabelConfig(fields: [
            "target_label": "t", "separator": .null, "replacement": .null, "source_labels": .null, "modulus": .null,
        ])
        #expect(nulls.separator == "" && nulls.replacement == "" && nulls.sourceLabels == nil && nulls.modulus == 0)
        #expect(throws: RelabelError("relabel action cannot be empty")) { try RelabelConfig(fields: ["target_label": "t", "action": .null]) }
        #expect(throws: RelabelError("unknown relabel action \"\"")) { try RelabelConfig(fields: ["target_label": "t", "action": ""]) }
        // A null regex is not the default: keepequal refuses it, as Prometheus does.
        #expect(throws: RelabelError.self) {
            try RelabelConfig(fields: ["source_labels": ["a"], "target_label": "t", "action": "keepequal", "regex": .null])
        }
    }

    @Test func renderForScrapeConfigs() throws {
        func rendered(_ f: [String: RelabelInput]) throws -> [String] {
            try RelabelConfig(fields: f).renderFields().map { "\($0.key)=\($0.value)" }
        }
        #expect(try rendered(["source_labels": ["job"], "regex": "(.*)", "target_label": "__tmp_prometheus_job_name"]) == [
            "source_labels=strings([\"job\"])", "separator=string(\";\")", "regex=string(\"(.*)\")",
            "target_label=string(\"__tmp_prometheus_job_name\")", "replacement=string(\"$1\")", "action=string(\"replace\")",
        ])
        #expect(try rendered(["source_labels": ["__address__"], "target_label": "__tmp_hash", "modulus": 1, "action": "hashmod"]) == [
            "source_labels=strings([\"__address__\"])", "separator=string(\";\")", "modulus=int(1)",
            "target_label=string(\"__tmp_hash\")", "replacement=string(\"$1\")", "action=string(\"hashmod\")",
        ])
        // keepequal/dropequal never carry `regex` (upstream removes it; prometheus/prometheus#12534).
        #expect(try rendered(["source_labels": ["a"], "target_label": "b", "action": "KeepEqual"]) == [
            "source_labels=strings([\"a\"])", "separator=string(\";\")", "target_label=string(\"b\")",
            "replacement=string(\"$1\")", "action=string(\"keepequal\")",
        ])
        // Explicit empty separator/replacement/regex survive.
        #expect(try rendered(["source_labels": ["a", "b"], "separator": "", "regex": "", "target_label": "t", "replacement": ""]) == [
            "source_labels=strings([\"a\", \"b\"])", "separator=string(\"\")", "regex=string(\"\")",
            "target_label=string(\"t\")", "replacement=string(\"\")", "action=string(\"replace\")",
        ])
    }

    @Test func renderedRulesParseBackToTheSameRule() throws {
        let rules: [[String: RelabelInput]] = [
            ["source_labels": ["a"], "regex": "x(.*)", "target_label": "t", "replacement": "${1}"],
            ["action": "labeldrop", "regex": "__tmp_.*"],
            ["action": "dropequal", "source_labels": ["a"], "target_label": "b"],
            ["action": "hashmod", "source_labels": ["a"], "target_label": "h", "modulus": 7],
        ]
        for f in rules {
            let r = try RelabelConfig(fields: f)
            var back: [String: RelabelInput] = [:]
            for (k, v) in r.renderFields() { back[k] = v }
            let again = try RelabelConfig(fields: back)
            #expect(again.renderFields().map { "\($0.key)=\($0.value)" } == r.renderFields().map { "\($0.key)=\($0.value)" })
        }
    }
}
