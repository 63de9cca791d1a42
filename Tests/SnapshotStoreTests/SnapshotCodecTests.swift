import JSON
import Snapshot
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

    @Test func checksumsAreZlibCRC32() {
        #expect(Checksum.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
    }
}
