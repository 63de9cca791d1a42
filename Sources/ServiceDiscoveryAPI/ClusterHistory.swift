import ByteStrings
import NIOConcurrencyHelpers

/// The cluster's recent story as this replica saw it, for the `/` page: leadership changes
/// (from the Lease, polled through the elector) and the snapshots it installed (a new epoch is
/// a new leader's term; each generation a commit, diffed against the previous one installed).
///
/// Only what a replica already sees: no API reads beyond the Lease and the snapshot, so
/// followers keep their least privilege. Bounded: the last `capacity` events.
final class ClusterHistory: Sendable {
    enum Kind: Sendable, Equatable {
        /// The Lease holder changed (nil: none, or released).
        case leader(from: String?, to: String?)
        /// A snapshot of a newer epoch than the previous one installed: a new leader's term.
        case term(epoch: UInt64, leader: String)
        /// A commit installed; `previous` is the one it replaced (generations may be skipped
        /// when commits follow each other faster than the replica reads them).
        case commit(epoch: UInt64, generation: UInt64, previous: (epoch: UInt64, generation: UInt64)?, targets: Int, diff: SnapshotDiff?)

        static func == (a: Kind, b: Kind) -> Bool {
            switch (a, b) {
            case (.leader(let f1, let t1), .leader(let f2, let t2)): f1 == f2 && t1 == t2
            case (.term(let e1, let l1), .term(let e2, let l2)): e1 == e2 && l1 == l2
            case (.commit(let e1, let g1, let p1, let n1, let d1), .commit(let e2, let g2, let p2, let n2, let d2)):
                e1 == e2 && g1 == g2 && p1?.epoch == p2?.epoch && p1?.generation == p2?.generation && n1 == n2 && d1 == d2
            default: false
            }
        }
    }

    struct Event: Sendable, Equatable {
        /// Unix milliseconds: the leader's clock for commits (the snapshot's creation time),
        /// this replica's for what it observed.
        let millis: Int64
        let kind: Kind
    }

    /// The current Lease holder and since when this replica knows it.
    struct Leadership: Sendable, Equatable {
        var leader: String?
        var since: Int64
        /// False when the holder was already there when this replica first looked: `since` is
        /// then only a lower bound (when this replica started watching).
        var witnessed: Bool
    }

    static let capacity = 40

    private struct State {
        var events: [Event] = []
        var leadership: Leadership?
        /// Replicas seen holding the Lease, with when they were last seen holding it.
        var formerLeaders: [(identity: String, until: Int64)] = []
    }

    private let state = NIOLockedValueBox(State())

    /// Newest first.
    var events: [Event] { state.withLockedValue { $0.events.reversed() } }
    var leadership: Leadership? { state.withLockedValue { $0.leadership } }
    var formerLeaders: [(identity: String, until: Int64)] { state.withLockedValue { $0.formerLeaders } }

    /// Records who holds the Lease now; cheap when nothing changed (called on every poll).
    func observe(leader: String?, nowMillis: Int64) {
        state.withLockedValue { s in
            guard let current = s.leadership else {
                s.leadership = Leadership(leader: leader, since: nowMillis, witnessed: false)
                return
            }
            guard current.leader != leader else { return }
            if let previous = current.leader {
                s.formerLeaders.removeAll { $0.identity.bytesEqual(previous) }
                s.formerLeaders.append((previous, nowMillis))
                if s.formerLeaders.count > 8 { s.formerLeaders.removeFirst() }
            }
            s.leadership = Leadership(leader: leader, since: nowMillis, witnessed: true)
            append(&s, Event(millis: nowMillis, kind: .leader(from: current.leader, to: leader)))
        }
    }

    /// Records an installed snapshot. The diff is computed by the caller, outside any lock.
    func installed(_ new: RenderedSnapshot, replacing old: RenderedSnapshot?, diff: SnapshotDiff?) {
        state.withLockedValue { s in
            if old == nil || old!.epoch < new.epoch {
                append(&s, Event(millis: new.createdAtMillis, kind: .term(epoch: new.epoch, leader: new.leader)))
            }
            append(
                &s,
                Event(
                    millis: new.createdAtMillis,
                    kind: .commit(
                        epoch: new.epoch, generation: new.generation, previous: old.map { ($0.epoch, $0.generation) },
                        targets: new.targetCount, diff: diff)))
        }
    }

    private func append(_ s: inout State, _ event: Event) {
        s.events.append(event)
        if s.events.count > Self.capacity { s.events.removeFirst(s.events.count - Self.capacity) }
    }
}
