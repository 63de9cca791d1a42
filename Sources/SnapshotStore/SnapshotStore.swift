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

/// Commits the leader's state. What is stored is a base snapshot and the deltas after it
/// (see `Manifest`): a write stores only its delta, and every so often (`maxDeltas`, or when
/// the deltas outweigh the base) the committed state is stored again as a new base.
///
/// Chunks are written first under new names; the manifest update that makes them current is a
/// compare-and-swap on its resourceVersion, so a stale leader's write fails instead of
/// overwriting a newer term's. Chunks no longer named are deleted afterwards (the previous
/// manifest's are kept for readers still fetching them).
public actor SnapshotWriter {
    private let client: KubernetesClient
    private let configuration: SnapshotStoreConfiguration
    private let logger: Logger
    private var manifestVersion: String?
    private var stored: Manifest?
    private var epoch: UInt64?
    /// Chunks to keep at the next collection (the last two manifests'), once a commit left garbage.
    private var pendingCollection: Set<String>?
    /// Chunk ConfigMaps known to exist: listed once per term (leftovers of other leaders and
    /// of lost answers), then kept up to date from this writer's own creates and deletes, so a
    /// collection does not list every chunk with its data after every commit (at 100k targets
    /// that was a 3 MB list decoded per commit, ~0.3 s of a shared core).
    private var existing: Set<String>?
    /// A new base is written once this many deltas follow the current one (or once they are
    /// larger than it). A compaction encodes and writes every target (2 s of a shared core at
    /// 100k targets, during which changes wait), so it should be rare: at 2 commits/s, 128 is
    /// one a minute; a manifest of 128 parts is ~25 KB.
    public private(set) var maxDeltas = 128

    public func setMaxDeltas(_ count: Int) { maxDeltas = max(1, count) }

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

    /// Compressed size of the state this writer last committed or read, as stored.
    public var storedBytes: Int? { stored?.size }

    /// The snapshot currently committed (for seeding a new leader), if any.
    public func loadCommitted() async throws -> Snapshot? {
        guard let (manifest, _) = try await SnapshotReader.fetchManifest(client: client, configuration: configuration) else { return nil }
        return try await SnapshotReader.fetchState(manifest, client: client, configuration: configuration)
    }

    /// The (epoch, generation) stored now, read from the manifest alone (nil: nothing stored).
    public func storedVersion() async throws -> (epoch: UInt64, generation: UInt64)? {
        try await refresh()
        return stored.map { ($0.epoch, $0.generation) }
    }

    /// A new term's first write: the committed state again under `epoch`, as an empty delta
    /// after `basis`, written without reading that state (so it costs a manifest read and two
    /// small writes, not a decode of every target) and never compacting. It fences every older
    /// leader at once. Nil when the store is no longer at `basis` (the caller then takes the
    /// ordinary path).
    public func fence(after basis: (epoch: UInt64, generation: UInt64), epoch: UInt64, leader: String) async throws -> SnapshotDelta? {
        await collectGarbage()
        if self.epoch != epoch {
            try await refresh()
            self.epoch = epoch
            existing = nil
        }
        guard let stored, (stored.epoch, stored.generation) == basis else { return nil }
        guard stored.epoch < epoch else { throw SnapshotStoreError.fenced(storedEpoch: stored.epoch, ourEpoch: epoch) }
        let fence = SnapshotDelta(epoch: epoch, generation: stored.generation + 1, createdAtMillis: Self.nowMillis(), leader: leader)
        let (bytes, size) = try DeltaCodec.encode(fence)
        do {
            let part = try await writeChunks(bytes, uncompressedSize: size, epoch: epoch, generation: fence.generation, kind: "d")
            try await writeManifest(Manifest(leader: leader, base: stored.parts[0], deltas: Array(stored.parts.dropFirst()) + [part]))
        } catch let error as KubernetesError where error.isConflict {
            try await refresh()
            return nil
        }
        return fence
    }

    private static func nowMillis() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// What a commit stored: a delta after the generation the caller named, or (when the stored
    /// state was not that generation) the whole new state.
    public enum Committed: Sendable {
        case delta(SnapshotDelta)
        case full(Snapshot)

        public var epoch: UInt64 {
            switch self {
            case .delta(let d): d.epoch
            case .full(let s): s.epoch
            }
        }

        public var generation: UInt64 {
            switch self {
            case .delta(let d): d.generation
            case .full(let s): s.generation
            }
        }
    }

    /// Commits `delta` as the next generation of `epoch`.
    /// - Parameters:
    ///   - basis: the (epoch, generation) the delta applies to; nil when the caller knows none.
    ///   - state: the caller's whole state, before (`false`) or after (`true`) the delta: asked
    ///     for when a new base is due, or when the stored state is not `basis` (another writer
    ///     moved it: the delta cannot apply, the whole state is written instead).
    public func commit(
        _ delta: SnapshotDelta, after basis: (epoch: UInt64, generation: UInt64)?, epoch: UInt64, leader: String,
        state: @escaping @Sendable (_ afterDelta: Bool) -> Snapshot
    ) async throws -> Committed {
        await collectGarbage()
        if self.epoch != epoch {
            try await refresh()
            self.epoch = epoch
            existing = nil
        }
        for attempt in 0..<3 {
            if let stored, stored.epoch > epoch {
                throw SnapshotStoreError.fenced(storedEpoch: stored.epoch, ourEpoch: epoch)
            }
            let generation = (stored?.generation ?? 0) + 1
            do {
                if let stored, let basis, (stored.epoch, stored.generation) == basis {
                    var next = delta
                    next.epoch = epoch
                    next.generation = generation
                    next.leader = leader
                    var parts = stored.parts
                    if parts.count > maxDeltas || stored.deltas.reduce(0, { $0 + $1.size }) > max(stored.base.size, 64 * 1024) {
                        // Compaction: the committed state again as the base, under its own generation.
                        let base = try await CPUWork.run {
                            var base = state(false)
                            base.epoch = stored.epoch
                            base.generation = stored.generation
                            base.leader = stored.leader
                            return base
                        }
                        let (bytes, size) = try await CPUWork.run { try SnapshotCodec.encode(base) }
                        // Named after the generation it comes with: an earlier base of the same
                        // generation (a reader may be fetching it) is never overwritten.
                        parts = [
                            try await writeChunks(
                                bytes, uncompressedSize: size, epoch: base.epoch, generation: base.generation, kind: "b\(generation)")
                        ]
                    }
                    let change = next
                    let (bytes, size) = try await CPUWork.run { try DeltaCodec.encode(change) }
                    parts.append(try await writeChunks(bytes, uncompressedSize: size, epoch: epoch, generation: generation, kind: "d"))
                    try await writeManifest(Manifest(leader: leader, base: parts[0], deltas: Array(parts.dropFirst())))
                    return .delta(next)
                }
                let (next, bytes, size) = try await CPUWork.run {
                    var next = state(true)
                    next.epoch = epoch
                    next.generation = generation
                    next.leader = leader
                    let (bytes, size) = try SnapshotCodec.encode(next)
                    return (next, bytes, size)
                }
                let base = try await writeChunks(bytes, uncompressedSize: size, epoch: epoch, generation: generation, kind: "b")
                try await writeManifest(Manifest(leader: leader, base: base, deltas: []))
                return .full(next)
            } catch let error as KubernetesError where error.isConflict || error.isAlreadyExists {
                logger.info("snapshot manifest changed under us; re-reading", metadata: ["attempt": "\(attempt)"])
                try await refresh()
            }
        }
        throw SnapshotStoreError.corrupt("manifest kept changing during the write")
    }

    /// Commits a whole snapshot as the next generation of `epoch` (a new base).
    public func commit(_ snapshot: Snapshot, epoch: UInt64, leader: String) async throws -> Snapshot {
        let empty = SnapshotDelta(epoch: epoch, generation: 0, createdAtMillis: snapshot.createdAtMillis, leader: leader)
        let committed = try await commit(empty, after: nil, epoch: epoch, leader: leader) { _ in snapshot }
        guard case .full(let written) = committed else { preconditionFailure("a commit without basis writes a base") }
        return written
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

    /// Stores one generation's compressed bytes as immutable chunk ConfigMaps.
    private func writeChunks(_ compressed: [UInt8], uncompressedSize: Int, epoch: UInt64, generation: UInt64, kind: String) async throws
        -> Manifest.Part
    {
        var chunks: [Manifest.Chunk] = []
        var offset = 0
        var index = 0
        repeat {
            let end = min(offset + configuration.chunkSize, compressed.count)
            let bytes = Array(compressed[offset..<end])
            let name = Manifest.chunkName(base: configuration.manifestName, epoch: epoch, generation: generation, index: index) + kind
            var configMap = ConfigMap(
                metadata: ObjectMeta(name: name, namespace: configuration.namespace, labels: labels(generation: generation)),
                binaryData: [SnapshotStoreConfiguration.chunkKey: Data(bytes)])
            configMap.immutable = true
            do {
                try checkStillLeading()
                _ = try await client.create(configMap)
            } catch let error as KubernetesError where error.isAlreadyExists {
                // Left by an attempt whose answer we lost: same name means same epoch, generation and kind.
                try checkStillLeading()
                try await client.delete(ConfigMap.self, namespace: configuration.namespace, name: name)
                _ = try await client.create(configMap)
            }
            existing?.insert(name)
            chunks.append(Manifest.Chunk(name: name, size: bytes.count, crc32: Checksum.crc32(bytes)))
            offset = end
            index += 1
        } while offset < compressed.count
        return Manifest.Part(
            epoch: epoch, generation: generation, size: compressed.count, crc32: Checksum.crc32(compressed),
            uncompressedSize: uncompressedSize, chunks: chunks)
    }

    private func writeManifest(_ manifest: Manifest) async throws {
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
        let keep = manifest.chunkNames.union(previous?.chunkNames ?? [])
        if existing.map({ !$0.isSubset(of: keep) }) ?? true { pendingCollection = keep }
    }

    /// Deletes chunks neither the current nor the previous manifest names. Separate from
    /// `commit` so the leader can serve a commit before cleaning up after it; a commit runs any
    /// collection still pending first.
    public func collectGarbage() async {
        guard let keep = pendingCollection else { return }
        pendingCollection = nil
        await collectGarbage(keep: keep)
    }

    private func collectGarbage(keep: Set<String>) async {
        do {
            if existing == nil {
                let selector = "\(SnapshotStoreConfiguration.snapshotLabel)=\(configuration.manifestName),\(SnapshotStoreConfiguration.managedBy.0)=\(SnapshotStoreConfiguration.managedBy.1)"
                let (items, _) = try await client.listAll(
                    ConfigMap.self, namespace: configuration.namespace, options: ListOptions(labelSelector: selector))
                existing = Set(items.map(\.name).filter { $0 != configuration.manifestName })
            }
            for name in (existing ?? []).subtracting(keep).sorted() {
                guard mayWrite() else { return }
                do {
                    try await client.delete(ConfigMap.self, namespace: configuration.namespace, name: name)
                } catch let error as KubernetesError where error.isNotFound {}
                existing?.remove(name)
            }
        } catch {
            // Listed again next time: a delete that failed may have left it.
            existing = nil
            pendingCollection = keep
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

    /// What to install: a whole state, or a delta after the generation the replica serves.
    public enum Installation: Sendable {
        case full(Snapshot)
        case delta(SnapshotDelta, after: (epoch: UInt64, generation: UInt64))
    }

    private let client: KubernetesClient
    private let configuration: SnapshotStoreConfiguration
    private let logger: Logger
    private let install: @Sendable (Installation, _ storedBytes: Int) -> Bool
    private let current: @Sendable () -> (epoch: UInt64, generation: UInt64)?
    private let onOutcome: @Sendable (Outcome) -> Void

    /// - Parameters:
    ///   - current: the (epoch, generation) being served, so older ones are never installed and
    ///     a replica that holds a generation the manifest names applies only the deltas after it.
    ///   - install: called with each verified newer state or delta and the state's compressed
    ///     size in the ConfigMaps; returns false when it did not apply (the served generation
    ///     moved meanwhile), and the whole state is then loaded instead.
    public init(
        client: KubernetesClient, configuration: SnapshotStoreConfiguration, logger: Logger,
        current: @escaping @Sendable () -> (epoch: UInt64, generation: UInt64)?,
        install: @escaping @Sendable (Installation, _ storedBytes: Int) -> Bool,
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

    /// Loads the state a manifest ConfigMap names, if it is valid and newer: only the deltas
    /// after the served generation when the manifest names it, else the base and every delta.
    @discardableResult
    public func load(_ manifestMap: ConfigMap) async -> Outcome {
        let outcome: Outcome
        do {
            let manifest = try Self.parseManifest(manifestMap)
            func isStale() -> Bool {
                guard let served = current() else { return false }
                return (manifest.epoch, manifest.generation) <= (served.epoch, served.generation)
            }
            // Checked again after the deltas failed: someone else (the leader's own commit) may
            // have installed it meanwhile, and then there is nothing to load (a whole decode of
            // 100k targets per commit was most of a leader's CPU).
            if isStale() {
                outcome = .stale(epoch: manifest.epoch, generation: manifest.generation)
            } else if try await applyDeltas(manifest) {
                outcome = .installed(epoch: manifest.epoch, generation: manifest.generation)
            } else if isStale() {
                outcome = .stale(epoch: manifest.epoch, generation: manifest.generation)
            } else {
                logger.info(
                    "loading the whole snapshot",
                    metadata: [
                        "generation": "\(manifest.epoch)/\(manifest.generation)",
                        "served": "\(current().map { "\($0.epoch)/\($0.generation)" } ?? "none")",
                    ])
                let state = try await Self.fetchState(manifest, client: client, configuration: configuration)
                let install = self.install
                _ = try await CPUWork.run { install(.full(state), manifest.size) }
                outcome = .installed(epoch: manifest.epoch, generation: manifest.generation)
            }
        } catch {
            logger.error("rejected snapshot; keeping the last good one", metadata: ["reason": "\(error)"])
            outcome = .rejected("\(error)")
        }
        onOutcome(outcome)
        return outcome
    }

    /// Applies the deltas after the served generation, if the manifest names it; false when it
    /// does not (or a delta did not apply).
    private func applyDeltas(_ manifest: Manifest) async throws -> Bool {
        guard let served = current(), let k = manifest.parts.firstIndex(where: { ($0.epoch, $0.generation) == served }) else { return false }
        var after = served
        for part in manifest.parts[(k + 1)...] {
            let bytes = try await Self.fetchBytes(part, client: client, configuration: configuration)
            let install = self.install
            let size = manifest.size
            let previous = after
            let (delta, installed) = try await CPUWork.run {
                let delta = try DeltaCodec.decode(bytes, uncompressedSize: part.uncompressedSize)
                try Self.check(delta.epoch, delta.generation, against: part)
                return (delta, install(.delta(delta, after: previous), size))
            }
            guard installed else { return false }
            after = (delta.epoch, delta.generation)
        }
        return true
    }

    static func check(_ epoch: UInt64, _ generation: UInt64, against part: Manifest.Part) throws {
        guard (epoch, generation) == (part.epoch, part.generation) else {
            throw SnapshotStoreError.corrupt("manifest says \(part.epoch)/\(part.generation), data says \(epoch)/\(generation)")
        }
    }

    /// The manifest a manifest ConfigMap holds, checked for format, part order and chunk sizes.
    public static func parseManifest(_ configMap: ConfigMap) throws -> Manifest {
        guard let text = configMap.data?[SnapshotStoreConfiguration.manifestKey] else {
            throw SnapshotStoreError.corrupt("manifest ConfigMap has no \(SnapshotStoreConfiguration.manifestKey)")
        }
        let manifest: Manifest
        do { manifest = try JSONDecoder().decode(Manifest.self, from: Data(text.utf8)) } catch {
            throw SnapshotStoreError.corrupt("manifest does not parse: \(error)")
        }
        guard manifest.format == Manifest.format || manifest.format == Manifest.formatV1 else {
            throw SnapshotStoreError.corrupt("unknown format \(manifest.format)")
        }
        var previous: (UInt64, UInt64)?
        for part in manifest.parts {
            guard !part.chunks.isEmpty, part.chunks.reduce(0, { $0 + $1.size }) == part.size else {
                throw SnapshotStoreError.corrupt("manifest chunk sizes do not add up")
            }
            if let previous, (part.epoch, part.generation) <= previous {
                throw SnapshotStoreError.corrupt("manifest parts are not in generation order")
            }
            previous = (part.epoch, part.generation)
        }
        guard let last = manifest.parts.last, (last.epoch, last.generation) == (manifest.epoch, manifest.generation) else {
            throw SnapshotStoreError.corrupt("manifest generation is not its last part's")
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

    /// The whole state a manifest names: its base with every delta applied.
    static func fetchState(_ manifest: Manifest, client: KubernetesClient, configuration: SnapshotStoreConfiguration) async throws -> Snapshot {
        let baseBytes = try await fetchBytes(manifest.base, client: client, configuration: configuration)
        var state = try await CPUWork.run { try decodeBase(manifest.base, bytes: baseBytes) }
        for part in manifest.deltas {
            let bytes = try await fetchBytes(part, client: client, configuration: configuration)
            let before = state
            state = try await CPUWork.run { try applyDelta(part, bytes: bytes, to: before) }
        }
        return state
    }

    /// The state a committed manifest names, from ConfigMaps already at hand (its chunks by
    /// name, e.g. captured by a watch before the leader collects superseded ones), verified and
    /// decoded as a replica does: only the deltas after `previous` when the manifest names
    /// `previous`'s generation, else the base and every delta.
    public static func decode(manifest manifestMap: ConfigMap, chunks: [String: ConfigMap], after previous: Snapshot? = nil) throws -> Snapshot {
        let manifest = try parseManifest(manifestMap)
        var state: Snapshot
        var rest = manifest.deltas[...]
        if let previous, let k = manifest.parts.firstIndex(where: { ($0.epoch, $0.generation) == (previous.epoch, previous.generation) }) {
            state = previous
            rest = manifest.parts[(k + 1)...]
        } else {
            state = try decodeBase(manifest.base, bytes: assemble(manifest.base, chunks: chunks))
        }
        for part in rest { state = try applyDelta(part, bytes: assemble(part, chunks: chunks), to: state) }
        return state
    }

    private static func decodeBase(_ part: Manifest.Part, bytes: [UInt8]) throws -> Snapshot {
        let state = try SnapshotCodec.decode(bytes, uncompressedSize: part.uncompressedSize)
        try check(state.epoch, state.generation, against: part)
        return state
    }

    private static func applyDelta(_ part: Manifest.Part, bytes: [UInt8], to state: Snapshot) throws -> Snapshot {
        let delta = try DeltaCodec.decode(bytes, uncompressedSize: part.uncompressedSize)
        try check(delta.epoch, delta.generation, against: part)
        do { return try state.applying(delta) } catch { throw SnapshotStoreError.corrupt("delta \(part.generation): \(error)") }
    }

    /// One part's compressed bytes, every chunk and the whole checked.
    static func fetchBytes(_ part: Manifest.Part, client: KubernetesClient, configuration: SnapshotStoreConfiguration) async throws -> [UInt8] {
        var chunks: [String: ConfigMap] = [:]
        for chunk in part.chunks {
            do {
                chunks[chunk.name] = try await client.get(ConfigMap.self, namespace: configuration.namespace, name: chunk.name)
            } catch let error as KubernetesError where error.isNotFound {
                throw SnapshotStoreError.corrupt("chunk \(chunk.name) is missing")
            }
        }
        return try assemble(part, chunks: chunks)
    }

    /// One part's compressed bytes from its chunk ConfigMaps: each chunk's size and CRC-32, then the whole's.
    static func assemble(_ part: Manifest.Part, chunks: [String: ConfigMap]) throws -> [UInt8] {
        var compressed: [UInt8] = []
        compressed.reserveCapacity(part.size)
        for chunk in part.chunks {
            guard let cm = chunks[chunk.name] else { throw SnapshotStoreError.corrupt("chunk \(chunk.name) is missing") }
            guard let data = cm.binaryData?[SnapshotStoreConfiguration.chunkKey] else {
                throw SnapshotStoreError.corrupt("chunk \(chunk.name) has no data")
            }
            guard data.count == chunk.size, Checksum.crc32(data) == chunk.crc32 else {
                throw SnapshotStoreError.corrupt("chunk \(chunk.name) fails its size or checksum")
            }
            compressed.append(contentsOf: data)
        }
        guard Checksum.crc32(compressed) == part.crc32 else { throw SnapshotStoreError.corrupt("snapshot checksum mismatch") }
        return compressed
    }
}
