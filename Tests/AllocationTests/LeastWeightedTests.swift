import Testing
@testable import Allocation

@Suite struct LeastWeightedTests {
    let lw = config(.leastWeighted)

    @Test func newTargetsGoToTheLeastLoadedWithTiesByName() {
        var a = Allocator(configuration: lw, collectors: makeCollectors(3), targets: [])
        let ids = (1...3).map { TargetID(rawValue: UInt64($0)) }
        let moves = a.update(added: ids.reversed().map { AllocationTarget(id: $0) }, removed: [])
        // Placed in id order; each on the least-loaded collector, ties to the name that sorts first.
        #expect(moves.map(\.to) == ["collector-0", "collector-1", "collector-2"])
        // A heavy target lands on collector-0 (6 of 8 > cap 3): the rebalance moves the lowest id
        // there to the least loaded collector, as long as that narrows the gap.
        let heavy = a.update(added: [AllocationTarget(id: TargetID(rawValue: 10), weight: 5)], removed: [])
        #expect(heavy == [Move(target: ids[0], from: "collector-0", to: "collector-1"), Move(target: TargetID(rawValue: 10), from: nil, to: "collector-0")])
        #expect(a.loads == ["collector-0": 5, "collector-1": 2, "collector-2": 1])
        _ = a.update(added: [AllocationTarget(id: TargetID(rawValue: 11))], removed: [])
        #expect(a.collector(for: TargetID(rawValue: 11)) == "collector-2")
        _ = a.update(added: [AllocationTarget(id: TargetID(rawValue: 12))], removed: [])
        #expect(a.collector(for: TargetID(rawValue: 12)) == "collector-1", "tie between 1 and 2: the first name")
    }

    @Test func keepsThePreviousAssignment() {
        var rng = SplitMix64(seed: 100)
        let collectors = makeCollectors(10)
        let targets = makeTargets(3000, &rng)
        // A skewed but within-bound previous assignment is kept as it is.
        var previous: [TargetID: String] = [:]
        for (i, t) in targets.enumerated() { previous[t.id] = "collector-\((i * 7 + i / 301) % 10)" }
        var a = Allocator(configuration: lw, collectors: collectors, targets: targets, previous: previous)
        #expect(a.assignment == previous)
        #expect(a.setCollectors(collectors).isEmpty)
        #expect(a.update(added: [], removed: []).isEmpty)
        // Targets of a collector that is gone are placed again; the rest stay.
        let b = Allocator(
            configuration: lw, collectors: Array(collectors.dropFirst()), targets: targets, previous: previous)
        for (id, name) in b.assignment where previous[id] != "collector-0" { #expect(previous[id] == name) }
        #expect(b.loads.values.max()! <= loadBound(3000, over: 9))
    }

    @Test func deterministicGivenThePreviousAssignment() {
        var rng = SplitMix64(seed: 101)
        let collectors = makeCollectors(7)
        let targets = makeTargets(2000, &rng)
        var previous: [TargetID: String] = [:]
        for t in targets.prefix(1200) { previous[t.id] = "collector-\(Int.random(in: 0..<9, using: &rng))" }
        let a = Allocator(configuration: lw, collectors: collectors, targets: targets, previous: previous)
        let b = Allocator(
            configuration: lw, collectors: collectors.shuffled(using: &rng), targets: targets.shuffled(using: &rng),
            previous: previous)
        #expect(a.assignment == b.assignment)
        #expect(a.loads.values.max()! <= loadBound(2000, over: 7))
    }

    @Test(arguments: [(UInt64(110), 20000, 10), (111, 20000, 20), (112, 30000, 50)])
    func rebalancesOntoANewCollector(seed: UInt64, n: Int, m: Int) {
        var rng = SplitMix64(seed: seed)
        var a = Allocator(configuration: lw, collectors: makeCollectors(m), targets: makeTargets(n, &rng))
        let moves = a.setCollectors(makeCollectors(m + 1))
        let share = Double(n) / Double(m + 1)
        #expect(Double(a.loads["collector-\(m)"]!) >= (0.95 * share).rounded(.down))
        #expect(moves.allSatisfy { $0.to == "collector-\(m)" })
        #expect(Double(moves.count) <= 1.1 * share)
        #expect(a.loads.values.max()! <= loadBound(n, over: m + 1))
    }

    @Test func removingACollectorMovesOnlyItsTargets() {
        var rng = SplitMix64(seed: 120)
        var a = Allocator(configuration: lw, collectors: makeCollectors(10), targets: makeTargets(10000, &rng))
        let own = Set(a.targetsByCollector["collector-4"]!)
        let moves = a.setCollectors(makeCollectors(10).filter { $0.name != "collector-4" })
        #expect(Set(moves.map(\.target)) == own)
        #expect(a.loads.values.max()! <= loadBound(10000, over: 9))
    }

    @Test(arguments: [UInt64(130), 131])
    func boundHoldsUnderChurn(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let collectors = makeCollectors(12, weights: seed == 131 ? [1, 2] : nil)
        var live = makeTargets(4000, &rng)
        var a = Allocator(configuration: lw, collectors: collectors, targets: live)
        for round in 0..<20 {
            // Remove targets concentrated on one collector, which skews the loads.
            let victim = "collector-\(round % 12)"
            let removed = Array(a.targetsByCollector[victim]!.prefix(250))
            live.removeAll { removed.contains($0.id) }
            let added = makeTargets(Int.random(in: 0...200, using: &rng), &rng)
            live += added
            let before = a.assignment
            let moves = a.update(added: added, removed: removed)
            var replayed = before
            for m in moves {
                #expect(replayed[m.target] == m.from)
                replayed[m.target] = m.to
            }
            #expect(replayed == a.assignment)
            let total = Double(live.count)
            for c in a.collectors {
                let cap = (1.05 * total * c.weight! / a.collectors.reduce(0) { $0 + $1.weight! } - 1e-9).rounded(.up)
                #expect(Double(a.loads[c.name]!) <= cap)
            }
        }
    }

    @Test func edgeCases() {
        var a = Allocator(configuration: lw, collectors: [], targets: [AllocationTarget(id: TargetID(rawValue: 1))])
        #expect(a.unassignable == 1)
        _ = a.setCollectors(makeCollectors(2))
        #expect(a.collector(for: TargetID(rawValue: 1)) == "collector-0")
        _ = a.setCollectors([CollectorInfo(name: "collector-0", weight: 0), CollectorInfo(name: "collector-1")])
        #expect(a.collector(for: TargetID(rawValue: 1)) == "collector-1", "a drained collector gives its targets away")
    }
}
