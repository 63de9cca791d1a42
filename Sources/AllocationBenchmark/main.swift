// Allocation benchmark (issue 4). Run: swift run -c release allocation-bench [--quick]
// Figures are medians of several runs, timed with ContinuousClock.
import Allocation
#if canImport(Glibc)
import Glibc  // libm for Double.rounded
#endif

let quick = CommandLine.arguments.contains("--quick")

struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

var rng = SplitMix64(state: 2024)

@MainActor func targets(_ n: Int, nodes: Int = 0) -> [AllocationTarget] {
    (0..<n).map { i in
        AllocationTarget(id: TargetID(rawValue: rng.next()), node: nodes > 0 ? "node-\(i % nodes)" : nil)
    }
}

func collectors(_ m: Int, nodes: Int = 0, weights: [Double]? = nil) -> [CollectorInfo] {
    (0..<m).map { i in
        CollectorInfo(
            name: "otel-collector-\(i)", node: nodes > 0 ? "node-\(i % nodes)" : nil, weight: weights.map { $0[i % $0.count] })
    }
}

func ms(_ d: Duration) -> Double {
    let c = d.components
    return Double(c.seconds) * 1e3 + Double(c.attoseconds) / 1e15
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Runs `body` `runs` times and returns the median milliseconds.
func measure(_ runs: Int, _ body: () -> Void) -> Double {
    let clock = ContinuousClock()
    return median((0..<runs).map { _ in ms(clock.measure(body)) })
}

struct Row {
    var name: String
    var value: String
    var goal: String
    var pass: Bool?
}

var rows: [Row] = []
@MainActor func report(_ name: String, _ value: String, goal: String = "", pass: Bool? = nil) {
    rows.append(Row(name: name, value: value, goal: goal, pass: pass))
}

func fmt(_ x: Double, _ digits: Int = 2) -> String {
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let r = (x * p).rounded() / p
    var s = "\(r)"
    if let dot = s.firstIndex(of: ".") {
        let decimals = s.distance(from: dot, to: s.endIndex) - 1
        if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
    } else if digits > 0 {
        s += "." + String(repeating: "0", count: digits)
    }
    return s
}

let config = AllocatorConfiguration(strategy: .consistentHashing, epsilon: 0.05)
let m = 100
let runs = quick ? 3 : 7

// 1. Full allocation.
for n in quick ? [100_000] : [100_000, 1_000_000] {
    let ts = targets(n)
    let cs = collectors(m)
    var allocator: Allocator?
    let t = measure(n >= 1_000_000 ? 3 : runs) {
        allocator = Allocator(configuration: config, collectors: cs, targets: ts)
    }
    let a = allocator!
    let loads = a.loads.values
    let mean = Double(n) / Double(m)
    let bound = (1.05 * mean).rounded(.up)
    let label = n >= 1_000_000 ? "1M" : "\(n / 1000)k"
    if n == 100_000 {
        report("full allocation, \(label) targets / \(m) collectors", "\(fmt(t)) ms", goal: "≤ 50 ms", pass: t <= 50)
        report("  vs upstream's 68 ms per reload (Ryzen 7950X3D)", "\(fmt(68 / t, 1))× faster")
    } else {
        report("full allocation, \(label) targets / \(m) collectors", "\(fmt(t)) ms", goal: "(info)")
    }
    report(
        "  max / mean load (\(label))", "\(loads.max()!) / \(fmt(mean, 0)) = \(fmt(Double(loads.max()!) / mean, 3))",
        goal: "≤ \(Int(bound)) (1+ε)", pass: Double(loads.max()!) <= bound)
    report("  min / mean load (\(label))", "\(loads.min()!) / \(fmt(mean, 0)) = \(fmt(Double(loads.min()!) / mean, 3))")
    let bytes = Double(a.estimatedMemoryBytes) / Double(n)
    report("  bytes per target (\(label), structure estimate)", fmt(bytes, 1), goal: "(info)")

    // 2. Incremental updates on this state.
    var base = a
    var fresh = targets(1000)
    var ids = ts.map(\.id)
    var addT: [Double] = []
    var removeT: [Double] = []
    var mixedT: [Double] = []
    let clock = ContinuousClock()
    for _ in 0..<runs {
        addT.append(ms(clock.measure { _ = base.update(added: fresh, removed: []) }))
        removeT.append(ms(clock.measure { _ = base.update(added: [], removed: fresh.map(\.id)) }))
        let out = Array(ids.suffix(500))
        ids.removeLast(500)
        let inn = Array(fresh.prefix(500))
        mixedT.append(ms(clock.measure { _ = base.update(added: inn, removed: out) }))
        ids += inn.map(\.id)
        fresh = targets(1000)
    }
    let goal = n == 100_000 ? "≤ 1 ms" : "(info)"
    let passIf: (Double) -> Bool? = { n == 100_000 ? $0 <= 1 : nil }
    report("incremental: add 1,000 targets (\(label) base)", "\(fmt(median(addT), 3)) ms", goal: goal, pass: passIf(median(addT)))
    report("incremental: remove 1,000 targets (\(label) base)", "\(fmt(median(removeT), 3)) ms", goal: goal, pass: passIf(median(removeT)))
    report("incremental: 500 in + 500 out (\(label) base)", "\(fmt(median(mixedT), 3)) ms", goal: goal, pass: passIf(median(mixedT)))
    let loads2 = base.loads.values
    report(
        "  max load after \(runs * 3) updates (\(label))", "\(loads2.max()!)",
        goal: "≤ \(Int((1.05 * Double(base.count) / Double(m)).rounded(.up)))",
        pass: Double(loads2.max()!) <= (1.05 * Double(base.count) / Double(m)).rounded(.up))

    // 3. Collector changes.
    var grow = a
    var addMoves: [Move] = []
    let addTime = ms(clock.measure { addMoves = grow.setCollectors(collectors(m + 1)) })
    let minimum = Double(n) / Double(m + 1)
    let moved = addMoves.filter(\.isReassignment).count
    report(
        "add collector \(m)→\(m + 1) (\(label)): moves / N/(M+1)", "\(moved) / \(fmt(minimum, 0)) = \(fmt(Double(moved) / minimum, 3))",
        goal: "≤ 1.1", pass: Double(moved) <= 1.1 * minimum)
    report("  time (full recompute)", "\(fmt(addTime)) ms")
    var shrink = a
    let victim = "otel-collector-\(m / 2)"
    let own = a.loads[victim]!
    var removeMoves: [Move] = []
    let removeTime = ms(clock.measure { removeMoves = shrink.setCollectors(collectors(m).filter { $0.name != victim }) })
    let rmoved = removeMoves.filter(\.isReassignment).count
    report(
        "remove collector \(m)→\(m - 1) (\(label)): moves / its targets", "\(rmoved) / \(own) = \(fmt(Double(rmoved) / Double(own), 3))",
        goal: "≤ 1.1", pass: Double(rmoved) <= 1.1 * Double(own))
    report("  time (full recompute)", "\(fmt(removeTime)) ms")
    report("  max load after removal", "\(shrink.loads.values.max()!)", goal: "≤ \(Int((1.05 * Double(n) / Double(m - 1)).rounded(.up)))",
        pass: Double(shrink.loads.values.max()!) <= (1.05 * Double(n) / Double(m - 1)).rounded(.up))
}

// 4. Other strategies and weights, 100k targets (information).
do {
    let n = 100_000
    let ts = targets(n, nodes: 50)
    let lw = AllocatorConfiguration(strategy: .leastWeighted)
    var a: Allocator?
    report("least-weighted full allocation, 100k", "\(fmt(measure(runs) { a = Allocator(configuration: lw, collectors: collectors(m), targets: ts) })) ms", goal: "(info)")
    var b = a!
    var lwMoves: [Move] = []
    let t = ms(ContinuousClock().measure { lwMoves = b.setCollectors(collectors(m + 1)) })
    report(
        "  add collector: moves / N/(M+1)", "\(lwMoves.count) / \(fmt(Double(n) / 101, 0)) in \(fmt(t)) ms",
        goal: "new collector ≥ (1−ε)·share", pass: Double(b.loads["otel-collector-\(m)"]!) >= (0.95 * Double(n) / 101).rounded(.down))
    let pn = AllocatorConfiguration(strategy: .perNode)
    report(
        "per-node full allocation, 100k (50 nodes, 100 collectors)",
        "\(fmt(measure(runs) { a = Allocator(configuration: pn, collectors: collectors(m, nodes: 50), targets: ts) })) ms", goal: "(info)")
    report(
        "per-node, collectors on 25 of 50 nodes: fallback targets",
        "\(Allocator(configuration: pn, collectors: collectors(m, nodes: 25).map { CollectorInfo(name: $0.name, node: "node-\(Int($0.name.dropFirst(15))! % 25 * 2)") }, targets: ts).fallbackCount)")
    report(
        "weighted collectors (1,2,3,4) full allocation, 100k",
        "\(fmt(measure(runs) { a = Allocator(configuration: config, collectors: collectors(m, weights: [1, 2, 3, 4]), targets: ts) })) ms",
        goal: "(info)")
}

// Table.
let w0 = max(rows.map(\.name.count).max()!, 10)
let w1 = max(rows.map(\.value.count).max()!, 10)
let w2 = max(rows.map(\.goal.count).max()!, 6)
func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }
print("allocation-bench: consistent-hashing with bounded loads (ε = 0.05), \(m) collectors, median of \(runs) runs")
print(pad("measurement", w0) + " | " + pad("value", w1) + " | " + pad("target", w2) + " | result")
print(String(repeating: "-", count: w0 + w1 + w2 + 17))
for r in rows {
    let verdict = r.pass.map { $0 ? "PASS" : "FAIL" } ?? ""
    print(pad(r.name, w0) + " | " + pad(r.value, w1) + " | " + pad(r.goal, w2) + " | " + verdict)
}
let failed = rows.filter { $0.pass == false }.count
print(failed == 0 ? "all targets met" : "\(failed) target(s) missed")
