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

    /// A reader whose "served" state is a box, so outcomes can be asserted one by one; it counts
    /// whole states and deltas installed.
    final class Served: Sendable {
        let current = NIOLockedValueBox<Snapshot?>(nil)
        let installs = NIOLockedValueBox((full: 0, deltas: 0))
        func reader(_ client: KubernetesClient) -> SnapshotReader {
            SnapshotReader(
                client: client, configuration: SnapshotStoreClusterTests.store, logger: SnapshotStoreClusterTests.quiet,
                current: { self.current.withLockedValue { $0.map { ($0.epoch, $0.generation) } } },
                install: { installation, _ in
                    self.current.withLockedValue { current in
                        switch installation {
                        case .full(let snapshot):
                            current = snapshot
                            self.installs.withLockedValue { $0.full += 1 }
                            return true
                        case .delta(let delta, let after):
                            guard let base = current, (base.epoch, base.generation) == after, let next = try? base.applying(delta) else { return false }
                            current = next
                            self.installs.withLockedValue { $0.deltas += 1 }
                            return true
                        }
                    }
                })
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
            #expect(manifest.base.chunks.count >= 3, "\(manifest.base.chunks.count) chunks for \(manifest.size) bytes")
            for chunk in manifest.base.chunks { #expect(chunk.size <= Self.store.chunkSize) }
            print("100k targets: \(manifest.size) bytes in \(manifest.base.chunks.count) ConfigMaps (\(manifest.size / 100_000) B/target)")
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
            let chunkName = manifest.base.chunks[0].name
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
            old.base.epoch = 4
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
            // Superseded chunks are collected: only the last two manifests' remain (whole writes here).
            await writer.collectGarbage()
            let (items, _) = try await client.listAll(
                ConfigMap.self, namespace: "default", options: ListOptions(labelSelector: "\(SnapshotStoreConfiguration.snapshotLabel)=ta-snapshot"))
            let generations = Set(items.compactMap { $0.metadata.labels?["target-allocator.io/generation"] })
            #expect(generations == ["2", "3"])
            following.cancel()
            await following.value
        }
    }

    /// A write stores what changed: a reader on the generation before applies only the delta,
    /// a fresh reader loads the base and every delta, and both serve the same state. Past
    /// `maxDeltas` the committed state is stored again as a base under its own generation, so a
    /// reader that holds it still applies only the next delta. Chunks named by the manifest are
    /// never collected.
    @Test func deltasAfterABaseAndCompaction() async throws {
        try await withStore { _, client in
            let writer = SnapshotWriter(client: client, configuration: Self.store, logger: Self.quiet)
            await writer.setMaxDeltas(3)
            var state = try await writer.commit(sampleSnapshot(targets: 1_000), epoch: 1, leader: "ta-1")
            let follower = Served()
            let reader = follower.reader(client)
            #expect(await reader.load(try await manifestMap(client)) == .installed(epoch: 1, generation: 1))
            // A chunk an earlier leader left behind (its commit's answer was lost): the term's
            // first collection lists the chunks once and deletes it.
            let stray = "ta-snapshot-e0-g7-0d"
            _ = try await client.create(
                ConfigMap(
                    metadata: ObjectMeta(
                        name: stray, namespace: "default",
                        labels: [
                            SnapshotStoreConfiguration.snapshotLabel: "ta-snapshot",
                            SnapshotStoreConfiguration.managedBy.0: SnapshotStoreConfiguration.managedBy.1,
                        ]), data: ["x": "y"]))
            var previousNames = try SnapshotReader.parseManifest(try await manifestMap(client)).chunkNames
            var compactions = 0
            var random = SeededRandom(state: 42)
            for round in 0..<6 {
                // Move some targets, drop some, add some.
                var delta = SnapshotDelta(epoch: 0, generation: 0, createdAtMillis: Int64(round), leader: "")
                let picked = state.targets.shuffled(using: &random).prefix(30)
                for t in picked.prefix(10) { delta.removed.append(t) }
                for t in picked.dropFirst(10) {
                    delta.upserted.append(Target(job: t.job, labels: t.labels, collector: state.collectors.randomElement(using: &random)?.name))
                }
                delta.upserted.append(
                    Target(job: state.jobs[0].name, labels: Labels([("__address__", "10.9.\(round).1:80"), ("round", "\(round)")]), collector: nil))
                let basis = (state.epoch, state.generation)
                let before = state
                let change = delta
                let written = try await writer.commit(change, after: basis, epoch: 1, leader: "ta-1") { after in
                    after ? try! before.applying(change) : before
                }
                guard case .delta(let stored) = written else {
                    Issue.record("round \(round) wrote the whole state")
                    return
                }
                state = try before.applying(stored)
                let manifest = try SnapshotReader.parseManifest(try await manifestMap(client))
                #expect(manifest.parts.count <= 4, "\(manifest.parts.map(\.generation))")
                #expect(await reader.load(try await manifestMap(client)) == .installed(epoch: 1, generation: state.generation))
                #expect(follower.current.withLockedValue { $0 }.map { Set($0.targets.map(Entry.init)) } == Set(state.targets.map(Entry.init)))
                await writer.collectGarbage()
                let (items, _) = try await client.listAll(
                    ConfigMap.self, namespace: "default", options: ListOptions(labelSelector: "\(SnapshotStoreConfiguration.snapshotLabel)=ta-snapshot"))
                #expect(manifest.chunkNames.isSubset(of: Set(items.map(\.name))), "a chunk the manifest names was collected")
                // Exactly the last two manifests' chunks are left (readers may still be reading the previous one).
                let left = Set(items.map(\.name)).subtracting([Self.store.manifestName])
                #expect(left == manifest.chunkNames.union(previousNames), "round \(round): \(left.sorted())")
                if !previousNames.isSubset(of: manifest.chunkNames) { compactions += 1 }
                previousNames = manifest.chunkNames
            }
            #expect(compactions >= 1, "a compaction left chunks to collect")
            // The follower only ever applied deltas after its first load, compactions included.
            #expect(follower.installs.withLockedValue { $0 } == (full: 1, deltas: 6))
            // A fresh reader loads base + deltas and gets the same state.
            let fresh = Served()
            #expect(await fresh.reader(client).load(try await manifestMap(client)) == .installed(epoch: 1, generation: state.generation))
            #expect(fresh.current.withLockedValue { $0 }.map { Set($0.targets.map(Entry.init)) } == Set(state.targets.map(Entry.init)))
            #expect(fresh.installs.withLockedValue { $0.full } == 1)

            // A new term's first write is an empty delta: the epoch moves, nothing else.
            let last = state
            let term = try await writer.commit(
                SnapshotDelta(epoch: 0, generation: 0, createdAtMillis: 0, leader: ""), after: (state.epoch, state.generation), epoch: 2,
                leader: "ta-2"
            ) { _ in last }
            #expect(term.epoch == 2 && term.generation == state.generation + 1)
            #expect(await reader.load(try await manifestMap(client)) == .installed(epoch: 2, generation: state.generation + 1))
            #expect(follower.installs.withLockedValue { $0 } == (full: 1, deltas: 7))
        }
    }

    /// A delta written after a generation that is not the stored one (another writer moved on)
    /// is written as the whole new state instead.
    @Test func aDeltaAfterAnotherGenerationIsWrittenWhole() async throws {
        try await withStore { _, client in
            let writer = SnapshotWriter(client: client, configuration: Self.store, logger: Self.quiet)
            let first = try await writer.commit(sampleSnapshot(targets: 100), epoch: 1, leader: "ta-1")
            let empty = SnapshotDelta(epoch: 0, generation: 0, createdAtMillis: 0, leader: "")
            let written = try await writer.commit(empty, after: (first.epoch, first.generation + 5), epoch: 1, leader: "ta-1") { _ in first }
            guard case .full(let whole) = written else {
                Issue.record("a delta after an unknown generation was appended")
                return
            }
            #expect(whole.generation == 2 && whole.targets == first.targets)
        }
    }
}

/// A target compared as served (job, labels, collector).
private struct Entry: Hashable {
    let job: String
    let labels: [String]
    let collector: String?
    init(_ t: Target) {
        job = t.job
        labels = t.labels.map { "\($0.name)=\($0.value)" }
        collector = t.collector
    }
}
