import Foundation
public import KubernetesClient
public import Logging
public import Snapshot

/// Where snapshots live: ConfigMaps in the replica's own namespace.
public struct SnapshotStoreConfiguration: Sendable {
    public var namespace: String
    /// The manifest ConfigMap; chunk ConfigMaps are named from it.
    public var manifestName: String
    /// Chunks stay well under the 1 MiB ConfigMap limit.
    public var chunkSize = 900 * 1024

    public init(namespace: String, manifestName: String) {
        self.namespace = namespace
        self.manifestName = manifestName
    }

    static let managedBy = ("app.kubernetes.io/managed-by", "target-allocator")
    static let snapshotLabel = "target-allocator.io/snapshot"
    static let manifestKey = "manifest.json"
    static let chunkKey = "chunk"
}

public enum SnapshotStoreError: Error, CustomStringConvertible {
    /// A newer epoch is stored: another replica leads; this writer must stop.
    case fenced(storedEpoch: UInt64, ourEpoch: UInt64)
    case corrupt(String)
    /// The term ended (or its Lease renew is overdue) before the write.
    case notLeading

    public var description: String {
        switch self {
        case .notLeading: "snapshot not written: this replica's Lease is not fresh"
        case .fenced(let stored, let ours): "snapshot fenced: epoch \(stored) is stored, ours is \(ours)"
        case .corrupt(let m): "snapshot rejected: \(m)"
        }
    }
}

/// Commits snapshots for the leader. Chunks are written first under new names; the manifest
/// update that makes them current is a compare-and-swap on its resourceVersion, so a stale
/// leader's write fails instead of overwriting a newer term's. Superseded chunks are deleted
/// afterwards (the previous generation's are kept for readers still fetching them).
public actor SnapshotWriter {
    private let client: KubernetesClient
    private let configuration: SnapshotStoreConfiguration
    private let logger: Logger
    private var manifestVersion: String?
    private var stored: Manifest?
    private var epoch: UInt64?
    /// Chunks to keep at the next collection (the last two generations'), once a commit left garbage.
    private var pendingCollection: Set<String>?

    /// Asked before every write; false stops the commit (`SnapshotStoreError.notLeading`).
    private let mayWrite: @Sendable () -> Bool

    /// - Parameter mayWrite: whether the term is still safe to write in (the elector's view).
    public init(
        client: KubernetesClient, configuration: SnapshotStoreConfiguration, logger: Logger,
        mayWrite: @escaping @Sendable () -> Bool = { true }
    ) {
        self.client = client
        self.configuration = configuration
        self.logger = logger
        self.mayWrite = mayWrite
    }

    private func checkStillLeading() throws {
        guard mayWrite() else { throw SnapshotStoreError.notLeading }
    }

    /// Compressed size of the last snapshot this writer committed or read, as stored.
    public var storedBytes: Int? { stored?.size }

    /// The snapshot currently committed (for seeding a new leader), if any.
    public func loadCommitted() async throws -> Snapshot? {
        guard let (manifest, _) = try await SnapshotReader.fetchManifest(client: client, configuration: configuration) else { return nil }
        return try await SnapshotReader.fetchSnapshot(manifest, client: client, configuration: configuration)
    }

    /// Writes `snapshot` as the next generation of `epoch` and returns it as committed.
    /// The first write of a new epoch re-reads the manifest, which bumps the stored epoch.
    public func commit(_ snapshot: Snapshot, epoch: UInt64, leader: String) async throws -> Snapshot {
        await collectGarbage()
        if self.epoch != epoch {
            try await refresh()
            self.epoch = epoch
        }
        for attempt in 0..<3 {
            if let stored, stored.epoch > epoch {
                throw SnapshotStoreError.fenced(storedEpoch: stored.epoch, ourEpoch: epoch)
            }
            var next = snapshot
            next.epoch = epoch
            next.generation = (stored?.generation ?? 0) + 1
            next.leader = leader
            do {
                try await write(next)
                return next
            } catch let error as KubernetesError where error.isConflict || error.isAlreadyExists {
                logger.info("snapshot manifest changed under us; re-reading", metadata: ["attempt": "\(attempt)"])
                try await refresh()
            }
        }
        throw SnapshotStoreError.corrupt("manifest kept changing during the write")
    }

    /// Re-reads the manifest. One that does not parse is overwritten (still by compare-and-swap
    /// on its resourceVersion): a corrupt manifest must not block every future leader.
    private func refresh() async throws {
        do {
            let cm = try await client.get(ConfigMap.self, namespace: configuration.namespace, name: configuration.manifestName)
            manifestVersion = cm.metadata.resourceVersion
            do {
                stored = try SnapshotReader.parseManifest(cm)
            } catch {
                logger.error("the stored snapshot manifest is unreadable; the next write replaces it", metadata: ["error": "\(error)"])
                stored = nil
            }
        } catch let error as KubernetesError where error.isNotFound {
            stored = nil
            manifestVersion = nil
        }
    }

    private func write(_ snapshot: Snapshot) async throws {
        let (compressed, uncompressedSize) = try SnapshotCodec.encode(snapshot)
        var chunks: [Manifest.Chunk] = []
        var offset = 0
        var index = 0
        repeat {
            let end = min(offset + configuration.chunkSize, compressed.count)
            let bytes = Array(compressed[offset..<end])
            let name = Manifest.chunkName(base: configuration.manifestName, epoch: snapshot.epoch, generation: snapshot.generation, index: index)
            var configMap = ConfigMap(
                metadata: ObjectMeta(name: name, namespace: configuration.namespace, labels: labels(generation: snapshot.generation)),
                binaryData: [SnapshotStoreConfiguration.chunkKey: Data(bytes)])
            configMap.immutable = true
            do {
                try checkStillLeading()
                _ = try await client.create(configMap)
            } catch let error as KubernetesError where error.isAlreadyExists {
                // Left by an attempt whose answer we lost: same name means same epoch and generation.
                try await client.delete(ConfigMap.self, namespace: configuration.namespace, name: name)
                _ = try await client.create(configMap)
            }
            chunks.append(Manifest.Chunk(name: name, size: bytes.count, crc32: Checksum.crc32(bytes)))
            offset = end
            index += 1
        } while offset < compressed.count

        let manifest = Manifest(
            format: Manifest.format, epoch: snapshot.epoch, generation: snapshot.generation, leader: snapshot.leader,
            size: compressed.count, crc32: Checksum.crc32(compressed), uncompressedSize: uncompressedSize, chunks: chunks)
        let encoded = String(decoding: try JSONEncoder().encode(manifest), as: UTF8.self)
        var configMap = ConfigMap(
            metadata: ObjectMeta(name: configuration.manifestName, namespace: configuration.namespace, labels: labels(generation: nil)),
            data: [SnapshotStoreConfiguration.manifestKey: encoded])
        let written: ConfigMap
        try checkStillLeading()
        if let manifestVersion {
            configMap.metadata.resourceVersion = manifestVersion
            written = try await client.update(configMap)
        } else {
            written = try await client.create(configMap)
        }
        let previous = stored
        stored = manifest
        manifestVersion = written.metadata.resourceVersion
        pendingCollection = Set(chunks.map(\.name) + (previous?.chunks.map(\.name) ?? []))
    }

    /// Deletes chunks superseded by the last commit (all but the last two generations').
    /// Separate from `commit` so the leader can serve a commit before cleaning up after it;
    /// a commit runs any collection still pending first.
    public func collectGarbage() async {
        guard let keep = pendingCollection else { return }
        pendingCollection = nil
        await collectGarbage(keep: keep)
    }

    private func collectGarbage(keep: Set<String>) async {
        do {
            let selector = "\(SnapshotStoreConfiguration.snapshotLabel)=\(configuration.manifestName),\(SnapshotStoreConfiguration.managedBy.0)=\(SnapshotStoreConfiguration.managedBy.1)"
            let (items, _) = try await client.listAll(
                ConfigMap.self, namespace: configuration.namespace, options: ListOptions(labelSelector: selector))
            for item in items where item.name != configuration.manifestName && !keep.contains(item.name) {
                guard mayWrite() else { return }
                try? await client.delete(ConfigMap.self, namespace: configuration.namespace, name: item.name)
            }
        } catch {
            logger.warning("could not clean up old snapshot chunks", metadata: ["error": "\(error)"])
        }
    }

    private func labels(generation: UInt64?) -> [String: String] {
        var labels = [
            SnapshotStoreConfiguration.managedBy.0: SnapshotStoreConfiguration.managedBy.1,
            SnapshotStoreConfiguration.snapshotLabel: configuration.manifestName,
        ]
        if let generation { labels["target-allocator.io/generation"] = String(generation) }
        return labels
    }
}

/// Follows the committed snapshot for every replica: watches the manifest, fetches and verifies
/// the chunks, decodes off the event loops and hands over only complete, newer snapshots.
/// Anything corrupt, partial, oversized or older is rejected with a log line; the caller keeps
/// serving what it had.
public final class SnapshotReader: Sendable {
    public enum Outcome: Sendable, Equatable {
        case installed(epoch: UInt64, generation: UInt64)
        case stale(epoch: UInt64, generation: UInt64)
        case rejected(String)
    }

    private let client: KubernetesClient
    private let configuration: SnapshotStoreConfiguration
    private let logger: Logger
    private let install: @Sendable (Snapshot, _ storedBytes: Int) -> Void
    private let current: @Sendable () -> (epoch: UInt64, generation: UInt64)?
    private let onOutcome: @Sendable (Outcome) -> Void

    /// - Parameters:
    ///   - current: the (epoch, generation) being served, so older ones are never installed.
    ///   - install: called with each verified newer snapshot and its compressed size in the ConfigMaps.
    public init(
        client: KubernetesClient, configuration: SnapshotStoreConfiguration, logger: Logger,
        current: @escaping @Sendable () -> (epoch: UInt64, generation: UInt64)?,
        install: @escaping @Sendable (Snapshot, _ storedBytes: Int) -> Void,
        onOutcome: @escaping @Sendable (Outcome) -> Void = { _ in }
    ) {
        self.client = client
        self.configuration = configuration
        self.logger = logger
        self.current = current
        self.install = install
        self.onOutcome = onOutcome
    }

    /// Watches until cancelled.
    public func run() async {
        var options = Informer<ConfigMap>.Options(namespace: configuration.namespace)
        options.fieldSelector = "metadata.name=\(configuration.manifestName)"
        let informer = Informer<ConfigMap>(client: client, options: options, logger: logger)
        let events = informer.events()
        await withDiscardingTaskGroup { group in
            group.addTask { await informer.run() }
            for await event in events {
                switch event {
                case .added(let cm), .updated(_, let cm):
                    await load(cm)
                case .synced, .deleted:
                    break
                }
            }
        }
    }

    /// Loads the snapshot a manifest ConfigMap names, if it is valid and newer.
    @discardableResult
    public func load(_ manifestMap: ConfigMap) async -> Outcome {
        let outcome: Outcome
        do {
            let manifest = try Self.parseManifest(manifestMap)
            if let served = current(), (manifest.epoch, manifest.generation) <= (served.epoch, served.generation) {
                outcome = .stale(epoch: manifest.epoch, generation: manifest.generation)
            } else {
                let snapshot = try await Self.fetchSnapshot(manifest, client: client, configuration: configuration)
                guard snapshot.epoch == manifest.epoch, snapshot.generation == manifest.generation else {
                    throw SnapshotStoreError.corrupt("manifest says \(manifest.epoch)/\(manifest.generation), data says \(snapshot.epoch)/\(snapshot.generation)")
                }
                install(snapshot, manifest.size)
                outcome = .installed(epoch: snapshot.epoch, generation: snapshot.generation)
            }
        } catch {
            logger.error("rejected snapshot; keeping the last good one", metadata: ["reason": "\(error)"])
            outcome = .rejected("\(error)")
        }
        onOutcome(outcome)
        return outcome
    }

    static func parseManifest(_ configMap: ConfigMap) throws -> Manifest {
        guard let text = configMap.data?[SnapshotStoreConfiguration.manifestKey] else {
            throw SnapshotStoreError.corrupt("manifest ConfigMap has no \(SnapshotStoreConfiguration.manifestKey)")
        }
        let manifest: Manifest
        do { manifest = try JSONDecoder().decode(Manifest.self, from: Data(text.utf8)) } catch {
            throw SnapshotStoreError.corrupt("manifest does not parse: \(error)")
        }
        guard manifest.format == Manifest.format else { throw SnapshotStoreError.corrupt("unknown format \(manifest.format)") }
        guard !manifest.chunks.isEmpty, manifest.chunks.reduce(0, { $0 + $1.size }) == manifest.size else {
            throw SnapshotStoreError.corrupt("manifest chunk sizes do not add up")
        }
        return manifest
    }

    static func fetchManifest(client: KubernetesClient, configuration: SnapshotStoreConfiguration) async throws -> (Manifest, String)? {
        do {
            let cm = try await client.get(ConfigMap.self, namespace: configuration.namespace, name: configuration.manifestName)
            return (try parseManifest(cm), cm.metadata.resourceVersion ?? "")
        } catch let error as KubernetesError where error.isNotFound {
            return nil
        }
    }

    static func fetchSnapshot(_ manifest: Manifest, client: KubernetesClient, configuration: SnapshotStoreConfiguration) async throws -> Snapshot {
        var compressed: [UInt8] = []
        compressed.reserveCapacity(manifest.size)
        for chunk in manifest.chunks {
            let cm: ConfigMap
            do {
                cm = try await client.get(ConfigMap.self, namespace: configuration.namespace, name: chunk.name)
            } catch let error as KubernetesError where error.isNotFound {
                throw SnapshotStoreError.corrupt("chunk \(chunk.name) is missing")
            }
            guard let data = cm.binaryData?[SnapshotStoreConfiguration.chunkKey] else {
                throw SnapshotStoreError.corrupt("chunk \(chunk.name) has no data")
            }
            guard data.count == chunk.size, Checksum.crc32(data) == chunk.crc32 else {
                throw SnapshotStoreError.corrupt("chunk \(chunk.name) fails its size or checksum")
            }
            compressed.append(contentsOf: data)
        }
        guard Checksum.crc32(compressed) == manifest.crc32 else { throw SnapshotStoreError.corrupt("snapshot checksum mismatch") }
        return try SnapshotCodec.decode(compressed, uncompressedSize: manifest.uncompressedSize)
    }
}
