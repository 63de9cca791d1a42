import Testing

@testable import Snapshot
@testable import JSON

@Suite struct JSONTests {
    @Test func keepsMemberOrderAndNumberSpelling() throws {
        let text = #"{"z":1,"a":[1.50,-0,2e3,true,null],"m":{"y":"x","b":"\u00e9\ud83d\ude00"}}"#
        let value = try JSONValue.parse(text)
        #expect(value.serialized == #"{"z":1,"a":[1.50,-0,2e3,true,null],"m":{"y":"x","b":"é😀"}}"#)
        #expect(value["m"]?["b"]?.stringValue == "é😀")
    }

    @Test func escapesLikeGo() {
        var out: [UInt8] = []
        JSONWriter.string("<a href=\"x\">&\u{2028}\n\t\u{01}\\", into: &out)
        #expect(String(decoding: out, as: UTF8.self) == #""\u003ca href=\"x\"\u003e\u0026\u2028\n\t\u0001\\""#)
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "\"\\x\"", "\"a\nb\"", "[1] 2", "tru", "{\"a\":1,}", "\"\\ud800\\u00zz\"",
    ])
    func rejectsMalformedDocuments(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
    }

    @Test func rejectsAbsurdNesting() {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(String(repeating: "[", count: 600) + String(repeating: "]", count: 600)) }
        #expect(throws: Never.self) { try JSONValue.parse(String(repeating: "[", count: 500) + String(repeating: "]", count: 500)) }
    }

    @Test func errorsSayWhere() {
        do {
            _ = try JSONValue.parse(#"{"a": [1, 2,, 3]}"#)
            Issue.record("expected an error")
        } catch {
            #expect(error.offset == 12)
            #expect(error.description.contains("byte 12"))
        }
    }
}

@Suite struct SnapshotJSONTests {
    static let sample = """
        {"epoch": 3, "generation": 9, "leader": "ta-1", "created_at_ms": 1764000000000,
         "collectors": [{"name": "c-0", "node": "n1"}, {"name": "c-1"}],
         "jobs": [{"name": "app", "scrape_config": {"job_name": "app", "scrape_interval": "30s"}}],
         "targets": [{"job": "app", "collector": "c-1", "labels": {"b": "2", "__address__": "10.0.0.1:80", "a": "1"}},
                     {"job": "app", "labels": {"__address__": "10.0.0.2:80"}}]}
        """

    @Test func decodesAndRoundTrips() throws {
        let snapshot = try SnapshotJSON.decode(Array(Self.sample.utf8))
        #expect(snapshot.epoch == 3 && snapshot.generation == 9 && snapshot.leader == "ta-1")
        #expect(snapshot.collectors == [Collector(name: "c-0", node: "n1"), Collector(name: "c-1")])
        #expect(snapshot.targets[0].labels.map(\.name) == ["__address__", "a", "b"], "labels are sorted by name")
        #expect(snapshot.targets[1].collector == nil, "unassigned targets are kept")
        let again = try SnapshotJSON.decode(SnapshotJSON.encode(snapshot))
        #expect(again == snapshot)
    }

    @Test func reportsEveryProblemWithItsPath() {
        let bad = """
            {"epoch": -1, "collectors": [{"name": "c"}, {"name": "c"}],
             "jobs": [{"name": "a", "scrape_config": []}],
             "targets": [{"job": "nope", "collector": "ghost", "labels": {"x": "1"}}, {"job": "a", "labels": 5}]}
            """
        do {
            _ = try SnapshotJSON.decode(Array(bad.utf8))
            Issue.record("expected a decoding error")
        } catch let error as SnapshotJSON.DecodingError {
            let text = error.problems.joined(separator: "\n")
            for expected in [
                "epoch: must be a non-negative integer", "collectors[1].name: duplicate \"c\"", "jobs[0].scrape_config: must be an object",
                "targets[0].job: unknown job \"nope\"", "targets[0].collector: unknown collector \"ghost\"",
                "targets[0].labels: missing __address__", "targets[1].labels: must be an object",
            ] {
                #expect(text.contains(expected), "missing: \(expected)\nin:\n\(text)")
            }
        } catch {
            Issue.record("unexpected error \(error)")
        }
        #expect(throws: SnapshotJSON.DecodingError.self) { try SnapshotJSON.decode(Array("[1,2".utf8)) }
    }
}
