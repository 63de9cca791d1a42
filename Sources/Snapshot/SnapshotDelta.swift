import ByteStrings
/// What one generation changes in the state the generation before it left: the leader writes
/// these instead of whole snapshots, so a change costs what changed, for the leader that
/// writes it and for every replica that applies it.
///
/// A target is its job and its labels (the served form): a target whose labels change is
/// removed and added; one that changes collector only is added again with its new collector.
public struct SnapshotDelta: Sendable {
    public var epoch: UInt64
    public var generation: UInt64
    public var createdAtMillis: Int64
    public var leader: String
    /// The whole new collector list, when it changed.
    public var collectors: [Collector]?
    /// The whole new job list, when it changed.
    public var jobs: [Job]?
    /// Targets that appeared or changed collector.
    public var upserted: [Target]
    /// Targets that are gone (their collector is not looked at).
    public var removed: [Target]

    public init(
        epoch: UInt64, generation: UInt64, createdAtMillis: Int64, leader: String, collectors: [Collector]? = nil, jobs: [Job]? = nil,
        upserted: [Target] = [], removed: [Target] = []
    ) {
        self.epoch = epoch
        self.generation = generation
        self.createdAtMillis = createdAtMillis
        self.leader = leader
        self.collectors = collectors
        self.jobs = jobs
        self.upserted = upserted
        self.removed = removed
    }

    /// Changes nothing but the epoch and generation (a new term's first write).
    public var isEmpty: Bool { collectors == nil && jobs == nil && upserted.isEmpty && removed.isEmpty }
}

/// A target's identity within a snapshot: its job and labels, compared and hashed as bytes.
public struct TargetContent: Hashable, Sendable {
    public let job: String
    public let labels: Labels

    public init(_ target: Target) {
        job = target.job
        labels = target.labels
    }

    public init(job: String, labels: Labels) {
        self.job = job
        self.labels = labels
    }

    public static func == (a: TargetContent, b: TargetContent) -> Bool {
        guard a.labels.count == b.labels.count, a.job.bytesEqual(b.job) else { return false }
        return zip(a.labels, b.labels).allSatisfy { $0.name.bytesEqual($1.name) && $0.value.bytesEqual($1.value) }
    }

    public func hash(into hasher: inout Hasher) {
        func bytes(_ string: String) {
            var s = string
            s.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
            hasher.combine(0xFF as UInt8)
        }
        bytes(job)
        for label in labels {
            bytes(label.name)
            bytes(label.value)
        }
    }
}

extension Snapshot {
    /// The snapshot `delta` leads to; throws when it does not apply (a removed target that is
    /// not there, or a reference to an unknown job or collector).
    public func applying(_ delta: SnapshotDelta) throws(SnapshotDeltaError) -> Snapshot {
        var index: [TargetContent: Int] = [:]
        index.reserveCapacity(targets.count)
        for (i, t) in targets.enumerated() { index[TargetContent(t)] = i }
        var next = targets.map(Optional.some)
        for t in delta.removed {
            guard let i = index.removeValue(forKey: TargetContent(t)) else {
                throw SnapshotDeltaError("removes a target that is not there (job \(t.job))")
            }
            next[i] = nil
        }
        for t in delta.upserted {
            let key = TargetContent(t)
            if let i = index[key] {
                next[i] = t
            } else {
                index[key] = next.count
                next.append(t)
            }
        }
        let result = Snapshot(
            epoch: delta.epoch, generation: delta.generation, createdAtMillis: delta.createdAtMillis, leader: delta.leader,
            collectors: delta.collectors ?? collectors, jobs: delta.jobs ?? jobs, targets: next.compactMap { $0 })
        let problems = result.problems()
        guard problems.isEmpty else { throw SnapshotDeltaError(problems.prefix(5).joined(separator: "; ")) }
        return result
    }
}

public struct SnapshotDeltaError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
