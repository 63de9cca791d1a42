import CZlib
import Foundation
import NIOCore
import Testing
import TestSupport

@testable import ServiceDiscoveryAPI

/// The segmented, deflated form answers are kept in: against a plain sorted array as the model,
/// through random batches of removals and insertions.
@Suite struct SegmentedListTests {
    static func group(_ i: Int, _ salt: Int = 0) -> [UInt8] {
        Array(#"{"targets":["10.\#(i / 256 % 256).\#(i % 256).\#(salt):8080"],"labels":{"__address__":"x","n":"\#(i)"}}"#.utf8)
    }

    static func identity(_ model: [[UInt8]]) -> [UInt8] {
        var out = Array("[".utf8)
        for (i, g) in model.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out += g
        }
        return out + Array("]\n".utf8)
    }

    /// zlib's own gzip reader (windowBits 31), independent of how the list wrote it.
    static func gunzip(_ body: ByteBuffer) -> [UInt8]? {
        var input = Array(body.readableBytesView)
        var stream = z_stream()
        guard inflateInit2_(&stream, 31, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var rc: Int32 = Z_OK
        input.withUnsafeMutableBufferPointer { inBuf in
            stream.next_in = inBuf.baseAddress
            stream.avail_in = UInt32(inBuf.count)
            repeat {
                let produced = chunk.withUnsafeMutableBufferPointer { c -> Int in
                    stream.next_out = c.baseAddress
                    stream.avail_out = UInt32(c.count)
                    rc = inflate(&stream, Z_NO_FLUSH)
                    return c.count - Int(stream.avail_out)
                }
                out += chunk[0..<produced]
            } while rc == Z_OK
        }
        return rc == Z_STREAM_END && stream.avail_in == 0 ? out : nil
    }

    @Test(arguments: [UInt64(1), 2, 3, 4, 5])
    func randomBatchesMatchTheModelAndAFreshList(seed: UInt64) throws {
        var random = SeededRandom(state: seed)
        var model: [[UInt8]] = []
        var list = SegmentedList()
        var next = 0
        for round in 0..<40 {
            // Remove a random share, add new ones (sometimes at the very start of the order).
            let removals = model.filter { _ in Int.random(in: 0..<100, using: &random) < (round % 7 == 0 ? 60 : 8) }
            var insertions: [[UInt8]] = []
            for _ in 0..<Int.random(in: 0...120, using: &random) {
                next += 1
                insertions.append(Self.group(Int.random(in: 0..<5000, using: &random), next % 200))
            }
            insertions = Array(Set(insertions).subtracting(model))
            try list.apply(removing: removals, inserting: insertions)
            model = Array(Set(model).subtracting(removals).union(insertions)).sorted { $0.lexicographicallyPrecedes($1) }

            var seen: [[UInt8]] = []
            list.forEach { seen.append($0) }
            #expect(seen == model, "round \(round)")
            #expect(list.count == model.count)
            // What a rendering keeps and serves: the gzip answer, its identity and groups made from it.
            let kept = GzipList(gzip: list.gzipBody(), identitySize: list.identitySize)
            #expect(Array(kept.identity().readableBytesView) == Self.identity(model))
            #expect(GzipList.groups(of: kept.identity()) == model, "round \(round)")
            #expect(list.identitySize == Self.identity(model).count)
            #expect(Self.gunzip(list.gzipBody()) == Self.identity(model), "round \(round): gzip does not decode to the answer")
            // Segments depend on content only: the same bytes as a list built from scratch.
            let fresh = SegmentedList(sorted: model)
            #expect(
                list.segments.map(\.deflated) == fresh.segments.map(\.deflated),
                "round \(round): history changed the segments: \(list.segments.map(\.count)) vs \(fresh.segments.map(\.count))")
            #expect(list.contentHash == fresh.contentHash)
            #expect(list.segments.allSatisfy { $0.count <= SegmentedList.maxCount })
        }
        #expect(model.count > 100)
    }

    @Test func removingWhatIsNotThereOrAddingWhatIsThereThrows() throws {
        var list = SegmentedList(sorted: (0..<100).map { Self.group($0) }.sorted { $0.lexicographicallyPrecedes($1) })
        #expect(throws: SegmentedListError.self) { try list.apply(removing: [Self.group(5000)], inserting: []) }
        #expect(throws: SegmentedListError.self) { try list.apply(removing: [], inserting: [Self.group(7)]) }
    }

    /// Many equal-hash groups cannot make one segment hold the whole list.
    @Test func segmentsAreBoundedWhateverTheHashes() throws {
        let groups = (0..<3000).map { Self.group($0) }.filter { !SegmentedList.endsSegment($0) }.sorted { $0.lexicographicallyPrecedes($1) }
        let list = SegmentedList(sorted: groups)
        #expect(list.segments.allSatisfy { $0.count <= SegmentedList.maxCount })
        #expect(list.segments.count >= groups.count / SegmentedList.maxCount)
    }

    /// A segment holds its compressed bytes, not the room deflate was given (about the
    /// uncompressed size): kept at that capacity, 100k served targets cost a replica ~150 MB more.
    @Test func segmentsKeepOnlyTheirCompressedBytes() throws {
        var list = SegmentedList(sorted: (0..<2000).map { Self.group($0) }.sorted { $0.lexicographicallyPrecedes($1) })
        try list.apply(removing: [Self.group(10)], inserting: [Self.group(10, 1)])
        #expect(list.segments.count > 10)
        for segment in list.segments {
            // Capacity may round up to the allocator's size class; never to the input's size.
            #expect(segment.deflated.capacity < segment.deflated.count + 64, "\(segment.deflated.capacity) for \(segment.deflated.count) bytes (\(segment.size) uncompressed)")
            #expect(segment.first.capacity < segment.first.count + 64)
        }
    }

    /// The gzip answer, kept for a generation, is allocated at its size (not the next power of two).
    @Test func gzipAnswerHasNoSpareCapacity() {
        let list = SegmentedList(sorted: (0..<3000).map { Self.group($0) }.sorted { $0.lexicographicallyPrecedes($1) })
        let body = list.gzipBody()
        #expect(body.capacity - body.readableBytes < 64, "\(body.capacity) for \(body.readableBytes) bytes")
    }

    /// The real gzip program reads the answer too.
    @Test func gzipReadsTheAnswer() async throws {
        let groups = (0..<2000).map { Self.group($0) }.sorted { $0.lexicographicallyPrecedes($1) }
        let list = SegmentedList(sorted: groups)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("answer-\(UUID().uuidString).gz")
        defer { try? FileManager.default.removeItem(at: path) }
        try Data(list.gzipBody().readableBytesView).write(to: path)
        let result = try await runTool("gzip", ["-dc", path.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Array(result.stdout.utf8) == Self.identity(groups))
    }
}
