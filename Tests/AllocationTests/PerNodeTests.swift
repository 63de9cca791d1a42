import Testing
@testable import Allocation

@Suite struct PerNodeTests {
    @Test func targetsGoToTheCollectorOnTheirNode() {
        var rng = SplitMix64(seed: 200)
        let collectors = makeCollectors(10, nodes: 10)
        let targets = makeTargets(3000, &rng, nodes: 10)
        let a = Allocator(configuration: config(.perNode), collectors: collectors, targets: targets)
        for t in targets { #expect(a.collector(for: t.id) == "collector-\(t.node!.dropFirst(5))") }
        #expect(a.fallbackCount == 0)
    }

    @Test func severalCollectorsOnANodeShareItsTargets() {
        var rng = SplitMix64(seed: 201)
        let collectors = [CollectorInfo(name: "a", node: "n1"), CollectorInfo(name: "b", node: "n1")]
        let targets = makeTargets(1000, &rng).map { AllocationTarget(id: $0.id, node: "n1") }
        let a = Allocator(configuration: config(.perNode), collectors: collectors, targets: targets)
        let b = Allocator(configuration: config(.perNode), collectors: collectors.reversed(), targets: targets.reversed())
        #expect(a.assignment == b.assignment)
        #expect(a.loads["a"]! > 400 && a.loads["b"]! > 400)
    }

    @Test(arguments: [FallbackStrategy.consistentHashing, .leastWeighted])
    func targetsWithoutACollectorOnTheirNodeUseTheFallback(fallback: FallbackStrategy) {
        var rng = SplitMix64(seed: 202)
        let collectors = makeCollectors(4, nodes: 4)  // nodes 0...3
        var targets = makeTargets(2000, &rng, nodes: 8)  // nodes 0...7
        targets += makeTargets(500, &rng)  // no node (for example control-plane or external targets)
        var a = Allocator(configuration: config(.perNode(fallback: fallback)), collectors: collectors, targets: targets)
        #expect(a.assignment.count == 2500, "never dropped")
        let fallbackTargets = targets.filter { t in t.node.map { Int($0.dropFirst(5))! >= 4 } ?? true }
        #expect(a.fallbackCount == fallbackTargets.count)
        #expect(a.unassignable == 0)
        // A collector appears on node-5: its targets come home, nothing else moves.
        var more = collectors
        more.append(CollectorInfo(name: "collector-node5", node: "node-5"))
        let moves = a.setCollectors(more)
        let home = Set(targets.filter { $0.node == "node-5" }.map(\.id))
        for m in moves where m.to == "collector-node5" && home.contains(m.target) { #expect(m.from != nil) }
        for t in targets where t.node == "node-5" { #expect(a.collector(for: t.id) == "collector-node5") }
        #expect(a.fallbackCount == fallbackTargets.count - home.count)
        for t in targets where t.node.map({ Int($0.dropFirst(5))! < 4 }) ?? false {
            #expect(!moves.contains { $0.target == t.id }, "node-local targets stay")
        }
        // It goes away again: they go back through the fallback.
        _ = a.setCollectors(collectors)
        #expect(a.fallbackCount == fallbackTargets.count)
        #expect(a.assignment.count == 2500)
    }

    @Test func incrementalUpdatesAndMoves() {
        var rng = SplitMix64(seed: 203)
        let collectors = makeCollectors(6, nodes: 3)
        var a = Allocator(configuration: config(.perNode), collectors: collectors, targets: makeTargets(600, &rng, nodes: 5))
        for _ in 0..<10 {
            let before = a.assignment
            let removed = Array(before.keys.shuffled(using: &rng).prefix(50))
            var added = makeTargets(60, &rng, nodes: 5)
            // A target changes node: from a node with collectors to one without and back.
            if let id = before.keys.first(where: { !removed.contains($0) }) {
                added.append(AllocationTarget(id: id, node: "node-\(Int.random(in: 0..<5, using: &rng))"))
            }
            let moves = a.update(added: added, removed: removed)
            var replayed = before
            for m in moves {
                #expect(replayed[m.target] == m.from)
                replayed[m.target] = m.to
            }
            #expect(replayed == a.assignment)
        }
        #expect(a.count == a.assignment.count)
    }

    @Test func noCollectorsMeansUnassignedNotDropped() {
        var rng = SplitMix64(seed: 204)
        var a = Allocator(configuration: config(.perNode), collectors: [], targets: makeTargets(100, &rng, nodes: 2))
        #expect(a.unassignable == 100)
        #expect(a.fallbackCount == 100)
        _ = a.setCollectors(makeCollectors(1, nodes: 1))
        #expect(a.assignment.count == 100)
        #expect(a.fallbackCount == a.assignment.values.count - a.targetsByCollector["collector-0"]!.count + a.fallbackCount)
    }
}
