import ByteStrings

/// A target group's content in a few words, to tell whether a recomputed group changed
/// without keeping the group. Label order does not matter (dictionaries iterate in any order):
/// each label's bytes, with its position (group or target index), are hashed on their own and
/// the hashes combined two commutative ways; the label count and byte total are exact. The
/// hash is Swift's `Hasher` (SipHash keyed at random per process), so no label value can be
/// chosen to collide with another; the digests never leave the process. An accidental
/// collision (about 2⁻⁶⁴ per change) would hold back one group's change until its next one.
struct GroupDigest: Hashable, Sendable {
    private var sum: UInt64 = 0
    private var mixed: UInt64 = 0
    private var size = 0

    init(_ group: TargetGroup) {
        var hasher = Hasher()
        group.source.hashBytes(into: &hasher)
        hasher.combine(group.targets.count)
        add(hasher.finalize())
        add(group.labels, section: -1)
        for (i, target) in group.targets.enumerated() { add(target, section: i) }
    }

    private mutating func add(_ labels: [String: String], section: Int) {
        for (name, value) in labels {
            var hasher = Hasher()
            hasher.combine(section)
            name.hashBytes(into: &hasher)
            value.hashBytes(into: &hasher)
            add(hasher.finalize())
            size &+= name.utf8.count &+ value.utf8.count &+ 1
        }
    }

    private mutating func add(_ hash: Int) {
        let h = UInt64(bitPattern: Int64(hash))
        sum &+= h
        // A second combination of the same hashes: equal sums of different sets rarely also
        // agree here.
        let x = (h ^ (h >> 31)) &* 0x9E37_79B9_7F4A_7C15
        mixed ^= x ^ (x >> 29)
    }
}
