#if canImport(Glibc)
import Glibc
#endif
import HTTPServer

/// Exact-match table from raw request-target bytes to a rendered resource.
///
/// Collectors request canonical URLs (`/jobs/<QueryEscape(job)>/targets?collector_id=<id>`),
/// so almost every request is one hash and one `memcmp`, without building a String.
/// Anything else falls back to the parsing path.
struct RouteTable: Sendable {
    private let keys: [[UInt8]]
    private let values: [HTTPResource]
    private let slots: [Int32]  // index into keys, -1 = empty
    private let mask: Int

    init(_ entries: [(String, HTTPResource)]) {
        var capacity = 16
        while capacity < entries.count * 2 { capacity <<= 1 }
        var slots = [Int32](repeating: -1, count: capacity)
        var keys: [[UInt8]] = []
        var values: [HTTPResource] = []
        for (key, value) in entries {
            let bytes = Array(key.utf8)
            var slot = bytes.withUnsafeBytes { Self.hash($0) } & (capacity - 1)
            var duplicate = false
            while slots[slot] >= 0 {
                if keys[Int(slots[slot])] == bytes { duplicate = true; break }
                slot = (slot + 1) & (capacity - 1)
            }
            if duplicate { continue }
            slots[slot] = Int32(keys.count)
            keys.append(bytes)
            values.append(value)
        }
        self.keys = keys
        self.values = values
        self.slots = slots
        self.mask = capacity - 1
    }

    func lookup(_ target: UnsafeRawBufferPointer) -> HTTPResource? {
        guard target.count > 0 else { return nil }
        var slot = Self.hash(target) & mask
        while true {
            let index = Int(slots[slot])
            if index < 0 { return nil }
            let key = keys[index]
            if key.count == target.count,
                key.withUnsafeBytes({ memcmp($0.baseAddress!, target.baseAddress!, target.count) == 0 })
            {
                return values[index]
            }
            slot = (slot + 1) & mask
        }
    }

    /// `Hasher` is seeded per process, so request targets cannot be crafted to collide.
    @inline(__always)
    private static func hash(_ bytes: UnsafeRawBufferPointer) -> Int {
        var h = Hasher()
        h.combine(bytes: bytes)
        return h.finalize()
    }
}
