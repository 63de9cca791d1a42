import Foundation
import KubernetesClient
import KubernetesEmulator
import Logging
import NIOConcurrencyHelpers
import Snapshot
import TestSupport
import Testing

@testable import SnapshotStore

/// The writer and reader against the emulator (which enforces the 1 MiB ConfigMap limit and
/// resourceVersion compare-and-swap as the real API server does).
@Suite struct SnapshotStoreClusterTests {
    static let quiet = Logger(label: "snapshot-store-test", factory: { _ in SwiftLogNoOpLogHandler() })
    static let store = SnapshotStoreConfiguration(namespace: "default", manifestName: "ta-snapshot")

    func withStore(_ body: (KubernetesEmulator, KubernetesClient) async throws -> Void) async throws {
        var configuration = KubernetesEmulator.Configuration()
        configuration.tokens = ["t-1": "ta-1", "t-2": "ta-2"]
        configuration.logger = Self.quiet
        let emulator = try await KubernetesEmulator.start(configuration)
        let client = try KubernetesClient(configuration: ClusterConfiguration(server: emulator.url, credentials: .token("t-1")))
        do {
            try await body(emulator, client)
        } catch {
            try? await client.shutdown()
            try? await emulator.shutdown()
            throw error
        }
        try await client.shutdown()
        try await emulator.shutdown()
    }

    /// A reader whose "served" state is a box, so outcomes can be asserted one by one.
    final class Served: Sendable {
        let current = NIOLockedValueBox<Snapshot?>(nil)
        func reader(_ client: KubernetesClient) -> SnapshotReader {
            SnapshotReader(
                client: client, configuration: SnapshotStoreClusterTests.store, logger: SnapshotStoreClusterTests.quiet,
                current: { self.current.withLockedValue { $0.map { ($0.epoch, $0.generation) } } },
                install: { snapshot, _ in self.current.withLockedValue { $0 = snapshot } })
        }
    }

    func manifestMap(_ client: KubernetesClient) async throws -> ConfigMap {
        try await client.get(ConfigMap.self, namespace: "default", name: Self.store.manifestName)
    }

    @Test func hundredThousandTargetsSpanSeveralConfigMapsAndRoundTrip() async throws {
        try await withStore { emulator, client in
            let snapshot = sampleSnapshot(targets: 100_000)
            let writer = SnapshotWriter(client: client, configuration: Self.store, logger: Self.quiet)
            let committed = try await writer.commit(snapshot, epoch: 1, leader: "ta-1")
            let manifest = try SnapshotReader.parseManifest(try await manifestMap(client))
            #expect(manifest.chunks.count >= 3, "\(manifest.chunks.count) chunks for \(manifest.size) bytes")
            for chunk in manifest.chunks { #expect(chunk.size <= Self.store.chunkSize) }
            print("100k targets: \(manifest.size) bytes in \(manifest.chunks.count) ConfigMaps (\(manifest.size / 100_000) B/target)")
            let served = Served()
            let outcome = await served.reader(client).load(try await manifestMap(client))
            #expect(outcome == .installed(epoch: 1, generation: 1))
            #expect(served.current.withLockedValue { $0 } == committed)
            // A chunk larger than the API server allows is refused, not truncated.
            var tooBig = Self.store
            tooBig.chunkSize = 2 * 1024 * 1024
            let bigWriter = SnapshotWriter(client: client, configuration: tooBig, logger: Self.quiet)
            await #expect(throws: KubernetesError.self) { _ = try await bigWriter.commit(snapshot, epoch: 1, leader: "ta-1") }
            #expect(try SnapshotReader.parseManifest(try await manifestMap(client)).generation == 1)
            _ = emulator
        }
    }

    @Test func corruptMissingAndOlderSnapshotsAreRejectedAndTheLastGoodOneKept() async throws {
        try await withStore { emulator, client in
            let writer = SnapshotWriter(client: client, configuration: Self.store, logger: Self.quiet)
            let good = try await writer.commit(sampleSnapshot(targets: 2_000), epoch: 2, leader: "ta-1")
            let served = Served()
            let reader = served.reader(client)
            #expect(await reader.load(try await manifestMap(client)) == .installed(epoch: 2, generation: 1))

            // Generation 2 with one chunk's bytes flipped (chunks are immutable: replaced).
            let second = try await writer.commit(sampleSnapshot(targets: 2_100, seed: 7), epoch: 2, leader: "ta-1")
            #expect(second.generation == 2)
            let manifest = try SnapshotReader.parseManifest(try await manifestMap(client))
            let chunkName = manifest.chunks[0].name
            var chunk = try await client.get(ConfigMap.self, namespace: "default", name: chunkName)
            var bytes = try #require(chunk.binaryData?[SnapshotStoreConfiguration.chunkKey])
            bytes[bytes.count / 2] ^= 0xFF
            try await client.delete(ConfigMap.self, namespace: "default", name: chunkName)
            chunk.metadata = ObjectMeta(name: chunkName, namespace: "default", labels: chunk.metadata.labels)
            chunk.binaryData = [SnapshotStoreConfiguration.chunkKey: bytes]
            _ = try await client.create(chunk)
            guard case .rejected(let reason) = await reader.load(try await manifestMap(client)) else {
                Issue.record("a corrupt chunk was accepted")
                return
            }
            #expect(reason.contains("checksum"))
            #expect(served.current.withLockedValue { $0 } == good)

            // A manifest naming a chunk that does not exist.
            try await client.delete(ConfigMap.self, namespace: "default", name: chunkName)
            guard case .rejected(let missing) = await reader.load(try await manifestMap(client)) else {
                Issue.record("a manifest with a missing chunk was accepted")
                return
            }
            #expect(missing.contains("missing"))
            #expect(served.current.withLockedValue { $0 } == good)

            // A garbled manifest.
            var garbled = try await manifestMap(client)
            garbled.data = [SnapshotStoreConfiguration.manifestKey: "{\"format\": 1"]
            _ = try await client.update(garbled)
            guard case .rejected = await reader.load(try await manifestMap(client)) else {
                Issue.record("a garbled manifest was accepted")
                return
            }

            // An older epoch (a deposed leader's snapshot) is never installed over a newer one.
            let newer = SnapshotWriter(client: client, configuration: Self.store, logger: Self.quiet)
            _ = try await newer.commit(sampleSnapshot(targets: 2_000), epoch: 5, leader: "ta-2")
            #expect(await reader.load(try await manifestMap(client)) == .installed(epoch: 5, generation: 1))
            // The deposed writer is fenced rather than overwriting the newer term.
            await #expect(throws: SnapshotStoreError.self) { _ = try await writer.commit(sampleSnapshot(targets: 10), epoch: 2, leader: "ta-1") }
            var stale = try await manifestMap(client)
            var old = try SnapshotReader.parseManifest(stale)
            old.epoch = 4
            stale.data = [SnapshotStoreConfiguration.manifestKey: String(decoding: try JSONEncoder().encode(old), as: UTF8.self)]
            #expect(await reader.load(stale) == .stale(epoch: 4, generation: 1))
            #expect(served.current.withLockedValue { $0?.epoch } == 5)
            _ = emulator
        }
    }

    @Test func readerFollowsTheManifestThroughItsWatch() async throws {
        try await withStore { _, client in
            let served = Served()
            let reader = served.reader(client)
            let following = Task { await reader.run() }
            defer { following.cancel() }
            let writer = SnapshotWriter(client: client, configuration: Self.store, logger: Self.quiet)
            for generation in 1...3 {
                let committed = try await writer.commit(sampleSnapshot(targets: 500, seed: UInt64(generation)), epoch: 1, leader: "ta-1")
                #expect(await eventually(timeout: 20) { served.current.withLockedValue { $0 } == committed })
            }
            // Superseded chunks are collected: only the last two generations' remain.
            await writer.collectGarbage()
            let (items, _) = try await client.listAll(
                ConfigMap.self, namespace: "default", options: ListOptions(labelSelector: "\(SnapshotStoreConfiguration.snapshotLabel)=ta-snapshot"))
            let generations = Set(items.compactMap { $0.metadata.labels?["target-allocator.io/generation"] })
            #expect(generations == ["2", "3"])
            following.cancel()
            await following.value
        }
    }
}
