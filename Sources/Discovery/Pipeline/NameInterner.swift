import ByteStrings

/// Shares one copy of each label name across all targets, and knows the names' byte order.
///
/// A pod target has some thirty names of forty-odd bytes, each built afresh by discovery, which
/// would otherwise be kept once per target. And every group's labels are sorted by name: names
/// that share `__meta_kubernetes_pod_` compare slowly, so each name gets a rank (its place in
/// byte order among all names seen) and a group sorts by comparing integers. Keyed by UTF-8
/// bytes, never by Swift's canonical equivalence (which would hand back another spelling).
public struct NameInterner: Sendable {
    public init() {}

    private var table: [ByteKey: Int] = [:]
    /// By slot (the table's value): the shared name and its rank.
    private var entries: [(name: String, rank: UInt64)] = []
    /// Slots ordered by name bytes: where a new name's rank is found.
    private var order: [Int] = []

    /// Ranks start this far apart, so a new name usually fits between two others.
    private static let spacing: UInt64 = 1 << 32

    /// The shared copy of `name` and its rank: for two names interned by this interner, the
    /// ranks compare as the names' bytes do (until the next call, which may renumber).
    public mutating func intern(_ name: String) -> (name: String, rank: UInt64) {
        let key = ByteKey(name)
        if let slot = table[key] { return entries[slot] }
        let slot = entries.count
        // The first slot in byte order whose name comes after `name` (names are unique).
        var lo = 0
        var hi = order.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if entries[order[mid]].name.bytesPrecede(name) { lo = mid + 1 } else { hi = mid }
        }
        let below = lo > 0 ? entries[order[lo - 1]].rank : 0
        let above = lo < order.count ? entries[order[lo]].rank : below + 2 * Self.spacing
        entries.append((name, below + (above - below) / 2))
        order.insert(slot, at: lo)
        table[key] = slot
        if entries[slot].rank == below || entries[slot].rank == above { renumber() }
        return entries[slot]
    }

    /// Spreads the ranks evenly again (when two neighbours left no room between them).
    private mutating func renumber() {
        for (i, slot) in order.enumerated() { entries[slot].rank = UInt64(i + 1) * Self.spacing }
    }

    public var count: Int { table.count }
}
