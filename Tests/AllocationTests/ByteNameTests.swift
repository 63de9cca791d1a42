import Testing
@testable import Allocation

/// Collector and node names are bytes (issue 13): "é" (U+00E9) and "e\u{301}" are two collectors
/// and two nodes, though Swift's `==` calls them equal.
@Suite struct ByteNameTests {
    static let (a, b) = ("c-é", "c-e\u{301}")

    @Test(arguments: [AllocationStrategy.consistentHashing, .leastWeighted])
    func canonicallyEquivalentCollectorNamesAreTwoCollectors(strategy: AllocationStrategy) {
        var rng = SplitMix64(seed: 7)
        let targets = makeTargets(400, &rng)
        let collectors = [CollectorInfo(name: Self.a), CollectorInfo(name: Self.b)]
        let x = Allocator(configuration: config(strategy), collectors: collectors, targets: targets)
        let y = Allocator(configuration: config(strategy), collectors: collectors.reversed(), targets: targets)
        #expect(x.collectors.count == 2)
        #expect(x.collectors.map { Array($0.name.utf8) } == [Array(Self.b.utf8), Array(Self.a.utf8)], "byte order: e (0x65) before é (0xC3)")
        // Both take targets, and the input order does not matter.
        var perCollector: [[UInt8]: Int] = [:]
        x.forEachAssignment { _, name in perCollector[Array(name.utf8), default: 0] += 1 }
        #expect(perCollector.count == 2 && perCollector.values.allSatisfy { $0 > 100 }, "\(perCollector)")
        var same = true
        x.forEachAssignment { id, name in same = same && y.collector(for: id).map { Array($0.utf8) } == Array(name.utf8) }
        #expect(same)
        #expect(x.capacity(of: Self.a) != nil && x.capacity(of: Self.b) != nil)
        #expect(CollectorInfo(name: Self.a) != CollectorInfo(name: Self.b))
        // A target moving between the two spellings is a move.
        let previous = Dictionary(uniqueKeysWithValues: targets.map { t in
            (t.id, x.collector(for: t.id).map { Array($0.utf8) == Array(Self.a.utf8) ? Self.b : Self.a }!)
        })
        #expect(x.moves(from: previous).count == targets.count)
    }

    @Test func canonicallyEquivalentNodeNamesAreTwoNodes() {
        let collectors = [CollectorInfo(name: "c-0", node: "n-é"), CollectorInfo(name: "c-1", node: "n-e\u{301}")]
        let targets = (0..<50).map { AllocationTarget(id: TargetID(rawValue: UInt64($0) &* 0x9E37_79B9_7F4A_7C15), node: $0 % 2 == 0 ? "n-é" : "n-e\u{301}") }
        let a = Allocator(configuration: config(.perNode), collectors: collectors, targets: targets)
        for t in targets {
            #expect(a.collector(for: t.id) == (Array(t.node!.utf8) == Array("n-é".utf8) ? "c-0" : "c-1"))
        }
    }
}
