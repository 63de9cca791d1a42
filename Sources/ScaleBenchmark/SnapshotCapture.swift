import Foundation
import KubernetesClient
import Logging
import NIOConcurrencyHelpers
import Snapshot
import SnapshotStore

/// Keeps every committed snapshot as it appears: a watch on the allocator's namespace sees
/// each manifest version and each chunk ConfigMap (bases and deltas) when it is created, before
/// the leader deletes superseded ones, so every generation can be decoded afterwards with the
/// replicas' own reader: its manifest's base with the deltas up to it applied.
final class SnapshotCapture: Sendable {
    struct Committed: Sendable {
        var manifest: ConfigMap
        var version: Version
        var leader: String
        /// When this benchmark saw it (for display; timings come from the audit log).
        var seenAt: Date
    }

    private let manifestName: String
    private let state = NIOLockedValueBox<(committed: [Committed], chunks: [String: ConfigMap], unreadable: Int)>(([], [:], 0))

    init(manifestName: String) { self.manifestName = manifestName }

    func run(client: KubernetesClient, namespace: String, logger: Logger) async {
        let informer = Informer<ConfigMap>(client: client, options: .init(namespace: namespace), logger: logger)
        let events = informer.events()
        await withDiscardingTaskGroup { group in
            group.addTask { await informer.run() }
            for await event in events {
                switch event {
                case .added(let cm), .updated(_, let cm): record(cm)
                case .deleted, .synced: break
                }
            }
        }
    }

    private func record(_ cm: ConfigMap) {
        if cm.name == manifestName {
            guard let manifest = try? SnapshotReader.parseManifest(cm) else {
                state.withLockedValue { $0.unreadable += 1 }
                return
            }
            let version = Version(epoch: manifest.epoch, generation: manifest.generation)
            state.withLockedValue { s in
                guard !s.committed.contains(where: { $0.version == version }) else { return }
                s.committed.append(Committed(manifest: cm, version: version, leader: manifest.leader, seenAt: Date()))
            }
        } else if cm.name.hasPrefix(manifestName + "-") {
            state.withLockedValue { $0.chunks[cm.name] = cm }
        }
    }

    /// Every committed manifest seen, in (epoch, generation) order.
    var committed: [Committed] { state.withLockedValue { $0.committed }.sorted { $0.version < $1.version } }
    var latest: Committed? { committed.last }
    var unreadableManifests: Int { state.withLockedValue { $0.unreadable } }

    /// The state a committed generation names (its manifest's base with every delta up to it
    /// applied), from the captured ConfigMaps, verified like a replica does; given the state of
    /// a generation the manifest names (`previous`), only the deltas after it are applied.
    func decode(_ committed: Committed, after previous: Snapshot? = nil) throws -> Snapshot {
        let snapshot = try SnapshotReader.decode(manifest: committed.manifest, chunks: state.withLockedValue { $0.chunks }, after: previous)
        guard Version(epoch: snapshot.epoch, generation: snapshot.generation) == committed.version else {
            throw BenchError("manifest names \(committed.version), its parts decode to \(snapshot.epoch)/\(snapshot.generation)")
        }
        return snapshot
    }

    /// Every committed generation's state in order, from the last one at or before `start`
    /// (all of them without), each from the one before when its manifest names it (as a
    /// replica that served it would apply it); a failure for one that does not decode.
    func states(from start: Version? = nil, _ body: (Committed, Result<Snapshot, any Error>) -> Void) {
        let all = committed
        let first = start.flatMap { start in all.lastIndex { $0.version <= start } } ?? 0
        var previous: Snapshot?
        for c in all[first...] {
            do {
                let snapshot = try decode(c, after: previous)
                previous = snapshot
                body(c, .success(snapshot))
            } catch {
                body(c, .failure(error))
            }
        }
    }
}
