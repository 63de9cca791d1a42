@testable import Allocation

/// SplitMix64: a tiny seeded generator so every property test is reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func makeTargets(_ n: Int, _ rng: inout SplitMix64, maxWeight: UInt32 = 1, nodes: Int = 0) -> [AllocationTarget] {
    (0..<n).map { _ in
        AllocationTarget(
            id: TargetID(rawValue: rng.next()),
            node: nodes > 0 ? "node-\(Int.random(in: 0..<nodes, using: &rng))" : nil,
            weight: maxWeight > 1 ? UInt32.random(in: 1...maxWeight, using: &rng) : 1)
    }
}

func makeCollectors(_ m: Int, prefix: String = "collector-", weights: [Double]? = nil, nodes: Int = 0) -> [CollectorInfo] {
    (0..<m).map { i in
        CollectorInfo(
            name: "\(prefix)\(i)", node: nodes > 0 ? "node-\(i % nodes)" : nil,
            weight: weights.map { $0[i % $0.count] })
    }
}

func config(_ strategy: AllocationStrategy = .consistentHashing, epsilon: Double = 0.05) -> AllocatorConfiguration {
    AllocatorConfiguration(strategy: strategy, epsilon: epsilon)
}

/// The specification of consistent hashing, written as plainly as possible: targets in
/// descending (priority, id) order each take the first collector in their rendezvous ranking
/// whose load so far is below its capacity.
func referenceConsistentHashing(
    collectors: [CollectorInfo], targets: [AllocationTarget], epsilon: Double = 0.05
) -> [TargetID: String] {
    let cols = Collectors(collectors)
    guard cols.count > 0 else { return [:] }
    var unique: [TargetID: AllocationTarget] = [:]
    for t in targets { unique[t.id] = t }
    let total = unique.values.reduce(0.0) { $0 + Double(Core.weight($1.weight)) }
    let caps = (0..<cols.count).map { c -> UInt64 in
        let v = ((1 + epsilon) * total * cols.weights[c] / cols.totalWeight - 1e-9).rounded(.up)
        return v > 0 ? UInt64(v) : 0
    }
    func prio(_ t: AllocationTarget) -> (UInt64, UInt64) { (mix64(t.key ^ Core.prioritySalt), t.id.rawValue) }
    let ordered = unique.values.sorted { prio($0) > prio($1) }
    var load = [UInt64](repeating: 0, count: cols.count)
    var result: [TargetID: String] = [:]
    for t in ordered {
        var c: Int? = cols.first(t.key)
        while let current = c, load[current] >= caps[current] { c = cols.next(t.key, after: current) }
        let chosen = c!
        load[chosen] += UInt64(Core.weight(t.weight))
        result[t.id] = cols.names[chosen]
    }
    return result
}

func reassignments(_ moves: [Move]) -> Int { moves.filter(\.isReassignment).count }

func loadBound(_ n: Int, over m: Int, epsilon: Double = 0.05) -> Int {
    Int(((1 + epsilon) * Double(n) / Double(m) - 1e-9).rounded(.up))
}
