import ByteStrings
import JSON
import Snapshot

/// The targets a replica serves, kept as they are served (one `SegmentedList` of rendered
/// groups per job and collector) and changed in place by each delta.
///
/// Why not a `Snapshot` plus answers rendered from it: at 100,000 targets the labels and two
/// rendered copies (per collector and per job) cost a follower ~450 MB, and every generation
/// re-rendered and re-compressed all of it. Here a delta costs the segments it touches, and the
/// only per-target memory besides the compressed groups is a 64-bit fingerprint per target
/// saying which answer holds it.
struct ServedState: Sendable {
    /// One answer: a job and a collector (nil: the job's unassigned targets, which no collector
    /// is served but the HTML views show). Names compare as bytes.
    struct Bucket: Hashable, Sendable {
        let job: String
        let collector: String?

        static func == (a: Bucket, b: Bucket) -> Bool {
            guard a.job.bytesEqual(b.job) else { return false }
            switch (a.collector, b.collector) {
            case (nil, nil): return true
            case (let x?, let y?): return x.bytesEqual(y)
            default: return false
            }
        }

        func hash(into hasher: inout Hasher) {
            job.hashBytes(into: &hasher)
            if let collector { collector.hashBytes(into: &hasher) } else { hasher.combine(0xFF as UInt8) }
        }
    }

    private(set) var epoch: UInt64
    private(set) var generation: UInt64
    private(set) var createdAtMillis: Int64
    private(set) var leader: String
    /// Sorted by name bytes.
    private(set) var jobs: [Job]
    /// Sorted by name bytes.
    private(set) var collectors: [Collector]
    /// Bucket ids are positions here; they stay valid for the life of the state.
    private(set) var buckets: [Bucket] = []
    private(set) var lists: [SegmentedList] = []
    private var ids: [Bucket: Int32] = [:]
    /// `TargetFingerprint` of job and group → the bucket holding it.
    private var located: [UInt64: Int32] = [:]
    /// Fingerprints two targets share (a 64-bit collision): found by looking in the job's lists.
    private var ambiguous: Set<UInt64> = []


    /// The whole state of `snapshot`.
    init(_ snapshot: Snapshot) {
        epoch = snapshot.epoch
        generation = snapshot.generation
        createdAtMillis = snapshot.createdAtMillis
        leader = snapshot.leader
        jobs = snapshot.jobs.sorted { $0.name.bytesPrecede($1.name) }
        collectors = snapshot.collectors.sorted { $0.name.bytesPrecede($1.name) }
        // Bucket by bucket: only one bucket's rendered groups exist at a time (all of them at
        // once were ~1.5 KB per target beside the decoded snapshot, and their freed pages stayed
        // fragmented between the long-lived segments).
        var members: [[Int]] = []
        for (i, target) in snapshot.targets.enumerated() {
            let id = bucketID(Bucket(job: target.job, collector: target.collector))
            if members.count <= Int(id) { members.append([]) }
            members[Int(id)].append(i)
        }
        var seen: [UInt64: Int32] = [:]
        seen.reserveCapacity(snapshot.targets.count)
        for id in members.indices {
            var sorted: [[UInt8]] = []
            sorted.reserveCapacity(members[id].count)
            for i in members[id] {
                let target = snapshot.targets[i]
                let group = RenderedSnapshot.group(target.labels)
                let fingerprint = TargetFingerprint.of(job: target.job, group: group)
                if seen.updateValue(Int32(id), forKey: fingerprint) != nil { ambiguous.insert(fingerprint) }
                sorted.append(group)
            }
            members[id] = []
            sorted.sort { $0.lexicographicallyPrecedes($1) }
            // A snapshot has no duplicate targets (problems() refuses them); be safe anyway.
            var unique: [[UInt8]] = []
            unique.reserveCapacity(sorted.count)
            for g in sorted where unique.last != g { unique.append(g) }
            lists[id] = SegmentedList(sorted: unique)
        }
        for fingerprint in ambiguous { seen[fingerprint] = nil }
        located = seen
    }

    /// The id of `bucket`, made when new.
    private mutating func bucketID(_ bucket: Bucket) -> Int32 {
        if let id = ids[bucket] { return id }
        let id = Int32(buckets.count)
        ids[bucket] = id
        buckets.append(bucket)
        lists.append(SegmentedList())
        return id
    }

    /// What applying a delta changed.
    struct Applied {
        /// Buckets whose list changed.
        var changed: Set<Int32> = []
        var jobsChanged = false
        var diff = SnapshotDiff()
    }

    /// Applies `delta` in place. Throws when it does not apply (a target removed that is not
    /// served, an unknown job or collector, a job or collector removed that still has targets);
    /// the state is then unusable and the caller must load the whole snapshot again.
    mutating func apply(_ delta: SnapshotDelta) throws(SnapshotDeltaError) -> Applied {
        var applied = Applied()
        let newJobs = delta.jobs.map { $0.sorted { $0.name.bytesPrecede($1.name) } }
        let newCollectors = delta.collectors.map { $0.sorted { $0.name.bytesPrecede($1.name) } }
        let jobNames = Set((newJobs ?? jobs).map { ByteKey($0.name) })
        let collectorNames = Set((newCollectors ?? collectors).map { ByteKey($0.name) })
        var removals: [Int32: [[UInt8]]] = [:]
        var insertions: [Int32: [[UInt8]]] = [:]
        var samples: (added: [SnapshotDiff.Change], removed: [SnapshotDiff.Change], moved: [SnapshotDiff.Change]) = ([], [], [])
        let keep = SnapshotDiff.samplesPerKind

        for target in delta.removed {
            let group = RenderedSnapshot.group(target.labels)
            let fingerprint = TargetFingerprint.of(job: target.job, group: group)
            guard let id = locate(fingerprint, group: group, job: target.job) else {
                throw SnapshotDeltaError("removes a target that is not served (job \(target.job))")
            }
            if !ambiguous.contains(fingerprint) { located[fingerprint] = nil }
            removals[id, default: []].append(group)
            applied.diff.removed += 1
            if samples.removed.count < keep {
                samples.removed.append(.init(job: target.job, address: target.labels["__address__"] ?? "", from: buckets[Int(id)].collector, to: nil, fingerprint: nil))
            }
        }
        for target in delta.upserted {
            guard jobNames.contains(ByteKey(target.job)) else { throw SnapshotDeltaError("a target of an unknown job (\(target.job))") }
            if let collector = target.collector, !collectorNames.contains(ByteKey(collector)) {
                throw SnapshotDeltaError("a target on an unknown collector (\(collector))")
            }
            let group = RenderedSnapshot.group(target.labels)
            let fingerprint = TargetFingerprint.of(job: target.job, group: group)
            let id = bucketID(Bucket(job: target.job, collector: target.collector))
            let change = SnapshotDiff.Change(
                job: target.job, address: target.labels["__address__"] ?? "", from: nil, to: target.collector, fingerprint: fingerprint)
            if let old = locate(fingerprint, group: group, job: target.job) {
                guard old != id else { continue }
                removals[old, default: []].append(group)
                applied.diff.moved += 1
                if samples.moved.count < keep {
                    samples.moved.append(.init(job: change.job, address: change.address, from: buckets[Int(old)].collector, to: change.to, fingerprint: fingerprint))
                }
            } else {
                applied.diff.added += 1
                if samples.added.count < keep { samples.added.append(change) }
            }
            // A new target whose fingerprint another one has looks like a move of that one; the
            // removal then fails, and the whole snapshot loaded again marks the fingerprint ambiguous.
            if !ambiguous.contains(fingerprint) { located[fingerprint] = id }
            insertions[id, default: []].append(group)
        }
        do {
            for id in Set(removals.keys).union(insertions.keys) {
                try lists[Int(id)].apply(removing: removals[id] ?? [], inserting: insertions[id] ?? [])
                applied.changed.insert(id)
            }
        } catch {
            throw SnapshotDeltaError("\(error)")
        }

        if let newJobs {
            let names = Set(newJobs.map { ByteKey($0.name) })
            for (id, bucket) in buckets.enumerated() where !names.contains(ByteKey(bucket.job)) && !lists[id].isEmpty {
                throw SnapshotDeltaError("job \(bucket.job) is removed but still has targets")
            }
            jobs = newJobs
            applied.jobsChanged = true
        }
        if let newCollectors {
            let before = Set(collectors.map { ByteKey($0.name) })
            let after = Set(newCollectors.map { ByteKey($0.name) })
            for (id, bucket) in buckets.enumerated() {
                if let c = bucket.collector, !after.contains(ByteKey(c)), !lists[id].isEmpty {
                    throw SnapshotDeltaError("collector \(c) is removed but still has targets")
                }
            }
            applied.diff.collectorsAdded = after.subtracting(before).sorted().map(\.string)
            applied.diff.collectorsRemoved = before.subtracting(after).sorted().map(\.string)
            collectors = newCollectors
        }
        applied.diff.samples = samples.moved + samples.added + samples.removed
        epoch = delta.epoch
        generation = delta.generation
        createdAtMillis = delta.createdAtMillis
        leader = delta.leader
        return applied
    }

    /// The bucket holding the target with this fingerprint and group, if served.
    private func locate(_ fingerprint: UInt64, group: [UInt8], job: String) -> Int32? {
        guard ambiguous.contains(fingerprint) else { return located[fingerprint] }
        for (id, bucket) in buckets.enumerated() where bucket.job.bytesEqual(job) && lists[id].contains(group) { return Int32(id) }
        return nil
    }

    /// What changed between `old` and this state, for a whole snapshot installed over another:
    /// targets added, removed and moved (by fingerprint), with the smallest fingerprints of each
    /// kind as samples (so every replica shows the same), and the collectors added and removed.
    func diff(from old: ServedState) -> SnapshotDiff {
        var diff = SnapshotDiff()
        var added: [(UInt64, Int32)] = []
        var removed: [(UInt64, Int32)] = []
        var moved: [(UInt64, Int32, Int32)] = []
        func keep<T>(_ samples: inout [T], _ sample: T, _ key: (T) -> UInt64) {
            samples.append(sample)
            samples.sort { key($0) < key($1) }
            if samples.count > SnapshotDiff.samplesPerKind { samples.removeLast() }
        }
        for (fingerprint, id) in located {
            if let before = old.located[fingerprint] {
                let a = old.buckets[Int(before)].collector
                let b = buckets[Int(id)].collector
                if !(a == nil && b == nil || a != nil && b != nil && a!.bytesEqual(b!)) {
                    diff.moved += 1
                    keep(&moved, (fingerprint, before, id)) { $0.0 }
                }
            } else if !old.ambiguous.contains(fingerprint) {
                diff.added += 1
                keep(&added, (fingerprint, id)) { $0.0 }
            }
        }
        for (fingerprint, id) in old.located where located[fingerprint] == nil && !ambiguous.contains(fingerprint) {
            diff.removed += 1
            keep(&removed, (fingerprint, id)) { $0.0 }
        }
        let before = Set(old.collectors.map { ByteKey($0.name) })
        let after = Set(collectors.map { ByteKey($0.name) })
        diff.collectorsAdded = after.subtracting(before).sorted().map(\.string)
        diff.collectorsRemoved = before.subtracting(after).sorted().map(\.string)
        diff.samples =
            moved.map { f, a, b in
                SnapshotDiff.Change(
                    job: buckets[Int(b)].job, address: address(f, in: b), from: old.buckets[Int(a)].collector, to: buckets[Int(b)].collector,
                    fingerprint: f)
            }
            + added.map { f, b in
                SnapshotDiff.Change(job: buckets[Int(b)].job, address: address(f, in: b), from: nil, to: buckets[Int(b)].collector, fingerprint: f)
            }
            + removed.map { f, a in
                SnapshotDiff.Change(
                    job: old.buckets[Int(a)].job, address: old.address(f, in: a), from: old.buckets[Int(a)].collector, to: nil, fingerprint: nil)
            }
        return diff
    }

    /// The `__address__` of the target with this fingerprint in bucket `id` (a scan of its list).
    private func address(_ fingerprint: UInt64, in id: Int32) -> String {
        let job = buckets[Int(id)].job
        var found = ""
        lists[Int(id)].forEach { group in
            guard found.isEmpty, TargetFingerprint.of(job: job, group: group) == fingerprint,
                case .array(let addresses)? = (try? JSONValue.parse(group))?["targets"], let address = addresses.first?.stringValue
            else { return }
            found = address
        }
        return found
    }
}
