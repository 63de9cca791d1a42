import Foundation
import KubernetesClient
import Snapshot
import TestSupport
import Testing

@testable import SnapshotStore

/// `SnapshotReader.decode(manifest:chunks:after:)` on ConfigMaps captured as they were
/// written (what the scale benchmark does with a watch): every generation decodes to what the
/// writer committed, from the base and the deltas up to it or from the generation before, even
/// after the leader has collected the chunks from the API; a missing or altered chunk is an
/// error, never a wrong state. Expectations are the writer's own committed states.
extension SnapshotStoreClusterTests {
    @Test func capturedGenerationsDecodeFromBaseAndDeltas() async throws {
        try await withStore { _, client in
            let writer = SnapshotWriter(client: client, configuration: Self.store, logger: Self.quiet)
            await writer.setMaxDeltas(2)
            var state = try await writer.commit(sampleSnapshot(targets: 500), epoch: 1, leader: "ta-1")
            var expected = [state]
            var manifests = [try await manifestMap(client)]
            var chunks: [String: ConfigMap] = [:]
            func capture() async throws {
                let (items, _) = try await client.listAll(
                    ConfigMap.self, namespace: "default", options: ListOptions(labelSelector: "\(SnapshotStoreConfiguration.snapshotLabel)=ta-snapshot"))
                for item in items where item.name != Self.store.manifestName { chunks[item.name] = item }
            }
            try await capture()
            var random = SeededRandom(state: 7)
            for round in 0..<5 {
                var delta = SnapshotDelta(epoch: 0, generation: 0, createdAtMillis: Int64(round), leader: "")
                let picked = state.targets.shuffled(using: &random).prefix(12)
                delta.removed = Array(picked.prefix(4))
                for t in picked.dropFirst(4) {
                    delta.upserted.append(Target(job: t.job, labels: t.labels, collector: state.collectors.randomElement(using: &random)?.name))
                }
                let before = state
                let change = delta
                let written = try await writer.commit(change, after: (state.epoch, state.generation), epoch: 1, leader: "ta-1") { after in
                    after ? try! before.applying(change) : before
                }
                guard case .delta(let stored) = written else {
                    Issue.record("round \(round) wrote the whole state")
                    return
                }
                state = try before.applying(stored)
                expected.append(state)
                manifests.append(try await manifestMap(client))
                try await capture()
                await writer.collectGarbage()
            }
            // A new term's first write: an empty delta under a new epoch.
            let last = state
            let term = try await writer.commit(
                SnapshotDelta(epoch: 0, generation: 0, createdAtMillis: 0, leader: ""), after: (state.epoch, state.generation), epoch: 2,
                leader: "ta-2"
            ) { _ in last }
            guard case .delta(let fence) = term else {
                Issue.record("the new term's first write was not a delta")
                return
            }
            state = try last.applying(fence)
            expected.append(state)
            manifests.append(try await manifestMap(client))
            try await capture()
            await writer.collectGarbage()

            // Compaction happened, and the first generations' chunks are gone from the API.
            let parsed = try manifests.map(SnapshotReader.parseManifest)
            #expect(parsed.contains { $0.base.generation > 1 }, "no compaction: \(parsed.map { $0.base.generation })")
            #expect(parsed.contains { !$0.deltas.isEmpty })
            let (left, _) = try await client.listAll(
                ConfigMap.self, namespace: "default", options: ListOptions(labelSelector: "\(SnapshotStoreConfiguration.snapshotLabel)=ta-snapshot"))
            #expect(!parsed[0].chunkNames.isSubset(of: Set(left.map(\.name))), "nothing was collected: the test would not need the captured chunks")

            var previous: Snapshot?
            for (manifest, want) in zip(manifests, expected) {
                let whole = try SnapshotReader.decode(manifest: manifest, chunks: chunks)
                #expect(Served.same(whole, want), "\(want.epoch)/\(want.generation) from base + deltas")
                let next = try SnapshotReader.decode(manifest: manifest, chunks: chunks, after: previous)
                #expect(Served.same(next, want), "\(want.epoch)/\(want.generation) from the generation before")
                previous = next
            }
            // A previous state the manifest does not name is not used: base + deltas instead.
            let unrelated = sampleSnapshot(targets: 3, seed: 9)
            #expect(Served.same(try SnapshotReader.decode(manifest: manifests.last!, chunks: chunks, after: unrelated), state))

            // A missing chunk, or a delta chunk with other bytes of the same size, is an error.
            let lastManifest = try #require(parsed.last)
            let deltaChunk = try #require(lastManifest.deltas.last?.chunks.first?.name)
            var missing = chunks
            missing[deltaChunk] = nil
            #expect(throws: SnapshotStoreError.self) { try SnapshotReader.decode(manifest: manifests.last!, chunks: missing) }
            var altered = chunks
            var bytes = try #require(chunks[deltaChunk]?.binaryData?[SnapshotStoreConfiguration.chunkKey])
            bytes[bytes.count / 2] ^= 0x01
            altered[deltaChunk]?.binaryData = [SnapshotStoreConfiguration.chunkKey: bytes]
            #expect(throws: SnapshotStoreError.self) { try SnapshotReader.decode(manifest: manifests.last!, chunks: altered, after: expected[expected.count - 2]) }
        }
    }
}

extension SnapshotStoreClusterTests.Served {
    /// Same epoch, generation, collectors and jobs, and the same targets (job, labels,
    /// collector as bytes) in any order.
    static func same(_ a: Snapshot, _ b: Snapshot) -> Bool {
        func key(_ t: Target) -> [[UInt8]] {
            [Array(t.job.utf8), Array((t.collector ?? "\u{0}").utf8)] + t.labels.flatMap { [Array($0.name.utf8), Array($0.value.utf8)] }
        }
        func names(_ s: Snapshot) -> [[UInt8]] { s.collectors.map { Array($0.name.utf8) } + [[0]] + s.jobs.map { Array($0.name.utf8) } }
        return (a.epoch, a.generation) == (b.epoch, b.generation) && names(a) == names(b) && a.targets.count == b.targets.count
            && Set(a.targets.map(key)) == Set(b.targets.map(key))
    }
}
