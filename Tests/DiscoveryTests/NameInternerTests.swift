import ByteStrings
import Discovery
import JSON
import Relabel
import Testing

/// The interner's ranks stand in for byte comparisons when a group's labels are sorted, so
/// they must order exactly as the names' UTF-8 bytes do, however the names arrive.
@Suite struct NameInternerTests {
    /// Names that hunt for edges: shared long prefixes, prefixes of each other, the empty
    /// name, non-ASCII bytes, and two spellings of "é" that Swift's `==` calls equal.
    static let names: [String] = {
        var names = ["", "a", "ab", "__address__", "job", "__meta_kubernetes_pod_label_app", "__meta_kubernetes_pod_label_ap",
                     "__meta_kubernetes_pod_labelpresent_app", "caf\u{E9}", "cafe\u{301}", "\u{1F600}", "Z", "_", "~"]
        for i in 0..<300 { names.append("__meta_kubernetes_pod_annotation_\(String(i * 7919 % 1000, radix: 36))") }
        return names
    }()

    @Test func ranksOrderAsBytes() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            var interner = NameInterner()
            var ranked: [(name: String, rank: UInt64)] = []
            for name in Self.names.shuffled(using: &generator) { ranked.append(interner.intern(name)) }
            // Ranks can be renumbered by a later insertion: read them all again afterwards.
            ranked = ranked.map { interner.intern($0.name) }
            #expect(interner.count == Self.names.count)  // "café" twice: two names
            let byRank = ranked.sorted { $0.rank < $1.rank }.map(\.name)
            let byBytes = Self.names.sorted { $0.bytesPrecede($1) }
            #expect(byRank.map { Array($0.utf8) } == byBytes.map { Array($0.utf8) })
        }
    }

    /// Names inserted always between the same two neighbours exhaust the room between their
    /// ranks; the interner then renumbers, and the order still holds.
    @Test func renumbersWhenNeighboursLeaveNoRoom() {
        var interner = NameInterner()
        _ = interner.intern("a")
        _ = interner.intern("b")
        var inserted = ["a", "b"]
        var name = "a"
        for _ in 0..<80 {  // each halves the gap below "b": 2^32 apart runs out after 32
            name += "a"
            _ = interner.intern(name)
            inserted.append(name)
        }
        let ranks = inserted.map { interner.intern($0).rank }
        for (x, y) in zip(inserted.indices, inserted.indices.dropFirst()) {
            #expect((ranks[x] < ranks[y]) == inserted[x].bytesPrecede(inserted[y]))
        }
    }

    /// A group built through the interner has its labels byte-sorted with the names shared.
    @Test func groupLabelsComeOutSortedByBytes() throws {
        let builder = try JobTargetBuilder(job: "j", scrapeConfig: try JSONValue.parse("{}"), filter: false)
        var labels: [String: String] = [:]
        for (i, name) in Self.names.enumerated() where !name.isEmpty { labels[name] = "v\(i)" }
        let group = TargetGroup(source: "s", labels: labels, targets: [["__address__": "h:1", "caf\u{E9}": "own"]])
        var interner = NameInterner()
        let (targets, discovered) = builder.targets(of: group, names: &interner)
        #expect(discovered == 1)
        let served = try #require(targets.first).labels.map { $0.name }
        #expect(served.map { Array($0.utf8) } == served.sorted { $0.bytesPrecede($1) }.map { Array($0.utf8) })
        #expect(Set(served.map { Array($0.utf8) }).count == served.count)
    }
}
