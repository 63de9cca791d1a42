import ByteStrings
import Foundation
import JSON
public import Snapshot
import SwiftProtobuf

/// Snapshot ⇄ compressed protobuf bytes. Strings are interned so each label name and value
/// is stored once, which is what keeps big snapshots small.
public enum SnapshotCodec {
    public enum DecodeError: Error, CustomStringConvertible {
        case corrupt(String)
        public var description: String {
            switch self {
            case .corrupt(let m): "corrupt snapshot: \(m)"
            }
        }
    }

    /// Decoded snapshots larger than this are refused (a sanity bound, far above real sizes).
    public static let maxUncompressedSize = 1 << 30

    /// Deflating a 100k-target snapshot (10.5 MB) takes ~270 ms at zlib's default level 6 for
    /// 23.8 B/target, ~100 ms at 4 for 24.7, ~72 ms at 1 for 27.6: 4 keeps nearly all of the
    /// size for little more than the fastest level's time.
    static let compressionLevel: Int32 = 4

    public static func encode(_ snapshot: Snapshot) throws -> (compressed: [UInt8], uncompressedSize: Int) {
        let segments = wireSegments(snapshot)
        return (try Deflate.compress(segments, level: compressionLevel), segments.reduce(0) { $0 + $1.count })
    }

    /// The protobuf bytes of `snapshot` in consecutive pieces (joining them would only copy
    /// megabytes), written directly instead of through SwiftProtobuf messages, whose building and
    /// serializing cost more than everything else together. Fields come in field-number order and
    /// defaults are left out, as SwiftProtobuf writes them, so the bytes are the ones it would write.
    static func wireSegments(_ snapshot: Snapshot) -> [[UInt8]] {
        var strings = StringTable(expectedCount: 2 * snapshot.targets.count + 2 * snapshot.collectors.count + snapshot.jobs.count)
        var middle = WireWriter()  // collectors, then jobs
        let collectorNames = writeCollectors(snapshot.collectors, field: 6, strings: &strings, into: &middle)
        // Collector number (index + 1) by the string index of its name; the last duplicate wins.
        var collectorByName = [UInt32](repeating: 0, count: strings.count)
        for (i, name) in collectorNames.enumerated() { collectorByName[Int(name)] = UInt32(i) + 1 }
        writeJobs(snapshot.jobs, field: 7, strings: &strings, into: &middle)

        var targets = WireWriter(capacity: 64 * snapshot.targets.count)
        writeTargets(snapshot.targets, field: 8, strings: &strings, collectorByName: collectorByName, into: &targets)

        var head = WireWriter()
        head.field(1, snapshot.epoch)
        head.field(2, snapshot.generation)
        head.field(3, UInt64(bitPattern: snapshot.createdAtMillis))
        head.field(4, Array(snapshot.leader.utf8))
        return [head.bytes, strings.wire, middle.bytes, targets.bytes]
    }

    /// Appends `collectors` as repeated `Collector` messages of field `field` (name and node as
    /// string indexes, the node + 1 so that none is 0); returns each name's string index.
    static func writeCollectors(_ collectors: [Collector], field: UInt64, strings: inout StringTable, into out: inout WireWriter) -> [UInt32] {
        var names: [UInt32] = []
        names.reserveCapacity(collectors.count)
        for c in collectors {
            let name = strings.intern(c.name)
            let node = c.node.map { strings.intern($0) + 1 } ?? 0
            names.append(name)
            out.tag(field, .lengthDelimited)
            out.varint(UInt64(WireWriter.fieldSize(1, name) + WireWriter.fieldSize(2, node)))
            out.field(1, name)
            out.field(2, node)
        }
        return names
    }

    /// Appends `jobs` as repeated `Job` messages of field `field` (name as a string index, the
    /// scrape config as compact JSON).
    static func writeJobs(_ jobs: [Job], field: UInt64, strings: inout StringTable, into out: inout WireWriter) {
        var json: [UInt8] = []
        for job in jobs {
            let name = strings.intern(job.name)
            json.removeAll(keepingCapacity: true)
            job.scrapeConfig.write(into: &json)
            out.tag(field, .lengthDelimited)
            out.varint(UInt64(WireWriter.fieldSize(1, name) + WireWriter.fieldSize(2, json)))
            out.field(1, name)
            out.field(2, json)
        }
    }

    /// Appends `targets` as repeated `Target` messages of field `field`; a collector is written
    /// as its number in `collectorByName` (by the string index of its name), 0 if none.
    static func writeTargets(
        _ list: [Target], field: UInt64, strings: inout StringTable, collectorByName: [UInt32], into targets: inout WireWriter
    ) {
        var recent = RecentStrings()
        var labels: [UInt32] = []
        for t in list {
            let job = strings.intern(t.job)
            var collector: UInt32 = 0
            if let name = t.collector, let index = strings.find(name), Int(index) < collectorByName.count {
                collector = collectorByName[Int(index)]
            }
            labels.removeAll(keepingCapacity: true)
            var packedSize = 0
            // Borrowing the labels in place saves a retain and release per string.
            t.labels.sorted.withUnsafeBufferPointer { sorted in
                for i in sorted.indices {
                    let name = recent.intern(sorted[i].name, at: 2 * i, in: &strings)
                    let value = recent.intern(sorted[i].value, at: 2 * i + 1, in: &strings)
                    labels.append(name)
                    labels.append(value)
                    packedSize += WireWriter.varintSize(UInt64(name)) + WireWriter.varintSize(UInt64(value))
                }
            }
            let labelsSize = packedSize == 0 ? 0 : 1 + WireWriter.varintSize(UInt64(packedSize)) + packedSize
            targets.tag(field, .lengthDelimited)
            targets.varint(UInt64(WireWriter.fieldSize(1, job) + labelsSize + WireWriter.fieldSize(3, collector)))
            targets.field(1, job)
            if packedSize > 0 {
                targets.tag(2, .lengthDelimited)
                targets.varint(UInt64(packedSize))
                for index in labels { targets.varint(UInt64(index)) }
            }
            targets.field(3, collector)
        }
    }

    public static func decode(_ compressed: [UInt8], uncompressedSize: Int) throws -> Snapshot {
        let bytes: [UInt8]
        do {
            bytes = try Deflate.decompress(compressed, expectedSize: uncompressedSize, limit: maxUncompressedSize)
        } catch {
            throw DecodeError.corrupt("decompression failed: \(error)")
        }
        let message: Targetallocator_Snapshot_V1_Snapshot
        do {
            message = try Targetallocator_Snapshot_V1_Snapshot(serializedBytes: bytes)
        } catch {
            throw DecodeError.corrupt("protobuf: \(error)")
        }
        let strings = Strings(message.strings)
        let collectors = try message.collectors.map { try strings.collector($0) }
        let jobs = try message.jobs.map { try strings.job($0) }
        var targets: [Target] = []
        targets.reserveCapacity(message.targets.count)
        for t in message.targets {
            targets.append(
                try strings.target(t) { number in
                    guard number != 0 else { return nil }
                    guard Int(number) <= collectors.count else { throw DecodeError.corrupt("target refers to collector \(number)") }
                    return collectors[Int(number) - 1].name
                })
        }
        let snapshot = Snapshot(
            epoch: message.epoch, generation: message.generation, createdAtMillis: message.createdAtMs, leader: message.leader,
            collectors: collectors, jobs: jobs, targets: targets)
        let problems = snapshot.problems()
        guard problems.isEmpty else { throw DecodeError.corrupt(problems.prefix(5).joined(separator: "; ")) }
        return snapshot
    }
}

extension SnapshotCodec {
    /// A decoded message's string table, and the messages that refer into it.
    struct Strings {
        let table: [String]

        init(_ table: [String]) { self.table = table }

        func string(_ i: UInt32, _ what: String) throws -> String {
            guard Int(i) < table.count else { throw DecodeError.corrupt("\(what) refers to string \(i) of \(table.count)") }
            return table[Int(i)]
        }

        func collector(_ c: Targetallocator_Snapshot_V1_Collector) throws -> Collector {
            Collector(name: try string(c.name, "collector name"), node: c.node == 0 ? nil : try string(c.node - 1, "collector node"))
        }

        func job(_ j: Targetallocator_Snapshot_V1_Job) throws -> Job {
            let config: JSONValue
            do { config = try JSONValue.parse(Array(j.scrapeConfigJson)) } catch {
                throw DecodeError.corrupt("scrape config of job \(j.name): \(error)")
            }
            return Job(name: try string(j.name, "job name"), scrapeConfig: config)
        }

        func target(_ t: Targetallocator_Snapshot_V1_Target, collector: (UInt32) throws -> String?) throws -> Target {
            guard t.labels.count % 2 == 0 else { throw DecodeError.corrupt("a target has an odd label list") }
            var pairs: [(String, String)] = []
            pairs.reserveCapacity(t.labels.count / 2)
            var i = 0
            while i < t.labels.count {
                pairs.append((try string(t.labels[i], "label name"), try string(t.labels[i + 1], "label value")))
                i += 2
            }
            return Target(job: try string(t.job, "target job"), labels: Labels(presorted: pairs), collector: try collector(t.collector))
        }
    }
}

/// Appends protobuf wire format: varints, tags and fields.
struct WireWriter {
    enum WireType: UInt64 {
        case varint = 0
        case lengthDelimited = 2
    }

    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    static func varintSize(_ v: UInt64) -> Int { v < 0x80 ? 1 : (64 - v.leadingZeroBitCount + 6) / 7 }

    /// The size of `field(field, value)`: 0 for 0, which proto3 leaves out.
    static func fieldSize(_ field: UInt64, _ value: some FixedWidthInteger) -> Int {
        value == 0 ? 0 : varintSize(field << 3) + varintSize(UInt64(value))
    }

    /// The size of `field(field, value)`: 0 when empty, which proto3 leaves out.
    static func fieldSize(_ field: UInt64, _ value: [UInt8]) -> Int {
        value.isEmpty ? 0 : varintSize(field << 3 | 2) + varintSize(UInt64(value.count)) + value.count
    }

    mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func tag(_ field: UInt64, _ type: WireType) { varint(field << 3 | type.rawValue) }

    /// A singular varint field, left out when 0.
    mutating func field(_ field: UInt64, _ value: some FixedWidthInteger) {
        guard value != 0 else { return }
        tag(field, .varint)
        varint(UInt64(value))
    }

    /// A singular bytes or string field, left out when empty.
    mutating func field(_ field: UInt64, _ value: [UInt8]) {
        guard !value.isEmpty else { return }
        tag(field, .lengthDelimited)
        varint(UInt64(value.count))
        bytes += value
    }

    /// One element of a repeated bytes or string field (written even when empty); returns
    /// where its value starts in `bytes`.
    mutating func element(_ field: UInt64, _ value: UnsafeBufferPointer<UInt8>) -> Int {
        tag(field, .lengthDelimited)
        varint(UInt64(value.count))
        let start = bytes.count
        bytes.append(contentsOf: value)
        return start
    }
}

/// Interns strings by their UTF-8 bytes and writes each new one straight into the `strings`
/// field (5) bytes, which lookups then compare against: unlike `Dictionary<String, UInt32>`,
/// the table (hashes and indices in one flat array) keeps no `String`s and copies none.
struct StringTable {
    /// Field 5 entries, in index order, ready to be emitted.
    private var writer = WireWriter()
    var wire: [UInt8] { writer.bytes }
    /// Where string i's bytes start in `wire`, and how many there are.
    private var spans: [(start: Int, count: Int)] = []
    /// 0 when free, else the hash's low 32 bits << 32 | (index + 1). At most 3/4 full.
    private var slots: [UInt64]
    private let seededHasher = Hasher()

    init(expectedCount: Int) {
        var size = 16
        while 3 * size < 4 * expectedCount { size <<= 1 }
        slots = Array(repeating: 0, count: size)
        spans.reserveCapacity(expectedCount)
    }

    var count: Int { spans.count }

    /// The index of `s`, adding it if new.
    mutating func intern(_ s: String) -> UInt32 {
        Self.withUTF8(s) { utf8 in
            let hash = hash(utf8)
            switch lookup(utf8, hash: hash) {
            case .found(let index): return index
            case .free(let slot):
                let index = UInt32(spans.count)
                slots[slot] = UInt64(hash) << 32 | UInt64(index + 1)
                spans.append((writer.element(5, utf8), utf8.count))
                if 4 * spans.count > 3 * slots.count { grow() }
                return index
            }
        }
    }

    /// The index of `s` if it was interned.
    func find(_ s: String) -> UInt32? {
        Self.withUTF8(s) { utf8 in
            if case .found(let index) = lookup(utf8, hash: hash(utf8)) { return index }
            return nil
        }
    }

    /// Native strings lend their bytes without a copy. Static: as a method it would be handed a
    /// copy of `self` while `intern`'s closure appends to `self`'s arrays, and in unoptimized
    /// builds every append then copied them.
    private static func withUTF8<R>(_ s: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let r = s.utf8.withContiguousStorageIfAvailable(body) { return r }
        var copy = s
        return copy.withUTF8(body)
    }

    private enum Lookup {
        case found(UInt32)
        case free(Int)
    }

    private func lookup(_ utf8: UnsafeBufferPointer<UInt8>, hash: UInt32) -> Lookup {
        let mask = slots.count - 1
        var slot = Int(hash) & mask
        return writer.bytes.withUnsafeBufferPointer { wire in
            while true {
                let entry = slots[slot]
                if entry == 0 { return .free(slot) }
                if UInt32(truncatingIfNeeded: entry >> 32) == hash {
                    let index = Int(UInt32(truncatingIfNeeded: entry)) - 1
                    let span = spans[index]
                    if span.count == utf8.count
                        && (span.count == 0 || memcmp(wire.baseAddress! + span.start, utf8.baseAddress!, span.count) == 0)
                    {
                        return .found(UInt32(index))
                    }
                }
                slot = (slot + 1) & mask
            }
        }
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: 0, count: 2 * old.count)
        let mask = slots.count - 1
        for entry in old where entry != 0 {
            var slot = Int(entry >> 32) & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = entry
        }
    }

    /// Swift's per-process seeded SipHash, so label values chosen by an attacker cannot force
    /// collisions; copying a ready hasher is cheaper than `Hasher()`.
    private func hash(_ utf8: UnsafeBufferPointer<UInt8>) -> UInt32 {
        var hasher = seededHasher
        hasher.combine(bytes: UnsafeRawBufferPointer(utf8))
        return UInt32(truncatingIfNeeded: hasher.finalize())
    }
}

/// Label names, and many values, repeat at the same position from one target to the next, so
/// each position remembers its last string: a hit (the same bytes, compared with `memcmp`; never
/// Swift's `==`, which would hand "e\u{301}" the index of an earlier "é") skips hashing. On
/// Kubernetes pod targets this avoids most table lookups.
struct RecentStrings {
    private var strings: [String] = []
    private var indices: [UInt32] = []

    mutating func intern(_ s: String, at position: Int, in table: inout StringTable) -> UInt32 {
        if position < strings.count, strings.withUnsafeBufferPointer({ $0[position].bytesEqual(s) }) { return indices[position] }
        let index = table.intern(s)
        if position < strings.count {
            strings[position] = s
            indices[position] = index
        } else if position == strings.count {
            strings.append(s)
            indices.append(index)
        }
        return index
    }
}
