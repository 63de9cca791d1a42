import CZlib
@_spi(CustomByteBufferAllocator) import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// The targets of one answer (one job and collector), kept the way they are served: a sorted
/// list of rendered HTTP SD groups, stored deflated in segments.
///
/// Why: at 100,000 targets the rendered JSON is ~150 MB and a change touches every collector's
/// answer, so neither keeping it uncompressed nor re-compressing whole answers per change fits a
/// replica's memory and CPU. Segments are compressed separately (raw deflate, each ending in a
/// full flush, as pigz does), so the gzip answer is a header, the segments' bytes and a trailer,
/// and a change re-compresses only the segments it touches.
///
/// Segment boundaries depend on the content only (a group ends a segment when its hash says so,
/// or when the segment reached `maxCount`, counted from the start of the list), so replicas that
/// reached the same content by different histories hold the same segments: their gzip answers
/// and ETags are byte-identical.
struct SegmentedList: Sendable {
    struct Segment: Sendable {
        /// Length of each group, in order (the commas between groups are not counted).
        var lengths: [UInt32]
        /// The first group (lookups binary-search on it).
        var first: [UInt8]
        /// Raw deflate of the segment's bytes (groups joined by commas, a leading comma unless
        /// the segment starts the list), ending in a full flush.
        var deflated: [UInt8]
        var size: Int
        var crc: UInt32
        /// zlib's operator that appends this segment's CRC to a running one (`crc32_combine_op`):
        /// made once here, so a gzip answer's CRC costs a multiplication per segment.
        var crcOp: UInt
        var hash: UInt64
        /// The last group ends a segment by its own hash (else the segment ended for its count).
        var endsByContent: Bool
        /// The segment's bytes start with a comma (it does not start the list).
        var leadingComma: Bool

        var count: Int { lengths.count }
    }

    private(set) var segments: [Segment] = []
    /// Groups in the list, and bytes of its segments uncompressed (kept as the list changes:
    /// summing them would read every segment).
    private(set) var count = 0
    private var segmentBytes = 0
    /// A group ends a segment when its hash is 0 modulo this (segments of ~8 groups, ~10 KB at
    /// 100k pods: a change re-compresses one segment, so its size is the CPU of a change; 32
    /// groups cost a leader and each follower ~1 ms per changed target at level 4).
    static let spacing: UInt64 = 8
    /// ... or when the segment holds this many.
    static let maxCount = 64
    static let level: Int32 = 1

    var isEmpty: Bool { segments.isEmpty }
    /// The uncompressed answer's size: `[`, the groups and commas, `]` and a newline.
    var identitySize: Int { 3 + segmentBytes }

    /// A group, and whether it ends a segment by its hash when that is already known (the
    /// groups of an existing segment: only its last one can).
    typealias Piece = (bytes: [UInt8], ends: Bool?)

    init() {}

    /// A list of `groups`, sorted by bytes, without duplicates.
    init(sorted groups: [[UInt8]]) {
        segments = Self.split(groups.map { ($0, nil) }[...], startsList: true)
        for segment in segments {
            count += segment.count
            segmentBytes += segment.size
        }
    }

    /// Removes and inserts groups (each by its bytes). Throws when a group to remove is not
    /// there or one to insert already is: the caller's state disagrees with the writer's (the
    /// list is then unchanged). Costs what the changes touch: the list is changed in place, so
    /// it must not be shared (a copy would copy every segment).
    mutating func apply(removing removals: [[UInt8]], inserting insertions: [[UInt8]]) throws(SegmentedListError) {
        guard !removals.isEmpty || !insertions.isEmpty else { return }
        guard !segments.isEmpty else {
            var pieces: [Piece] = []
            try Self.merge(&pieces, removing: removals, inserting: insertions)
            self = SegmentedList(sorted: pieces.map(\.bytes))
            return
        }
        // Which segment each change falls in: the last whose first group is not after it.
        var changes: [Int: (remove: [[UInt8]], insert: [[UInt8]])] = [:]
        for group in removals { changes[segmentIndex(for: group), default: ([], [])].remove.append(group) }
        for group in insertions { changes[segmentIndex(for: group), default: ([], [])].insert.append(group) }
        // Runs of segments from a changed one, re-split until a piece ends where the rule puts a
        // boundary (then what follows is as before), absorbing the next segment otherwise;
        // found front to back, then replaced from the back so the earlier ranges stay valid.
        var runs: [(range: Range<Int>, pieces: [Segment])] = []
        var emitted = false  // the new list has a segment before the run
        var k = 0
        for start in changes.keys.sorted() where start >= k {
            if start > k { emitted = true }
            var groups: [Piece] = []
            var j = start
            var pieces: [Segment]
            while true {
                var taken = Self.inflatePieces(segments[j])
                if let change = changes[j] { try Self.merge(&taken, removing: change.remove, inserting: change.insert) }
                groups += taken
                j += 1
                pieces = Self.split(groups[...], startsList: !emitted)
                let ruled = pieces.last.map { $0.endsByContent || $0.count >= Self.maxCount } ?? true
                if j >= segments.count || ruled && changes[j] == nil { break }
            }
            runs.append((start..<j, pieces))
            if !pieces.isEmpty { emitted = true }
            k = j
        }
        for run in runs.reversed() {
            for i in run.range {
                count -= segments[i].count
                segmentBytes -= segments[i].size
            }
            for piece in run.pieces {
                count += piece.count
                segmentBytes += piece.size
            }
            segments.replaceSubrange(run.range, with: run.pieces)
        }
        // Whatever starts the list now is written without a leading comma.
        if let first = segments.first, first.leadingComma {
            segments[0] = Self.compress(Self.inflate(first), startsList: true, endsByContent: first.endsByContent)
            segmentBytes += segments[0].size - first.size
        }
    }

    /// Whether `group` is in the list (inflates the one segment it would be in).
    func contains(_ group: [UInt8]) -> Bool {
        guard !segments.isEmpty else { return false }
        let groups = Self.inflatePieces(segments[segmentIndex(for: group)])
        guard let i = Self.position(of: group, in: groups) else { return false }
        return groups[i].bytes == group
    }

    /// The index of the segment `group` belongs in.
    private func segmentIndex(for group: [UInt8]) -> Int {
        var lo = 0
        var hi = segments.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if segments[mid].first.lexicographicallyPrecedes(group) || segments[mid].first == group { lo = mid + 1 } else { hi = mid }
        }
        return max(0, lo - 1)
    }

    private static func merge(_ groups: inout [Piece], removing removals: [[UInt8]], inserting insertions: [[UInt8]]) throws(SegmentedListError) {
        for r in removals {
            guard let i = Self.position(of: r, in: groups), groups[i].bytes == r else { throw SegmentedListError("a group to remove is not served") }
            groups.remove(at: i)
        }
        for g in insertions.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            let i = Self.position(of: g, in: groups) ?? groups.count
            if i < groups.count, groups[i].bytes == g { throw SegmentedListError("a group to add is already served") }
            groups.insert((g, nil), at: i)
        }
    }

    /// The first position whose group is not before `g`.
    private static func position(of g: [UInt8], in groups: [Piece]) -> Int? {
        var lo = 0
        var hi = groups.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if groups[mid].bytes.lexicographicallyPrecedes(g) { lo = mid + 1 } else { hi = mid }
        }
        return lo < groups.count ? lo : nil
    }

    /// Cuts sorted groups into segments by the rule (hashing only the groups whose end is not known).
    static func split(_ groups: ArraySlice<Piece>, startsList: Bool) -> [Segment] {
        var out: [Segment] = []
        var current: [[UInt8]] = []
        for (group, ends) in groups {
            current.append(group)
            let byContent = ends ?? endsSegment(group)
            if byContent || current.count >= maxCount {
                out.append(compress(current, startsList: startsList && out.isEmpty, endsByContent: byContent))
                current = []
            }
        }
        if !current.isEmpty { out.append(compress(current, startsList: startsList && out.isEmpty, endsByContent: false)) }
        return out
    }

    static func endsSegment(_ group: [UInt8]) -> Bool {
        TargetFingerprint.of(job: "", group: group) % spacing == 0
    }

    // MARK: - compression

    static func compress(_ groups: [[UInt8]], startsList: Bool, endsByContent: Bool) -> Segment {
        var raw: [UInt8] = []
        raw.reserveCapacity(groups.reduce(groups.count) { $0 + $1.count })
        for (i, g) in groups.enumerated() {
            if i > 0 || !startsList { raw.append(UInt8(ascii: ",")) }
            raw += g
        }
        return Segment(
            lengths: groups.map { UInt32($0.count) }, first: groups.first.map(Self.exactCopy) ?? [], deflated: deflate(raw, finish: false), size: raw.count,
            crc: crc32(raw), crcOp: CZlib.crc32_combine_gen(off_t(raw.count)), hash: TargetFingerprint.of(job: "", group: raw), endsByContent: endsByContent, leadingComma: !startsList)
    }

    /// A copy with no spare capacity: a rendered group grew by appending (up to twice its size),
    /// and a segment keeps its first group for as long as the segment lives.
    static func exactCopy(_ bytes: [UInt8]) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: bytes.count) { buffer, count in
            count = buffer.initialize(from: bytes).1
        }
    }

    /// The segment's groups; only the last can end a segment by its hash, and does when the
    /// segment ended so.
    static func inflatePieces(_ segment: Segment) -> [Piece] {
        var pieces = inflate(segment).map { ($0, Optional(false)) }
        if !pieces.isEmpty { pieces[pieces.count - 1].1 = segment.endsByContent }
        return pieces
    }

    static func inflate(_ segment: Segment) -> [[UInt8]] {
        let raw = inflateRaw(segment.deflated, size: segment.size)
        var out: [[UInt8]] = []
        out.reserveCapacity(segment.count)
        var at = segment.leadingComma ? 1 : 0
        for length in segment.lengths {
            out.append(Array(raw[at..<(at + Int(length))]))
            at += Int(length) + 1
        }
        return out
    }

    /// Raw deflate ending in a full flush (byte-aligned, not final), or a final block.
    static func deflate(_ input: [UInt8], finish: Bool) -> [UInt8] {
        var stream = z_stream()
        guard deflateInit2_(&stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            preconditionFailure("zlib refused its own defaults")
        }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(input.count))) + 32)
        var input = input
        let produced = input.withUnsafeMutableBufferPointer { inBuf in
            output.withUnsafeMutableBufferPointer { outBuf in
                stream.next_in = inBuf.baseAddress
                stream.avail_in = UInt32(inBuf.count)
                stream.next_out = outBuf.baseAddress
                stream.avail_out = UInt32(outBuf.count)
                _ = CZlib.deflate(&stream, finish ? Z_FINISH : Z_FULL_FLUSH)
                return outBuf.count - Int(stream.avail_out)
            }
        }
        // A copy of the exact size: the output buffer has room for the worst case (about the
        // input's size), and a segment kept with that capacity would hold as much memory as
        // its uncompressed groups.
        return Array(output[..<produced])
    }

    static func inflateRaw(_ input: [UInt8], size: Int) -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            preconditionFailure("zlib refused its own defaults")
        }
        defer { inflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: size)
        var input = input
        input.withUnsafeMutableBufferPointer { inBuf in
            output.withUnsafeMutableBufferPointer { outBuf in
                stream.next_in = inBuf.baseAddress
                stream.avail_in = UInt32(inBuf.count)
                stream.next_out = outBuf.baseAddress
                stream.avail_out = UInt32(outBuf.count)
                _ = CZlib.inflate(&stream, Z_SYNC_FLUSH)
            }
        }
        return output
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBufferPointer { UInt32(truncatingIfNeeded: CZlib.crc32(0, $0.baseAddress, UInt32($0.count))) }
    }

    // MARK: - answers

    private static let open = Array("[".utf8)
    private static let close = Array("]\n".utf8)
    private static let openDeflated = deflate(open, finish: false)
    private static let closeDeflated = deflate(close, finish: true)

    /// The gzip answer: header, `[`, the segments, `]\n`, trailer. No file name or time, so it
    /// is the same bytes on every replica.
    func gzipBody() -> ByteBuffer {
        let total = segments.reduce(Self.openDeflated.count + Self.closeDeflated.count + 18) { $0 + $1.deflated.count }
        // Exactly `total` bytes: ByteBuffer rounds its own allocations up to a power of two
        // (on average a third more than the answer), and every answer is kept for the
        // generation. The default allocator frees with `free`, so malloc'd memory is its kind.
        guard let memory = malloc(total) else { fatalError("out of memory for a \(total)-byte answer") }
        var out = ByteBuffer(takingOwnershipOf: UnsafeMutableRawBufferPointer(start: memory, count: total), allocator: ByteBufferAllocator(), writerIndex: 0)
        out.writeBytes([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255])
        out.writeBytes(Self.openDeflated)
        var crc = UInt(CZlib.crc32(0, nil, 0))
        crc = Self.open.withUnsafeBufferPointer { CZlib.crc32(crc, $0.baseAddress, UInt32($0.count)) }
        segments.withUnsafeBufferPointer { segments in
            for i in segments.indices {
                out.writeBytes(segments[i].deflated)
                crc = CZlib.crc32_combine_op(crc, UInt(segments[i].crc), segments[i].crcOp)
            }
        }
        out.writeBytes(Self.closeDeflated)
        crc = Self.close.withUnsafeBufferPointer { CZlib.crc32(crc, $0.baseAddress, UInt32($0.count)) }
        out.writeInteger(UInt32(truncatingIfNeeded: crc), endianness: .little)
        out.writeInteger(UInt32(truncatingIfNeeded: identitySize), endianness: .little)
        return out
    }

    /// A hash of the content (the same for the same groups on every replica).
    var contentHash: UInt64 {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 * segments.count + 8)
        withUnsafeBytes(of: UInt64(count).littleEndian) { bytes += $0 }
        segments.withUnsafeBufferPointer { segments in
            for i in segments.indices { withUnsafeBytes(of: segments[i].hash.littleEndian) { bytes += $0 } }
        }
        return TargetFingerprint.of(job: "", group: bytes)
    }

    /// Every group, in order.
    func forEach(_ body: ([UInt8]) -> Void) {
        for segment in segments { for group in Self.inflate(segment) { body(group) } }
    }
}

struct SegmentedListError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
