import Testing
import Relabel

/// Shorthand for rule fields as they come from YAML.
func rule(_ fields: [String: RelabelInput], options: RelabelOptions = .prometheus3) throws -> RelabelConfig {
    try RelabelConfig(fields: fields, options: options)
}

struct RelabelCase: CustomTestStringConvertible, Sendable {
    let name: String
    let input: [String: String]
    let rules: [[String: RelabelInput]]
    /// nil: dropped.
    let output: [String: String]?
    var testDescription: String { name }
}

func sortedPairs(_ d: [String: String]) -> [Label] {
    d.map { Label(name: $0.key, value: $0.value) }.sorted { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }
}

@Suite struct RelabelProcessTests {
    static let cases: [RelabelCase] = [
        // ---- replace
        RelabelCase(name: "replace with template", input: ["a": "foo", "b": "bar", "c": "baz"],
                    rules: [["source_labels": ["a"], "regex": "f(.*)", "target_label": "d", "replacement": "ch${1}-ch${1}"]],
                    output: ["a": "foo", "b": "bar", "c": "baz", "d": "choo-choo"]),
        RelabelCase(name: "chained replaces with separator", input: ["a": "foo", "b": "bar", "c": "baz"],
                    rules: [["source_labels": ["a", "b"], "regex": "f(.*);(.*)r", "target_label": "a", "replacement": "b${1}${2}m"],
                            ["source_labels": ["c", "a"], "regex": "(b).*b(.*)ba(.*)", "target_label": "d", "replacement": "$1$2$2$3"]],
                    output: ["a": "boobam", "b": "bar", "c": "baz", "d": "boooom"]),
        RelabelCase(name: "inner group", input: ["a": "abc"],
                    rules: [["source_labels": ["a"], "regex": ".*(b).*", "target_label": "d"]],
                    output: ["a": "abc", "d": "b"]),
        RelabelCase(name: "no match leaves target unchanged", input: ["a": "boo", "b": "keep"],
                    rules: [["source_labels": ["a"], "regex": "f", "target_label": "b", "replacement": "bar"]],
                    output: ["a": "boo", "b": "keep"]),
        RelabelCase(name: "anchored: foo does not match foobar", input: ["a": "foobar"],
                    rules: [["source_labels": ["a"], "regex": "foo", "target_label": "b", "replacement": "x"]],
                    output: ["a": "foobar"]),
        RelabelCase(name: "empty replacement deletes target", input: ["a": "foo", "f": "baz"],
                    rules: [["source_labels": ["a"], "regex": "(f).*", "target_label": "$1", "replacement": "$2"]],
                    output: ["a": "foo"]),
        RelabelCase(name: "target from template", input: ["a": "some-name-value"],
                    rules: [["source_labels": ["a"], "regex": "some-([^-]+)-([^,]+)", "target_label": "${1}", "replacement": "${2}"]],
                    output: ["a": "some-name-value", "name": "value"]),
        RelabelCase(name: "template expanding to empty replacement deletes (nothing there)", input: ["a": "some-name-value"],
                    rules: [["source_labels": ["a"], "regex": "some-([^-]+)-([^,]+)", "target_label": "${1}", "replacement": "${3}"]],
                    output: ["a": "some-name-value"]),
        RelabelCase(name: "target template expanding to an invalid name is ignored", input: ["a": "some-name-0"],
                    rules: [["source_labels": ["a"], "regex": "some-([^-]+)-([^,]+)", "target_label": "${3}", "replacement": "${1}"]],
                    output: ["a": "some-name-0"]),
        RelabelCase(name: "legacy names: target expanding to '0' is ignored", input: ["a": "x-0"],
                    rules: [["source_labels": ["a"], "regex": "x-(.*)", "target_label": "${1}", "replacement": "v"]],
                    output: ["a": "x-0", "0": "v"]),  // valid under UTF-8 names; see the legacy test below
        RelabelCase(name: "missing source label is the empty string", input: ["b": "x"],
                    rules: [["source_labels": ["a"], "target_label": "c", "replacement": "set-$1"]],
                    output: ["b": "x", "c": "set-"]),
        RelabelCase(name: "fast path: empty value, default regex, static replacement", input: ["b": "x"],
                    rules: [["source_labels": ["missing"], "target_label": "c", "replacement": "static"]],
                    output: ["b": "x", "c": "static"]),
        RelabelCase(name: "fast path: empty value and default replacement deletes the target", input: ["b": "x", "c": "old"],
                    rules: [["source_labels": ["missing"], "target_label": "c"]],
                    output: ["b": "x"]),
        RelabelCase(name: "no source labels: static label", input: ["a": "1"],
                    rules: [["target_label": "cluster", "replacement": "dev"]],
                    output: ["a": "1", "cluster": "dev"]),
        RelabelCase(name: "regex (.+) does not match a missing label", input: ["a": "1", "t": "keep"],
                    rules: [["source_labels": ["missing"], "regex": "(.+)", "target_label": "t"]],
                    output: ["a": "1", "t": "keep"]),
        RelabelCase(name: "real-life tags", input: ["__meta_sd_tags": "path:/secret,job:some-job,label:foo=bar"],
                    rules: [["source_labels": ["__meta_sd_tags"], "regex": "(?:.+,|^)path:(/[^,]+).*", "target_label": "__metrics_path__", "replacement": "${1}"],
                            ["source_labels": ["__meta_sd_tags"], "regex": "(?:.+,|^)job:([^,]+).*", "target_label": "job", "replacement": "${1}"],
                            ["source_labels": ["__meta_sd_tags"], "regex": "(?:.+,|^)label:([^=]+)=([^,]+).*", "target_label": "${1}", "replacement": "${2}"]],
                    output: ["__meta_sd_tags": "path:/secret,job:some-job,label:foo=bar", "__metrics_path__": "/secret", "job": "some-job", "foo": "bar"]),
        RelabelCase(name: "address from annotation port", input: ["__address__": "10.0.0.1:80", "__meta_port": "9090"],
                    rules: [["source_labels": ["__address__", "__meta_port"], "regex": "(.+?)(\\:\\d+)?;(\\d+)", "target_label": "__address__", "replacement": "$1:$3"]],
                    output: ["__address__": "10.0.0.1:9090", "__meta_port": "9090"]),
        RelabelCase(name: "multiline value with (.*)-style regex", input: ["a": "line1\nline2", "b": "bar"],
                    rules: [["source_labels": ["a"], "regex": "line1.*line2", "target_label": "d", "replacement": "match${1}"]],
                    output: ["a": "line1\nline2", "b": "bar", "d": "match"]),
        RelabelCase(name: "UTF-8 source and target names", input: ["utf-8.label": "line1\nline2"],
                    rules: [["source_labels": ["utf-8.label"], "regex": "line1.*line2", "target_label": "utf-8.other${1}", "replacement": "m"]],
                    output: ["utf-8.label": "line1\nline2", "utf-8.other": "m"]),
        RelabelCase(name: "named groups in target and replacement", input: ["a": "line1\nline2"],
                    rules: [["source_labels": ["a"], "regex": "(line1).*(?<second>line2)", "target_label": "label1_${1}", "replacement": "val_${second}"],
                            ["source_labels": ["a"], "regex": "(line1).*(?P<second>line2)", "target_label": "label2_$1", "replacement": "val_$second"]],
                    output: ["a": "line1\nline2", "label1_line1": "val_line2", "label2_line1": "val_line2"]),
        RelabelCase(name: "$1_x is the group named 1_x", input: ["a": "v"],
                    rules: [["source_labels": ["a"], "target_label": "t", "replacement": "$1_x"],
                            ["source_labels": ["a"], "target_label": "u", "replacement": "${1}_x"]],
                    output: ["a": "v", "u": "v_x"]),
        RelabelCase(name: "issue 12283 ordering", input: ["__meta_kubernetes_pod_container_port_name": "foo", "__meta_kubernetes_pod_annotation_XXX_metrics_port": "9091"],
                    rules: [["regex": "^__meta_kubernetes_pod_container_port_name$", "action": "labeldrop"],
                            ["source_labels": ["__meta_kubernetes_pod_annotation_XXX_metrics_port"], "regex": "(.+)", "target_label": "__meta_kubernetes_pod_container_port_name", "replacement": "metrics"],
                            ["source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": "^metrics$", "action": "keep"]],
                    output: ["__meta_kubernetes_pod_annotation_XXX_metrics_port": "9091", "__meta_kubernetes_pod_container_port_name": "metrics"]),
        // ---- keep / drop
        RelabelCase(name: "drop on match", input: ["a": "foo", "b": "bar"],
                    rules: [["source_labels": ["a"], "regex": ".*o.*", "action": "drop"]], output: nil),
        RelabelCase(name: "drop stops processing", input: ["a": "foo"],
                    rules: [["source_labels": ["a"], "regex": ".*o.*", "action": "drop"],
                            ["source_labels": ["a"], "regex": "f(.*)", "target_label": "d", "replacement": "ch$1"]], output: nil),
        RelabelCase(name: "drop no match", input: ["a": "foo"],
                    rules: [["source_labels": ["a"], "regex": "no-match", "action": "drop"]], output: ["a": "foo"]),
        RelabelCase(name: "drop is anchored (f|o)", input: ["a": "foo"],
                    rules: [["source_labels": ["a"], "regex": "f|o", "action": "drop"]], output: ["a": "foo"]),
        RelabelCase(name: "keep no match", input: ["a": "foo"],
                    rules: [["source_labels": ["a"], "regex": "no-match", "action": "keep"]], output: nil),
        RelabelCase(name: "keep match", input: ["a": "foo"],
                    rules: [["source_labels": ["a"], "regex": "f.*", "action": "keep"]], output: ["a": "foo"]),
        RelabelCase(name: "drop with empty regex drops missing label", input: ["a": "foo"],
                    rules: [["source_labels": ["name"], "regex": "", "action": "drop"]], output: nil),
        RelabelCase(name: "regex: null is the empty regex", input: ["a": "foo"],
                    rules: [["source_labels": ["a"], "regex": .null, "action": "keep"]], output: nil),
        RelabelCase(name: "action is case-insensitive", input: ["a": "foo"],
                    rules: [["source_labels": ["a"], "regex": "foo", "action": "DROP"]], output: nil),
        RelabelCase(name: "keep with sharding rule (operator)", input: ["__address__": "x", "__tmp_disable_sharding": "true"],
                    rules: [["source_labels": ["__address__"], "target_label": "__tmp_hash", "modulus": 1, "action": "hashmod"],
                            ["source_labels": ["__tmp_hash", "__tmp_disable_sharding"], "regex": "$(SHARD);|.+;.+", "action": "keep"]],
                    output: ["__address__": "x", "__tmp_disable_sharding": "true", "__tmp_hash": "0"]),
        RelabelCase(name: "sharding rule drops when sharding is on", input: ["__address__": "x"],
                    rules: [["source_labels": ["__address__"], "target_label": "__tmp_hash", "modulus": 1, "action": "hashmod"],
                            ["source_labels": ["__tmp_hash", "__tmp_disable_sharding"], "regex": "$(SHARD);|.+;.+", "action": "keep"]],
                    output: nil),
        // ---- keepequal / dropequal
        RelabelCase(name: "keepequal equal", input: ["__tmp_port": "1234", "__port1": "1234", "__port2": "5678"],
                    rules: [["source_labels": ["__tmp_port"], "target_label": "__port1", "action": "keepequal"]],
                    output: ["__tmp_port": "1234", "__port1": "1234", "__port2": "5678"]),
        RelabelCase(name: "dropequal equal", input: ["__tmp_port": "1234", "__port1": "1234"],
                    rules: [["source_labels": ["__tmp_port"], "target_label": "__port1", "action": "dropequal"]], output: nil),
        RelabelCase(name: "dropequal different", input: ["__tmp_port": "1234", "__port2": "5678"],
                    rules: [["source_labels": ["__tmp_port"], "target_label": "__port2", "action": "dropequal"]],
                    output: ["__tmp_port": "1234", "__port2": "5678"]),
        RelabelCase(name: "keepequal different", input: ["__tmp_port": "1234", "__port2": "5678"],
                    rules: [["source_labels": ["__tmp_port"], "target_label": "__port2", "action": "keepequal"]], output: nil),
        RelabelCase(name: "keepequal: both missing are equal", input: ["a": "1"],
                    rules: [["source_labels": ["x"], "target_label": "y", "action": "keepequal"]], output: ["a": "1"]),
        RelabelCase(name: "keepequal compares bytes, not canonical equivalence", input: ["a": "é", "b": "e\u{301}"],
                    rules: [["source_labels": ["a"], "target_label": "b", "action": "keepequal"]], output: nil),
        // ---- hashmod
        RelabelCase(name: "hashmod", input: ["a": "foo", "b": "bar", "c": "baz"],
                    rules: [["source_labels": ["c"], "target_label": "d", "modulus": 1000, "action": "hashmod"]],
                    output: ["a": "foo", "b": "bar", "c": "baz", "d": "976"]),
        RelabelCase(name: "hashmod multiline", input: ["a": "foo\nbar"],
                    rules: [["source_labels": ["a"], "target_label": "b", "modulus": 1000, "action": "hashmod"]],
                    output: ["a": "foo\nbar", "b": "734"]),
        // ---- labelmap / labeldrop / labelkeep
        RelabelCase(name: "labelmap", input: ["a": "foo", "b1": "bar", "b2": "baz"],
                    rules: [["regex": "(b.*)", "replacement": "bar_${1}", "action": "labelmap"]],
                    output: ["a": "foo", "b1": "bar", "b2": "baz", "bar_b1": "bar", "bar_b2": "baz"]),
        RelabelCase(name: "labelmap meta", input: ["a": "foo", "__meta_my_bar": "aaa", "__meta_my_baz": "bbb", "__meta_other": "ccc"],
                    rules: [["regex": "__meta_(my.*)", "replacement": "${1}", "action": "labelmap"]],
                    output: ["a": "foo", "__meta_my_bar": "aaa", "__meta_my_baz": "bbb", "__meta_other": "ccc", "my_bar": "aaa", "my_baz": "bbb"]),
        RelabelCase(name: "labelmap kubernetes pod labels", input: ["__meta_kubernetes_pod_label_app": "web", "__meta_kubernetes_pod_label_tier": "fe", "__meta_kubernetes_pod_labelpresent_app": "true"],
                    rules: [["regex": "__meta_kubernetes_pod_label_(.+)", "action": "labelmap"]],
                    output: ["__meta_kubernetes_pod_label_app": "web", "__meta_kubernetes_pod_label_tier": "fe", "__meta_kubernetes_pod_labelpresent_app": "true", "app": "web", "tier": "fe"]),
        RelabelCase(name: "labelmap overwrites an existing label", input: ["__meta_x_job": "new", "job": "old"],
                    rules: [["regex": "__meta_x_(.+)", "action": "labelmap"]],
                    output: ["__meta_x_job": "new", "job": "new"]),
        RelabelCase(name: "labelmap collision: base labels first, then added ones (Prometheus builder order)",
                    input: ["b_x": "from-base"],
                    rules: [["target_label": "a_x", "replacement": "from-added"],
                            ["regex": "(.)_x", "replacement": "y", "action": "labelmap"]],
                    output: ["a_x": "from-added", "b_x": "from-base", "y": "from-added"]),
        RelabelCase(name: "labelkeep", input: ["a": "foo", "b1": "bar", "b2": "baz"],
                    rules: [["regex": "(b.*)", "action": "labelkeep"]], output: ["b1": "bar", "b2": "baz"]),
        RelabelCase(name: "labeldrop", input: ["a": "foo", "b1": "bar", "b2": "baz"],
                    rules: [["regex": "(b.*)", "action": "labeldrop"]], output: ["a": "foo"]),
        RelabelCase(name: "labeldrop sees labels added earlier", input: ["a": "foo"],
                    rules: [["target_label": "__tmp_x", "replacement": "1"], ["regex": "__tmp_.*", "action": "labeldrop"]],
                    output: ["a": "foo"]),
        // ---- lowercase / uppercase
        RelabelCase(name: "lowercase and uppercase", input: ["foo": "bAr123Foo"],
                    rules: [["source_labels": ["foo"], "target_label": "foo_uppercase", "action": "uppercase"],
                            ["source_labels": ["foo"], "target_label": "foo_lowercase", "action": "lowercase"]],
                    output: ["foo": "bAr123Foo", "foo_lowercase": "bar123foo", "foo_uppercase": "BAR123FOO"]),
        RelabelCase(name: "case mapping is per code point like Go", input: ["a": "Straße İx ǅ ᾳ"],
                    rules: [["source_labels": ["a"], "target_label": "u", "action": "uppercase"],
                            ["source_labels": ["a"], "target_label": "l", "action": "lowercase"]],
                    output: ["a": "Straße İx ǅ ᾳ", "u": "STRAßE İX Ǆ ᾼ", "l": "straße ix ǆ ᾳ"]),
        RelabelCase(name: "lowercase of a missing label deletes the target", input: ["a": "x", "t": "old"],
                    rules: [["source_labels": ["missing"], "target_label": "t", "action": "lowercase"]],
                    output: ["a": "x"]),
        // ---- explicit nulls: Prometheus's YAML unmarshalling makes them empty, not the defaults
        RelabelCase(name: "separator: null joins the values with nothing", input: ["a": "x", "b": "y"],
                    rules: [["source_labels": ["a", "b"], "separator": .null, "regex": "xy", "action": "keep"]],
                    output: ["a": "x", "b": "y"]),
        RelabelCase(name: "separator: null is not ';'", input: ["a": "x", "b": "y"],
                    rules: [["source_labels": ["a", "b"], "separator": .null, "regex": "x;y", "action": "keep"]],
                    output: nil),
        RelabelCase(name: "replacement: null deletes the target label", input: ["a": "x", "t": "old"],
                    rules: [["source_labels": ["a"], "regex": "(.*)", "target_label": "t", "replacement": .null]],
                    output: ["a": "x"]),
        RelabelCase(name: "replacement: null with the default regex (fast path) deletes too", input: ["t": "old"],
                    rules: [["target_label": "t", "replacement": .null]],
                    output: [:]),
        RelabelCase(name: "regex: null drops on any non-empty value", input: ["a": "x"],
                    rules: [["source_labels": ["a"], "regex": .null, "action": "drop"]],
                    output: ["a": "x"]),
        RelabelCase(name: "regex: null matches the empty value", input: ["b": "x"],
                    rules: [["source_labels": ["a"], "regex": .null, "action": "drop"]],
                    output: nil),
        // ---- empty values
        RelabelCase(name: "input labels with empty values are absent", input: ["a": "", "b": "x"],
                    rules: [["source_labels": ["a"], "regex": "", "action": "keep"]],
                    output: ["b": "x"]),
    ]

    @Test(arguments: cases)
    func process(_ c: RelabelCase) throws {
        let rules = try c.rules.map { try rule($0) }
        let result = Relabeler.process(sortedPairs(c.input), rules: rules)
        if let expected = c.output {
            #expect(result == sortedPairs(expected))
        } else {
            #expect(result == nil)
        }
    }

    @Test func legacyNamesIgnoreInvalidExpandedTargets() throws {
        let r = try rule(["source_labels": ["a"], "regex": "x-(.*)", "target_label": "${1}", "replacement": "v"],
                         options: .prometheus2)
        #expect(Relabeler.process([Label(name: "a", value: "x-0")], rules: [r]) == [Label(name: "a", value: "x-0")])
        #expect(Relabeler.process([Label(name: "a", value: "x-ok")], rules: [r])
            == [Label(name: "a", value: "x-ok"), Label(name: "ok", value: "v")])
    }

    @Test func tupleAPIAndOutputOrder() throws {
        let rules = [try rule(["target_label": "B", "replacement": "2"]), try rule(["target_label": "_", "replacement": "3"])]
        let out = try #require(Relabeler.process(labels: [("z", "1"), ("a", "1"), ("é", "1")], rules: rules))
        // Byte order: "B" < "_" < "a" < "z" < "é".
        #expect(out.map(\.name) == ["B", "_", "a", "z", "é"])
    }

    /// Labels are bytes: canonically equivalent spellings are different names and values, as in
    /// Prometheus (Swift's `==` would call them equal).
    @Test func labelsAreBytes() throws {
        let pairs: [(String, String)] = [("é", "e\u{301}"), ("Å", "\u{212B}"), ("K", "\u{212A}"), (";", "\u{37E}")]
        for (a, b) in pairs {
            #expect(a == b, "Swift considers them equal")
            let input = [Label(name: "a", value: a), Label(name: "b", value: b)]
            let keepEqual = try rule(["source_labels": ["a"], "target_label": "b", "action": "keepequal"])
            let dropEqual = try rule(["source_labels": ["a"], "target_label": "b", "action": "dropequal"])
            #expect(Relabeler.process(input, rules: [keepEqual]) == nil, "\(a.unicodeScalars.map(\.value))")
            #expect(Relabeler.process(input, rules: [dropEqual]) != nil)
            #expect(Relabeler.process(input, rules: [try rule(["source_labels": ["a"], "regex": .string(b), "action": "keep"])]) == nil)
            // Two names with canonically equivalent spellings are two labels.
            let names = try #require(Relabeler.process([Label(name: a, value: "1"), Label(name: b, value: "2")], rules: []))
            #expect(names.count == 2 && names.map { Array($0.name.utf8) } == [Array(a.utf8), Array(b.utf8)].sorted { $0.lexicographicallyPrecedes($1) })
            var builder = LabelBuilder([Label(name: a, value: "1")])
            #expect(builder.get(b) == "")
            builder.set(b, "2")
            #expect(builder.labels().count == 2)
            // And a value is kept byte for byte through a replace.
            let copy = try rule(["source_labels": ["b"], "target_label": "c"])
            #expect(try #require(Relabeler.process(input, rules: [copy])).first { $0.name == "c" }.map { Array($0.value.utf8) } == Array(b.utf8))
        }
        // `;` and U+037E (GREEK QUESTION MARK, canonically `;`): only the first joins the source values.
        let joined = [Label(name: "a", value: "x"), Label(name: "b", value: "y")]
        #expect(Relabeler.process(joined, rules: [try rule(["source_labels": ["a", "b"], "regex": "x\u{37E}y", "action": "keep"])]) == nil)
        #expect(Relabeler.process(joined, rules: [try rule(["source_labels": ["a", "b"], "regex": "x;y", "action": "keep"])]) != nil)
    }

    @Test func duplicateInputNamesLastWins() {
        let out = Relabeler.process(labels: [("a", "1"), ("b", "x"), ("a", "2")], rules: [])
        #expect(out?.map(\.value) == ["2", "x"])
    }

    @Test func builderSemantics() {
        var b = LabelBuilder([Label(name: "a", value: "1"), Label(name: "c", value: "3")])
        b.set("b", "2")
        b.delete("a")
        #expect(b.get("a") == "")
        b.set("a", "again")
        #expect(b.get("a") == "again")
        b.set("c", "")
        var seen: [String] = []
        b.forEach { seen.append($0.name) }
        #expect(seen == ["b", "a"])
        #expect(b.labels() == [Label(name: "a", value: "again"), Label(name: "b", value: "2")])
    }
}
