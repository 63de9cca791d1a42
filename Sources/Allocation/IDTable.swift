/// An open-addressing (linear probing, backward-shift deletion) map from target id to slot.
/// Cheaper than `Dictionary` here: ids are already hashes, so one `mix64` replaces a seeded
/// SipHash, and an entry costs 12 bytes at a load factor of at most 3/4.
struct IDTable: Sendable {
    private var keys: [UInt64] = []
    private var values: [Int32] = []  // −1: empty
    private var mask = -1
    private(set) var count = 0

    var capacity: Int { values.count }

    @inline(__always) private func home(_ key: UInt64) -> Int { Int(truncatingIfNeeded: mix64(key)) & mask }

    mutating func reserveCapacity(_ n: Int) {
        guard n * 4 > values.count * 3 else { return }
        var size = 16
        while size * 3 < n * 4 { size *= 2 }
        let oldKeys = keys
        let oldValues = values
        keys = Array(repeating: 0, count: size)
        values = Array(repeating: -1, count: size)
        mask = size - 1
        count = 0
        for i in oldValues.indices where oldValues[i] >= 0 { self[TargetID(rawValue: oldKeys[i])] = oldValues[i] }
    }

    @inline(__always) private func find(_ key: UInt64) -> Int? {
        guard mask >= 0 else { return nil }
        var i = home(key)
        while values[i] >= 0 {
            if keys[i] == key { return i }
            i = (i + 1) & mask
        }
        return nil
    }

    subscript(_ id: TargetID) -> Int32? {
        get { find(id.rawValue).map { values[$0] } }
        set {
            guard let newValue else {
                removeValue(forKey: id)
                return
            }
            if let i = find(id.rawValue) {
                values[i] = newValue
                return
            }
            reserveCapacity(count + 1)
            var i = home(id.rawValue)
            while values[i] >= 0 { i = (i + 1) & mask }
            keys[i] = id.rawValue
            values[i] = newValue
            count += 1
        }
    }

    @discardableResult
    mutating func removeValue(forKey id: TargetID) -> Int32? {
        guard var i = find(id.rawValue) else { return nil }
        let removed = values[i]
        values[i] = -1
        count -= 1
        var j = i
        while true {
            j = (j + 1) & mask
            guard values[j] >= 0 else { break }
            let h = home(keys[j])
            // Leave entry j where it is if its home lies cyclically in (i, j].
            let stays = i <= j ? (i < h && h <= j) : (i < h || h <= j)
            if !stays {
                keys[i] = keys[j]
                values[i] = values[j]
                values[j] = -1
                i = j
            }
        }
        return removed
    }
}
