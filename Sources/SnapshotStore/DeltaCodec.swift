import Foundation
import JSON
public import Snapshot
import SwiftProtobuf

/// SnapshotDelta ⇄ compressed protobuf bytes (the `Delta` message), written like whole
/// snapshots: strings interned, deflated.
public enum DeltaCodec {
    public static func encode(_ delta: SnapshotDelta) throws -> (compressed: [UInt8], uncompressedSize: Int) {
        let expected = 2 * (delta.upserted.count + delta.removed.count) + 2 * (delta.collectors?.count ?? 0) + (delta.jobs?.count ?? 0) + 16
        var strings = StringTable(expectedCount: expected)
        var middle = WireWriter()
        var collectorNames: [UInt32] = []
        if let list = delta.collectors {
            middle.field(6, UInt64(1))
            collectorNames = SnapshotCodec.writeCollectors(list, field: 7, strings: &strings, into: &middle)
        }
        if let jobs = delta.jobs {
            middle.field(8, UInt64(1))
            SnapshotCodec.writeJobs(jobs, field: 9, strings: &strings, into: &middle)
        }
        // A target's collector field: with a collector list, its number in the list; without
        // (the list in force is unchanged), the index + 1 of its name among the strings.
        var collectorByName: [UInt32]
        if delta.collectors != nil {
            collectorByName = [UInt32](repeating: 0, count: strings.count)
            for (i, name) in collectorNames.enumerated() { collectorByName[Int(name)] = UInt32(i) + 1 }
        } else {
            for name in Set(delta.upserted.compactMap(\.collector)).sorted() { _ = strings.intern(name) }
            collectorByName = (0..<UInt32(strings.count)).map { $0 + 1 }
        }
        var targets = WireWriter(capacity: 64 * (delta.upserted.count + delta.removed.count))
        SnapshotCodec.writeTargets(delta.upserted, field: 10, strings: &strings, collectorByName: collectorByName, into: &targets)
        SnapshotCodec.writeTargets(
            delta.removed.map { Target(job: $0.job, labels: $0.labels, collector: nil) }, field: 11, strings: &strings, collectorByName: [],
            into: &targets)

        var head = WireWriter()
        head.field(1, delta.epoch)
        head.field(2, delta.generation)
        head.field(3, UInt64(bitPattern: delta.createdAtMillis))
        head.field(4, Array(delta.leader.utf8))
        let segments = [head.bytes, strings.wire, middle.bytes, targets.bytes]
        return (try Deflate.compress(segments, level: SnapshotCodec.compressionLevel), segments.reduce(0) { $0 + $1.count })
    }

    public static func decode(_ compressed: [UInt8], uncompressedSize: Int) throws -> SnapshotDelta {
        let bytes: [UInt8]
        do {
            bytes = try Deflate.decompress(compressed, expectedSize: uncompressedSize, limit: SnapshotCodec.maxUncompressedSize)
        } catch {
            throw SnapshotCodec.DecodeError.corrupt("decompression failed: \(error)")
        }
        let message: Targetallocator_Snapshot_V1_Delta
        do {
            message = try Targetallocator_Snapshot_V1_Delta(serializedBytes: bytes)
        } catch {
            throw SnapshotCodec.DecodeError.corrupt("protobuf: \(error)")
        }
        let strings = SnapshotCodec.Strings(message.strings)
        let collectors = try message.collectors.map { try strings.collector($0) }
        let jobs = try message.jobs.map { try strings.job($0) }
        // With a collector list, a target's collector is its number in that list; without, the
        // index + 1 of its name among the strings.
        let collector: (UInt32) throws -> String? = { number in
            guard number != 0 else { return nil }
            if message.collectorsChanged {
                guard Int(number) <= collectors.count else { throw SnapshotCodec.DecodeError.corrupt("target refers to collector \(number)") }
                return collectors[Int(number) - 1].name
            }
            return try strings.string(number - 1, "target collector")
        }
        let upserted = try message.targets.map { try strings.target($0, collector: collector) }
        let removed = try message.removed.map { try strings.target($0, collector: { _ in nil }) }
        return SnapshotDelta(
            epoch: message.epoch, generation: message.generation, createdAtMillis: message.createdAtMs, leader: message.leader,
            collectors: message.collectorsChanged ? collectors : nil, jobs: message.jobsChanged ? jobs : nil, upserted: upserted,
            removed: removed)
    }
}
