import JSON
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Where every target of a snapshot sits in the rendered answers, for the HTML views and the
/// history: about 32 bytes per target, not a second copy of the labels.
///
/// A target's labels are read back from its HTTP SD group (`{"targets":[…],"labels":{…}}`),
/// which the per-collector answers already hold; unassigned targets, which no answer serves,
/// have their groups in one extra buffer per job. Entries are in the answers' order: job,
/// then collector (unassigned last), then group bytes, so a job is one contiguous range.
struct TargetIndex: Sendable {
    /// Collector names in byte order (the order of `RenderedSnapshot.collectorLoads`).
    let collectors: [String]
    /// Every job of the snapshot, in byte order.
    let jobs: [String]
    /// Entries of job `j` are `jobStart[j]..<jobStart[j + 1]`.
    let jobStart: [Int]
    let buffers: [ByteBuffer]
    let buffer: [Int32]
    let offset: [UInt32]
    let length: [UInt32]
    /// Index into `collectors`, or -1 for a target without a collector.
    let collector: [Int32]
    /// `TargetFingerprint` of the job and group: a target's stable identity across snapshots
    /// and replicas (`/debug/target?target_hash=`).
    let fingerprint: [UInt64]
    /// Entries sorted by fingerprint: lookups and the diff between snapshots.
    let byFingerprint: [Int32]

    var count: Int { fingerprint.count }

    /// The job of entry `i` (binary search over the job ranges).
    func job(of i: Int) -> Int {
        var lo = 0
        var hi = jobs.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if jobStart[mid] <= i { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    /// The HTTP SD group of entry `i`, as served.
    func group(_ i: Int) -> ByteBufferView {
        let b = buffers[Int(buffer[i])]
        return b.readableBytesView[(b.readerIndex + Int(offset[i]))..<(b.readerIndex + Int(offset[i]) + Int(length[i]))]
    }

    /// The entry with this fingerprint, if any.
    func entry(fingerprint wanted: UInt64) -> Int? {
        var lo = 0
        var hi = byFingerprint.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if fingerprint[Int(byFingerprint[mid])] < wanted { lo = mid + 1 } else { hi = mid }
        }
        guard lo < byFingerprint.count, fingerprint[Int(byFingerprint[lo])] == wanted else { return nil }
        return Int(byFingerprint[lo])
    }

    /// The labels of entry `i`, decoded from its group (in their stored, sorted order).
    func labels(_ i: Int) -> [(name: String, value: String)] {
        guard case .object(let members)? = try? JSONValue.parse(group(i)), case .object(let labels)? = members.first(where: { $0.key == "labels" })?.value
        else { return [] }
        return labels.map { ($0.key, $0.value.stringValue ?? "") }
    }

    /// The scrape address of entry `i` (`__address__`), read without decoding the whole group.
    func address(_ i: Int) -> String {
        // Groups start with {"targets":[" and the address, JSON-escaped, up to the next unescaped quote.
        let g = group(i)
        let prefix = 13
        guard g.count > prefix else { return "" }
        var bytes: [UInt8] = [UInt8(ascii: "\"")]
        var escaped = false
        for c in g.dropFirst(prefix) {
            bytes.append(c)
            if escaped {
                escaped = false
            } else if c == UInt8(ascii: "\\") {
                escaped = true
            } else if c == UInt8(ascii: "\"") {
                break
            }
        }
        return (try? JSONValue.parse(bytes))?.stringValue ?? ""
    }
}

extension TargetIndex {
    /// Collects entries while `RenderedSnapshot` renders its answers.
    struct Builder {
        let collectors: [String]
        let jobs: [String]
        private var jobStart: [Int] = []
        private var buffers: [ByteBuffer] = []
        private var buffer: [Int32] = []
        private var offset: [UInt32] = []
        private var length: [UInt32] = []
        private var collector: [Int32] = []
        private var fingerprint: [UInt64] = []

        init(collectors: [String], jobs: [String], targets: Int) {
            self.collectors = collectors
            self.jobs = jobs
            offset.reserveCapacity(targets)
            length.reserveCapacity(targets)
            buffer.reserveCapacity(targets)
            collector.reserveCapacity(targets)
            fingerprint.reserveCapacity(targets)
        }

        /// Call once per job, in `jobs` order, before its groups.
        mutating func beginJob() {
            jobStart.append(fingerprint.count)
        }

        /// Groups of one job and collector (or none: -1), already sorted, as they appear in
        /// `body` from `firstOffset` on, separated by one byte (`,`).
        mutating func add(job: String, collector c: Int32, groups: [[UInt8]], body: ByteBuffer, firstOffset: Int) {
            buffers.append(body)
            let b = Int32(buffers.count - 1)
            var at = firstOffset
            for g in groups {
                buffer.append(b)
                offset.append(UInt32(at))
                length.append(UInt32(g.count))
                collector.append(c)
                fingerprint.append(TargetFingerprint.of(job: job, group: g))
                at += g.count + 1
            }
        }

        func build() -> TargetIndex {
            var starts = jobStart
            starts.append(fingerprint.count)
            var order = (0..<Int32(fingerprint.count)).map { $0 }
            let fps = fingerprint
            order.sort { fps[Int($0)] < fps[Int($1)] }
            return TargetIndex(
                collectors: collectors, jobs: jobs, jobStart: starts, buffers: buffers, buffer: buffer, offset: offset,
                length: length, collector: collector, fingerprint: fingerprint, byFingerprint: order)
        }
    }
}

/// A fixed, process-independent 64-bit hash of a target's job and rendered group, so the
/// same target has the same `target_hash` on every replica and across snapshots. (Swift's
/// `Hasher` is seeded per process; zlib's CRC-32 is too short: 100k targets would collide.)
/// xxHash64's round and avalanche over 8-byte words: one multiply-rotate per word.
enum TargetFingerprint {
    private static let p1: UInt64 = 0x9E37_79B1_85EB_CA87
    private static let p2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    private static let p3: UInt64 = 0x1656_67B1_9E37_79F9

    static func of(job: String, group: [UInt8]) -> UInt64 {
        var h = p3 &+ UInt64(group.count)
        var job = job
        job.withUTF8 { h = mix(h, UnsafeRawBufferPointer($0)) }
        h = round(h, 0xff)  // separates the job from the group
        group.withUnsafeBytes { h = mix(h, $0) }
        h ^= h >> 33
        h = h &* p2
        h ^= h >> 29
        h = h &* p3
        h ^= h >> 32
        return h
    }

    @inline(__always)
    private static func round(_ h: UInt64, _ word: UInt64) -> UInt64 {
        var x = h ^ (word &* p2)
        x = (x << 31) | (x >> 33)
        return x &* p1
    }

    private static func mix(_ seed: UInt64, _ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h = seed
        var i = 0
        let n = bytes.count
        while i + 8 <= n {
            h = round(h, UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)))
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < n {
            tail |= UInt64(bytes[i]) << shift
            shift += 8
            i += 1
        }
        return round(h, tail ^ (UInt64(n) << 56))
    }
}
