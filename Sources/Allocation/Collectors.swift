import ByteStrings

/// The collector set in canonical order (sorted by name, duplicates merged), with the
/// rendezvous-hash scores every strategy uses.
///
/// Score of target key `k` on collector `c`:
/// - all weights equal: `mix64(k ^ xxh64(name))` as an unsigned integer;
/// - otherwise the weighted rendezvous score `w / −ln(u)` with `u = (top 53 bits of that + ½)·2⁻⁵³`
///   (a `Double`, compared through its bit pattern, which orders positive doubles correctly),
///   with a platform-independent `ln`.
///
/// A target prefers higher scores; equal scores prefer the collector whose name sorts first.
struct Collectors: Sendable {
    var names: [String] = []
    var nodes: [String?] = []
    var seeds: [UInt64] = []
    var weights: [Double] = []
    var uniform = true
    var totalWeight: Double = 0
    /// By name bytes (collector and node names are compared as bytes, never canonically).
    var indexByName: [ByteKey: Int] = [:]

    var count: Int { names.count }

    init() {}

    init(_ infos: [CollectorInfo]) {
        let canonical = Collectors.canonical(infos)
        names = canonical.map(\.name)
        nodes = canonical.map(\.node)
        seeds = names.map { mix64(XXH64.hash($0)) }
        weights = canonical.map(\.effectiveWeight)
        if weights.allSatisfy({ $0 == 0 }) { weights = weights.map { _ in 1 } }
        uniform = weights.allSatisfy { $0 == weights.first }
        totalWeight = weights.reduce(0, +)
        for (i, name) in names.enumerated() { indexByName[ByteKey(name)] = i }
    }

    /// Sorted by name; of duplicate names the greatest (node, weight) wins, so the input order never matters.
    static func canonical(_ infos: [CollectorInfo]) -> [CollectorInfo] {
        let sorted = infos.sorted { a, b in
            if !a.name.bytesEqual(b.name) { return a.name.bytesPrecede(b.name) }
            if (a.node == nil) != (b.node == nil) { return a.node == nil }
            if let x = a.node, let y = b.node, !x.bytesEqual(y) { return x.bytesPrecede(y) }
            return a.effectiveWeight < b.effectiveWeight
        }
        var result: [CollectorInfo] = []
        result.reserveCapacity(sorted.count)
        for info in sorted {
            if let last = result.last, last.name.bytesEqual(info.name) {
                result[result.count - 1] = info
            } else {
                result.append(info)
            }
        }
        return result
    }

    @inline(__always) func score(_ key: UInt64, _ c: Int) -> UInt64 {
        let h = mix64(key ^ seeds[c])
        if uniform { return h }
        let w = weights[c]
        if w == 0 { return 0 }
        let u = (Double(h >> 11) + 0.5) * 0x1p-53
        return (w / -fastLog(u)).bitPattern
    }

    /// The most preferred collector for `key` (requires `count > 0`).
    @inline(__always) func first(_ key: UInt64) -> Int {
        guard uniform else {
            var best = 0
            var bestScore = score(key, 0)
            var c = 1
            while c < count {
                let s = score(key, c)
                if s > bestScore {
                    best = c
                    bestScore = s
                }
                c += 1
            }
            return best
        }
        return seeds.withUnsafeBufferPointer { seeds in
            var best = 0
            var bestScore = mix64(key ^ seeds[0])
            var c = 1
            while c < seeds.count {
                let s = mix64(key ^ seeds[c])
                if s > bestScore {
                    best = c
                    bestScore = s
                }
                c += 1
            }
            return best
        }
    }

    /// The first choice among `candidates` (indices), or nil if empty.
    func first(_ key: UInt64, among candidates: [Int]) -> Int? {
        var best: Int?
        var bestScore: UInt64 = 0
        for c in candidates {
            let s = score(key, c)
            if best == nil || s > bestScore || (s == bestScore && c < best!) {
                best = c
                bestScore = s
            }
        }
        return best
    }

    /// The collector ranked right after `c` in `key`'s preference order.
    func next(_ key: UInt64, after c: Int) -> Int? {
        let cs = score(key, c)
        var best = -1
        var bestScore: UInt64 = 0
        for d in 0..<count {
            let s = score(key, d)
            guard s < cs || (s == cs && d > c) else { continue }
            if best < 0 || s > bestScore {
                best = d
                bestScore = s
            }
        }
        return best < 0 ? nil : best
    }

    /// Whether `key` ranks collector `a` before collector `b`.
    @inline(__always) func prefers(_ key: UInt64, _ a: Int, over b: Int) -> Bool {
        let sa = score(key, a)
        let sb = score(key, b)
        return sa > sb || (sa == sb && a < b)
    }

    /// The full preference order (used by tests and diagnostics).
    func preferences(_ key: UInt64) -> [Int] {
        (0..<count).sorted { prefers(key, $0, over: $1) }
    }
}
