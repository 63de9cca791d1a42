import Foundation
import JSON
import Snapshot
import SwiftProtobuf
import TestSupport
import Testing

@testable import SnapshotStore

/// Realistic targets: Kubernetes pod meta labels, shared names, varying values.
func sampleSnapshot(targets count: Int, collectors: Int = 10, seed: UInt64 = 1) -> Snapshot {
    var rng = SeededRandom(state: seed)
    let collectorList = (0..<collectors).map { Collector(name: "collector-\($0)", node: "node-\($0 % 5)") }
    let jobs = (0..<20).map { Job(name: "serviceMonitor/ns-\($0 % 7)/app-\($0)/0", scrapeConfig: .object([JSONMember("job_name", .string("j\($0)"))])) }
    var targets: [Target] = []
    targets.reserveCapacity(count)
    for i in 0..<count {
        let job = jobs[Int.random(in: 0..<jobs.count, using: &rng)]
        let ns = "ns-\(i % 7)"
        let pod = "app-\(i / 3)-7d9f8b\(i % 1000)-x\(i % 97)"
        let ip = "10.\(i >> 16 & 255).\(i >> 8 & 255).\(i & 255)"
        targets.append(
            Target(
                job: job.name,
                labels: Labels([
                    ("__address__", "\(ip):8080"), ("__meta_kubernetes_namespace", ns), ("__meta_kubernetes_pod_name", pod),
                    ("__meta_kubernetes_pod_ip", ip), ("__meta_kubernetes_pod_node_name", "node-\(i % 50)"),
                    ("__meta_kubernetes_pod_label_app", "app-\(i % 40)"), ("__meta_kubernetes_pod_container_name", "main"),
                    ("__meta_kubernetes_pod_container_port_name", "metrics"), ("__meta_kubernetes_pod_container_port_number", "8080"),
                    ("__meta_kubernetes_pod_ready", "true"),
                ]),
                collector: i % 13 == 0 ? nil : collectorList[Int.random(in: 0..<collectors, using: &rng)].name))
    }
    return Snapshot(epoch: 3, generation: 42, createdAtMillis: 1_764_000_000_000, leader: "ta-1", collectors: collectorList, jobs: jobs, targets: targets)
}

@Suite struct SnapshotCodecTests {
    @Test func roundTripsExactly() throws {
        let snapshot = sampleSnapshot(targets: 2000)
        let (compressed, size) = try SnapshotCodec.encode(snapshot)
        #expect(try SnapshotCodec.decode(compressed, uncompressedSize: size) == snapshot)
        #expect(Double(compressed.count) / 2000 < 40, "stored bytes per target: \(Double(compressed.count) / 2000)")
    }

    /// Labels are bytes: canonically equivalent values at the same position in consecutive targets
    /// (the codec's per-position cache used Swift's `==`, and the second target decoded with the
    /// first one's spelling) and as names, collectors and jobs, come back byte for byte.
    @Test func canonicallyEquivalentStringsRoundTripByteForByte() throws {
        let spellings = ["é", "e\u{301}", "Å", "\u{212B}", "A\u{30A}", "K", "\u{212A}", ";", "\u{37E}"]
        let collectors = spellings.map { Collector(name: "c-" + $0, node: "n-" + $0) }
        let jobs = spellings.map { Job(name: "job-" + $0, scrapeConfig: .object([JSONMember("job_name", .string("job-" + $0))])) }
        var targets: [Target] = []
        for (i, s) in spellings.enumerated() {
            for (k, t) in spellings.enumerated() {
                targets.append(Target(
                    job: jobs[k].name, labels: Labels([("__address__", "10.0.\(i).\(k):80"), ("v", s), ("w", t), (s, "name")]),
                    collector: collectors[(i + k) % collectors.count].name))
            }
        }
        let snapshot = Snapshot(epoch: 1, generation: 2, createdAtMillis: 3, leader: "ta", collectors: collectors, jobs: jobs, targets: targets)
        let (compressed, size) = try SnapshotCodec.encode(snapshot)
        let decoded = try SnapshotCodec.decode(compressed, uncompressedSize: size)
        #expect(decoded == snapshot)
        func bytes(_ t: Target) -> [[UInt8]] {
            [Array(t.job.utf8), Array((t.collector ?? "").utf8)] + t.labels.flatMap { [Array($0.name.utf8), Array($0.value.utf8)] }
        }
        #expect(decoded.targets.map(bytes) == snapshot.targets.map(bytes))
        #expect(decoded.collectors.map { Array($0.name.utf8) + Array(($0.node ?? "").utf8) }
            == collectors.map { Array($0.name.utf8) + Array(($0.node ?? "").utf8) })
    }

    @Test func corruptionIsRejected() throws {
        let (compressed, size) = try SnapshotCodec.encode(sampleSnapshot(targets: 300))
        var flipped = compressed
        flipped[flipped.count / 2] ^= 0x5a
        #expect(throws: SnapshotCodec.DecodeError.self) { try SnapshotCodec.decode(flipped, uncompressedSize: size) }
        #expect(throws: SnapshotCodec.DecodeError.self) { try SnapshotCodec.decode(Array(compressed.prefix(compressed.count - 9)), uncompressedSize: size) }
        #expect(throws: SnapshotCodec.DecodeError.self) { try SnapshotCodec.decode(compressed, uncompressedSize: size + 1) }
        #expect(throws: SnapshotCodec.DecodeError.self) { try SnapshotCodec.decode(compressed, uncompressedSize: SnapshotCodec.maxUncompressedSize + 1) }
    }

    @Test func danglingReferencesAreRejected() throws {
        var message = Targetallocator_Snapshot_V1_Snapshot()
        message.strings = ["app", "__address__", "a:1"]
        var job = Targetallocator_Snapshot_V1_Job()
        job.name = 0
        job.scrapeConfigJson = Array("{}".utf8).withUnsafeBytes { .init($0) }
        message.jobs = [job]
        var target = Targetallocator_Snapshot_V1_Target()
        target.job = 0
        target.labels = [1, 2]
        target.collector = 4  // no collectors exist
        message.targets = [target]
        let bytes: [UInt8] = try message.serializedBytes()
        #expect(throws: SnapshotCodec.DecodeError.self) { try SnapshotCodec.decode(try Deflate.compress(bytes), uncompressedSize: bytes.count) }
        message.targets[0].collector = 0
        message.targets[0].labels = [1, 9]
        let bytes2: [UInt8] = try message.serializedBytes()
        #expect(throws: SnapshotCodec.DecodeError.self) { try SnapshotCodec.decode(try Deflate.compress(bytes2), uncompressedSize: bytes2.count) }
        message.targets[0].labels = [1, 2]
        let good: [UInt8] = try message.serializedBytes()
        #expect(try SnapshotCodec.decode(try Deflate.compress(good), uncompressedSize: good.count).targets.first?.labels["__address__"] == "a:1")
    }

    @Test(arguments: ["sample", "awkward", "empty"])
    func handWrittenBytesAreWhatSwiftProtobufWrites(_ name: String) throws {
        let snapshot = switch name {
        case "sample": sampleSnapshot(targets: 2000)
        case "awkward": awkwardSnapshot()
        default: emptySnapshot()
        }
        let bytes = Array(SnapshotCodec.wireSegments(snapshot).joined())
        let reference = referenceMessage(snapshot)
        #expect(bytes == (try reference.serializedBytes() as [UInt8]))
        #expect(try Targetallocator_Snapshot_V1_Snapshot(serializedBytes: bytes) == reference)
        let (compressed, size) = try SnapshotCodec.encode(snapshot)
        #expect(size == bytes.count)
        #expect(try Deflate.decompress(compressed, expectedSize: size, limit: size) == bytes)
        // The awkward one breaks rules (a duplicate collector, unknown ones) that decoding enforces.
        if snapshot.problems().isEmpty { #expect(try SnapshotCodec.decode(compressed, uncompressedSize: size) == snapshot) }
    }

    /// Every truncation and many single-byte changes of the protobuf bytes (deflated correctly, so
    /// they reach the protobuf decoder) either fail with `DecodeError` or decode to a valid snapshot.
    @Test func hostileProtobufNeverCrashes() throws {
        let bytes = Array(SnapshotCodec.wireSegments(sampleSnapshot(targets: 40)).joined())
        var rejected = 0
        func decode(_ bytes: [UInt8]) throws {
            do {
                _ = try SnapshotCodec.decode(try Deflate.compress(bytes), uncompressedSize: bytes.count)
            } catch is SnapshotCodec.DecodeError {
                rejected += 1
            }
        }
        for length in 0..<bytes.count { try decode(Array(bytes.prefix(length))) }
        var rng = SeededRandom(state: 7)
        for _ in 0..<2000 {
            var mutated = bytes
            mutated[Int.random(in: 0..<mutated.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            try decode(mutated)
        }
        for length in [1, 10, 1000] { try decode((0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }) }
        #expect(rejected > bytes.count / 2)
    }

    @Test func invalidReferencesAreRejectedWithTheirReason() throws {
        func message(_ edit: (inout Targetallocator_Snapshot_V1_Snapshot) -> Void) -> Targetallocator_Snapshot_V1_Snapshot {
            var m = referenceMessage(sampleSnapshot(targets: 3))
            edit(&m)
            return m
        }
        let cases: [(String, Targetallocator_Snapshot_V1_Snapshot)] = [
            ("odd label list", message { $0.targets[0].labels.removeLast() }),
            ("label value refers to string", message { $0.targets[1].labels[1] = UInt32($0.strings.count) }),
            ("target job refers to string", message { $0.targets[2].job = 1 << 31 }),
            ("collector node refers to string", message { $0.collectors[0].node = UInt32($0.strings.count) + 1 }),
            ("job name refers to string", message { $0.jobs[0].name = UInt32.max }),
            ("target refers to collector", message { $0.targets[0].collector = UInt32($0.collectors.count) + 1 }),
            ("scrape config of job", message { $0.jobs[0].scrapeConfigJson = Data("{".utf8) }),
            ("missing __address__", message { $0.targets[0].labels = [] }),
        ]
        for (reason, m) in cases {
            let bytes: [UInt8] = try m.serializedBytes()
            let error = #expect(throws: SnapshotCodec.DecodeError.self) {
                try SnapshotCodec.decode(try Deflate.compress(bytes), uncompressedSize: bytes.count)
            }
            #expect(error.map { "\($0)".contains(reason) } == true, "\(reason): \(String(describing: error))")
        }
    }

    @Test func checksumsAreZlibCRC32() {
        #expect(Checksum.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
    }
}

/// What the codec wrote before it wrote protobuf by hand: SwiftProtobuf messages, strings interned
/// in the same order. Its serialization is the reference for the hand-written bytes.
func referenceMessage(_ snapshot: Snapshot) -> Targetallocator_Snapshot_V1_Snapshot {
    var strings: [String] = []
    var index: [String: UInt32] = [:]
    func intern(_ s: String) -> UInt32 {
        if let i = index[s] { return i }
        strings.append(s)
        index[s] = UInt32(strings.count - 1)
        return UInt32(strings.count - 1)
    }
    var message = Targetallocator_Snapshot_V1_Snapshot()
    message.epoch = snapshot.epoch
    message.generation = snapshot.generation
    message.createdAtMs = snapshot.createdAtMillis
    message.leader = snapshot.leader
    var collectorIndex: [String: UInt32] = [:]
    message.collectors = snapshot.collectors.enumerated().map { i, c in
        collectorIndex[c.name] = UInt32(i) + 1
        var m = Targetallocator_Snapshot_V1_Collector()
        m.name = intern(c.name)
        m.node = c.node.map { intern($0) + 1 } ?? 0
        return m
    }
    message.jobs = snapshot.jobs.map { job in
        var m = Targetallocator_Snapshot_V1_Job()
        m.name = intern(job.name)
        var json: [UInt8] = []
        job.scrapeConfig.write(into: &json)
        m.scrapeConfigJson = Data(json)
        return m
    }
    message.targets = snapshot.targets.map { t in
        var m = Targetallocator_Snapshot_V1_Target()
        m.job = intern(t.job)
        for label in t.labels {
            m.labels.append(intern(label.name))
            m.labels.append(intern(label.value))
        }
        m.collector = t.collector.flatMap { collectorIndex[$0] } ?? 0
        return m
    }
    message.strings = strings
    return message
}

/// Edge cases for the wire format: defaults that are left out (epoch 0, empty leader, a node-less
/// collector, index 0, collector 0, empty strings), negative time, multi-byte varints and lengths,
/// non-ASCII, long strings, a duplicate collector name, and targets naming unknown collectors.
func awkwardSnapshot() -> Snapshot {
    let long = String(repeating: "ü", count: 300)
    let collectors = [Collector(name: "c0"), Collector(name: "c1", node: "node-ä"), Collector(name: "c0", node: "")]
    let bigConfig = JSONValue.object((0..<40).map { JSONMember("k\($0)", .string(long)) })
    let jobs = [Job(name: "c0", scrapeConfig: .object([])), Job(name: "job/ß", scrapeConfig: bigConfig)]
    var targets = (0..<300).map { i in
        Target(
            job: jobs[i % 2].name,
            labels: Labels([("__address__", "10.0.\(i / 256).\(i % 256):80"), ("", ""), ("v", i % 3 == 0 ? long : "\(i)")]),
            collector: [nil, "c0", "c1", "unknown", "node-ä"][i % 5])
    }
    targets.append(Target(job: "c0", labels: Labels((0..<100).map { ("__address__\($0)", "x") } + [("__address__", "a:1")]), collector: "c1"))
    return Snapshot(epoch: 0, generation: 1 << 40, createdAtMillis: -5, leader: "", collectors: collectors, jobs: jobs, targets: targets)
}

func emptySnapshot() -> Snapshot {
    Snapshot(epoch: 0, generation: 0, createdAtMillis: 0, leader: "", collectors: [], jobs: [], targets: [])
}
