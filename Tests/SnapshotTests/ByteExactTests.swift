import JSON
import Snapshot
import Testing

/// Labels are bytes (issue 13): "é" (U+00E9) and "e\u{301}", "Å" and the Ångström sign U+212B,
/// ";" and U+037E are different to Prometheus and equal to Swift's `==`. Snapshots compare,
/// hash, look up and deduplicate by bytes.
@Suite struct ByteExactTests {
    static let pairs: [(String, String)] = [("é", "e\u{301}"), ("Å", "\u{212B}"), ("K", "\u{212A}"), ("a;b", "a\u{37E}b")]

    func bytes(_ s: String?) -> [UInt8]? { s.map { Array($0.utf8) } }

    @Test func labelsKeepEverySpelling() {
        for (a, b) in Self.pairs {
            #expect(a == b, "Swift calls them equal")
            let labels = Labels([("__address__", "x:1"), (a, "first"), (b, "second")])
            #expect(labels.count == 3)
            #expect(bytes(labels[a]) == Array("first".utf8))
            #expect(bytes(labels[b]) == Array("second".utf8))
            // A repeated name (same bytes) keeps the last value.
            #expect(Labels([(a, "1"), (a, "2")]).map(\.value) == ["2"])
            #expect(labels == Labels(presorted: labels.map { ($0.name, $0.value) }))
        }
    }

    @Test func equalityAndHashingAreByteExact() {
        for (a, b) in Self.pairs {
            let ta = Target(job: "j", labels: Labels([("__address__", "h:1"), ("v", a)]), collector: "c")
            let tb = Target(job: "j", labels: Labels([("__address__", "h:1"), ("v", b)]), collector: "c")
            #expect(ta != tb)
            #expect(Set([ta, tb]).count == 2)
            #expect(Target(job: a, labels: ta.labels, collector: "c") != Target(job: b, labels: ta.labels, collector: "c"))
            #expect(Target(job: "j", labels: ta.labels, collector: a) != Target(job: "j", labels: ta.labels, collector: b))
            #expect(Collector(name: a) != Collector(name: b) && Collector(name: "c", node: a) != Collector(name: "c", node: b))
            #expect(Set([Collector(name: a), Collector(name: b)]).count == 2)
            // Scrape configs too: the leader writes a new snapshot when only their bytes change.
            let ja = Job(name: "j", scrapeConfig: .object([JSONMember("params", .object([JSONMember("q", .array([.string(a)]))]))]))
            let jb = Job(name: "j", scrapeConfig: .object([JSONMember("params", .object([JSONMember("q", .array([.string(b)]))]))]))
            #expect(ja != jb && Set([ja, jb]).count == 2)
            #expect(ja == Job(name: "j", scrapeConfig: ja.scrapeConfig))
            let sa = Snapshot(epoch: 1, generation: 1, createdAtMillis: 0, leader: "l", collectors: [], jobs: [ja], targets: [])
            let sb = Snapshot(epoch: 1, generation: 1, createdAtMillis: 0, leader: "l", collectors: [], jobs: [jb], targets: [])
            #expect(sa != sb)
        }
    }

    @Test func referencesResolveByBytes() {
        let (a, b) = ("é", "e\u{301}")
        let snapshot = Snapshot(
            epoch: 1, generation: 1, createdAtMillis: 0, leader: "l", collectors: [Collector(name: a), Collector(name: b)],
            jobs: [Job(name: a, scrapeConfig: .object([])), Job(name: b, scrapeConfig: .object([]))],
            targets: [Target(job: b, labels: Labels([("__address__", "h:1")]), collector: b)])
        #expect(snapshot.problems().isEmpty, "two collectors and two jobs, no duplicates: \(snapshot.problems())")
        var missing = snapshot
        missing.jobs = [Job(name: a, scrapeConfig: .object([]))]
        missing.collectors = [Collector(name: a)]
        #expect(missing.problems() == ["targets[0].job: unknown job \"\(b)\"", "targets[0].collector: unknown collector \"\(b)\""])
    }

    @Test func jsonRoundTripKeepsBytes() throws {
        let targets = Self.pairs.enumerated().flatMap { i, pair in
            [pair.0, pair.1].map { v in Target(job: "j", labels: Labels([("__address__", "h:\(i)"), ("v", v), (v, "n")]), collector: nil) }
        }
        let snapshot = Snapshot(
            epoch: 1, generation: 1, createdAtMillis: 0, leader: "l", collectors: [], jobs: [Job(name: "j", scrapeConfig: .object([]))],
            targets: targets)
        let decoded = try SnapshotJSON.decode(SnapshotJSON.encode(snapshot))
        #expect(decoded == snapshot)
        #expect(decoded.targets.map { bytes($0.labels["v"]) } == targets.map { bytes($0.labels["v"]) })
    }

    /// The discovered address may be empty when relabeling fills it in; it must be there.
    @Test func anEmptyDiscoveredAddressIsValid() {
        let snapshot = Snapshot(
            epoch: 1, generation: 1, createdAtMillis: 0, leader: "l", collectors: [], jobs: [Job(name: "j", scrapeConfig: .object([]))],
            targets: [Target(job: "j", labels: Labels([("__address__", ""), ("host", "h")]), collector: nil)])
        #expect(snapshot.problems().isEmpty)
    }
}
