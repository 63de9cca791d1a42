import Testing
@testable import Allocation

@Suite struct ConsistentHashingTests {
    @Test(arguments: [UInt64(1), 2, 3, 4])
    func matchesTheReferenceSpecification(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let n = Int.random(in: 100...4000, using: &rng)
        let m = Int.random(in: 1...40, using: &rng)
        let weighted = seed % 2 == 0
        let collectors = makeCollectors(m, weights: weighted ? [1, 2, 0.5, 3] : nil)
        let targets = makeTargets(n, &rng, maxWeight: weighted ? 5 : 1)
        let a = Allocator(configuration: config(), collectors: collectors, targets: targets)
        #expect(a.assignment == referenceConsistentHashing(collectors: collectors, targets: targets))
    }

    @Test(arguments: [UInt64(10), 11, 12, 13, 14, 15])
    func balanceBoundHolds(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let n = Int.random(in: 1...30000, using: &rng)
        let m = Int.random(in: 1...100, using: &rng)
        let epsilon = [0.0, 0.01, 0.05, 0.2][Int(seed % 4)]
        let a = Allocator(
            configuration: config(epsilon: epsilon), collectors: makeCollectors(m), targets: makeTargets(n, &rng))
        let bound = loadBound(n, over: m, epsilon: epsilon)
        #expect(a.loads.values.max()! <= bound)
        #expect(a.loads.values.reduce(0, +) == n)
        #expect(a.assignment.count == n)
    }

    @Test(arguments: [(UInt64(20), 20000, 10), (21, 20000, 20), (22, 30000, 50), (23, 10000, 5), (24, 50000, 100)])
    func addingACollectorMovesAboutTheMinimum(seed: UInt64, n: Int, m: Int) {
        var rng = SplitMix64(seed: seed)
        var a = Allocator(configuration: config(), collectors: makeCollectors(m), targets: makeTargets(n, &rng))
        let moves = a.setCollectors(makeCollectors(m + 1))
        let minimum = Double(n) / Double(m + 1)
        #expect(Double(reassignments(moves)) <= 1.1 * minimum, "moved \(reassignments(moves)) vs minimum \(minimum)")
        #expect(moves.allSatisfy { $0.isReassignment })
        #expect(a.loads.values.max()! <= loadBound(n, over: m + 1))
        #expect(a.loads["collector-\(m)"]! > 0)
    }

    @Test(arguments: [(UInt64(30), 20000, 10), (31, 20000, 20), (32, 30000, 50), (33, 10000, 5)])
    func removingACollectorMovesItsTargetsPlusRepairs(seed: UInt64, n: Int, m: Int) {
        var rng = SplitMix64(seed: seed)
        var a = Allocator(configuration: config(), collectors: makeCollectors(m), targets: makeTargets(n, &rng))
        let victim = "collector-\(m / 2)"
        let own = Set(a.targetsByCollector[victim]!)
        let moves = a.setCollectors(makeCollectors(m).filter { $0.name != victim })
        let moved = Set(moves.map(\.target))
        #expect(own.isSubset(of: moved), "every target of the removed collector moves")
        let repairs = moved.subtracting(own).count
        #expect(Double(repairs) <= 0.1 * Double(own.count), "\(repairs) repairs for \(own.count) orphans")
        #expect(a.loads.values.max()! <= loadBound(n, over: m - 1))
        #expect(a.collector(for: own.first!) != victim)
    }

    @Test(arguments: [UInt64(40), 41, 42])
    func resultIsIndependentOfInputOrderAndHistory(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let collectors = makeCollectors(17, weights: seed == 42 ? [1, 1.5] : nil)
        let targets = makeTargets(5000, &rng, maxWeight: seed == 41 ? 3 : 1)
        let a = Allocator(configuration: config(), collectors: collectors, targets: targets)
        let b = Allocator(
            configuration: config(), collectors: collectors.shuffled(using: &rng), targets: targets.shuffled(using: &rng),
            previous: a.assignment.mapValues { _ in "collector-3" })
        #expect(a.assignment == b.assignment)
        // Built incrementally in random batches, with a detour through other collector sets.
        var c = Allocator(configuration: config(), collectors: makeCollectors(3), targets: [])
        var rest = targets.shuffled(using: &rng)
        while !rest.isEmpty {
            let k = min(rest.count, Int.random(in: 1...700, using: &rng))
            _ = c.update(added: Array(rest.prefix(k)), removed: [])
            rest.removeFirst(k)
            if Bool.random(using: &rng) { _ = c.setCollectors(makeCollectors(Int.random(in: 0...30, using: &rng))) }
        }
        _ = c.setCollectors(collectors.shuffled(using: &rng))
        #expect(c.assignment == a.assignment)
    }

    @Test func nothingMovesWhenNothingChanged() {
        var rng = SplitMix64(seed: 50)
        let collectors = makeCollectors(20)
        let targets = makeTargets(8000, &rng)
        var a = Allocator(configuration: config(), collectors: collectors, targets: targets)
        let before = a.assignment
        #expect(a.setCollectors(collectors.reversed()).isEmpty)
        #expect(a.update(added: [], removed: []).isEmpty)
        #expect(a.update(added: Array(targets.prefix(100)), removed: []).isEmpty)
        #expect(a.assignment == before)
        // A new leader seeded with the stored assignment moves nothing.
        let b = Allocator(configuration: config(), collectors: collectors, targets: targets, previous: before)
        #expect(b.moves(from: before).isEmpty)
    }

    @Test(arguments: [UInt64(60), 61, 62])
    func incrementalUpdatesEqualFullRecomputation(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let collectors = makeCollectors(Int.random(in: 2...30, using: &rng), weights: seed == 62 ? [1, 3, 2] : nil)
        var live: [TargetID: AllocationTarget] = [:]
        for t in makeTargets(3000, &rng, maxWeight: seed == 61 ? 4 : 1) { live[t.id] = t }
        var a = Allocator(configuration: config(), collectors: collectors, targets: Array(live.values))
        for _ in 0..<25 {
            var removed: [TargetID] = []
            for id in live.keys.shuffled(using: &rng).prefix(Int.random(in: 0...300, using: &rng)) {
                removed.append(id)
                live[id] = nil
            }
            var added = makeTargets(Int.random(in: 0...300, using: &rng), &rng, maxWeight: seed == 61 ? 4 : 1)
            // Some weight changes of existing targets.
            for id in live.keys.shuffled(using: &rng).prefix(20) {
                added.append(AllocationTarget(id: id, weight: UInt32.random(in: 1...3, using: &rng)))
            }
            for t in added { live[t.id] = t }
            let before = a.assignment
            let moves = a.update(added: added, removed: removed)
            let full = Allocator(configuration: config(), collectors: collectors, targets: Array(live.values))
            #expect(a.assignment == full.assignment)
            // The moves describe exactly the change.
            var replayed = before
            for m in moves {
                #expect(replayed[m.target] == m.from)
                replayed[m.target] = m.to
            }
            #expect(replayed == a.assignment)
        }
    }

    @Test func collectorWeightsAreRespected() {
        var rng = SplitMix64(seed: 70)
        let collectors = [
            CollectorInfo(name: "small", weight: 1), CollectorInfo(name: "big", weight: 3),
            CollectorInfo(name: "medium", weight: 2), CollectorInfo(name: "drained", weight: 0),
        ]
        let n = 12000
        let a = Allocator(configuration: config(), collectors: collectors, targets: makeTargets(n, &rng))
        let loads = a.loads
        #expect(loads["drained"] == 0)
        for (name, w) in [("small", 1.0), ("medium", 2.0), ("big", 3.0)] {
            let share = Double(n) * w / 6
            #expect(Double(loads[name]!) <= (1.05 * share).rounded(.up))
            #expect(Double(loads[name]!) >= 0.9 * share)
            #expect(a.capacity(of: name) == Int((1.05 * share - 1e-9).rounded(.up)))
        }
    }

    @Test func targetWeightsCountTowardsTheBound() {
        var rng = SplitMix64(seed: 71)
        let targets = makeTargets(6000, &rng, maxWeight: 10)
        let a = Allocator(configuration: config(), collectors: makeCollectors(12), targets: targets)
        let total = targets.reduce(0) { $0 + Int($1.weight) }
        #expect(a.loads.values.reduce(0, +) == total)
        // A collector may overshoot its cap by less than one target's weight.
        #expect(a.loads.values.max()! <= loadBound(total, over: 12) + 9)
        // Heavy targets weigh more: load per target differs from count per target.
        let counts = a.targetsByCollector.mapValues(\.count)
        #expect(counts.values.reduce(0, +) == 6000)
    }

    @Test func edgeCases() {
        var rng = SplitMix64(seed: 80)
        let targets = makeTargets(500, &rng)
        // No collectors: everything waits, nothing is lost.
        var a = Allocator(configuration: config(), collectors: [], targets: targets)
        #expect(a.unassignable == 500)
        #expect(a.assignment.isEmpty)
        #expect(a.collector(for: targets[0].id) == nil)
        #expect(a.update(added: makeTargets(10, &rng), removed: [targets[0].id]).allSatisfy { $0.to == nil })
        #expect(a.count == 509)
        let moves = a.setCollectors(makeCollectors(1))
        #expect(moves.count == 509 && moves.allSatisfy { $0.from == nil && $0.to == "collector-0" })
        #expect(a.unassignable == 0)
        #expect(a.loads == ["collector-0": 509])
        // Back to none.
        let gone = a.setCollectors([])
        #expect(gone.count == 509 && gone.allSatisfy { $0.to == nil })
        #expect(a.unassignable == 509)
        // No targets.
        var empty = Allocator(configuration: config(), collectors: makeCollectors(5), targets: [])
        #expect(empty.assignment.isEmpty && empty.loads.values.allSatisfy { $0 == 0 })
        #expect(empty.setCollectors(makeCollectors(6)).isEmpty)
        // Duplicate ids: the last one wins.
        let id = TargetID(rawValue: 7)
        var dup = Allocator(
            configuration: config(), collectors: makeCollectors(3),
            targets: [AllocationTarget(id: id, weight: 5), AllocationTarget(id: id, weight: 2)])
        #expect(dup.count == 1 && dup.loads.values.reduce(0, +) == 2)
        _ = dup.update(added: [AllocationTarget(id: id, weight: 4), AllocationTarget(id: id, weight: 1)], removed: [])
        #expect(dup.count == 1 && dup.loads.values.reduce(0, +) == 1)
        // Removing unknown ids is harmless; removing and re-adding keeps the target.
        #expect(dup.update(added: [], removed: [TargetID(rawValue: 99)]).isEmpty)
        _ = dup.update(added: [AllocationTarget(id: id)], removed: [id])
        #expect(dup.count == 1 && dup.collector(for: id) != nil)
    }

    @Test func collectorRemovedThenReAddedRestoresTheAssignment() {
        var rng = SplitMix64(seed: 90)
        let collectors = makeCollectors(10)
        var a = Allocator(configuration: config(), collectors: collectors, targets: makeTargets(5000, &rng))
        let original = a.assignment
        _ = a.setCollectors(Array(collectors.dropFirst()))
        #expect(a.assignment.values.allSatisfy { $0 != "collector-0" })
        let back = a.setCollectors(collectors)
        #expect(a.assignment == original)
        #expect(Double(reassignments(back)) <= 1.1 * 5000 / 10)
    }

    @Test func allocationKeyCoLocatesTargets() {
        var rng = SplitMix64(seed: 95)
        let key = AllocationKey.of("10.0.0.1:8080")
        let shared = (0..<5).map { AllocationTarget(id: TargetID(rawValue: UInt64($0) * 1000 + 1), key: key) }
        let a = Allocator(configuration: config(), collectors: makeCollectors(8), targets: shared + makeTargets(1000, &rng))
        #expect(Set(shared.map { a.collector(for: $0.id) }).count == 1)
    }
}
