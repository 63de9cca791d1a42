import Foundation
import KubernetesEmulator
import SampleWorkload
import Snapshot

/// The figures, computed after the run from the emulator's audit log (commit times), the
/// captured snapshots and the replicas' `/status` samples.
struct Analysis {
    let settings: Settings
    let audit: [AuditEntry]
    let capture: SnapshotCapture
    let poller: StatusPoller

    private func isManifestWrite(_ e: AuditEntry) -> Bool {
        e.resource == "configmaps" && e.namespace == Settings.namespace && e.name == Settings.manifestName && e.verb != "delete"
    }

    private func isChunkWrite(_ e: AuditEntry) -> Bool {
        e.resource == "configmaps" && e.namespace == Settings.namespace && e.name.hasPrefix(Settings.manifestName + "-") && e.verb == "create"
    }

    var terms: [LeaseTerm] { audit.leaseTerms(namespace: Settings.namespace, name: Settings.leaseName) }

    /// Holder changes committed before `cutoff` (the first acquisition is not a change).
    func leadershipChanges(before cutoff: Date) -> [(from: String, to: LeaseTerm)] {
        audit.leadershipChanges(namespace: Settings.namespace, name: Settings.leaseName).filter { $0.to.writes[0].time < cutoff }
    }

    /// Renew latency: the gap between consecutive Lease writes of a holder (commit times)
    /// minus `retry_period`, for every renewal committed before `cutoff`, in milliseconds.
    func renewLatencies(before cutoff: Date) -> [Double] {
        terms.flatMap { term -> [Double] in
            let own = term.writes.filter { $0.identity == term.holder && $0.time < cutoff }
            return [AuditEntry].renewGaps(LeaseTerm(holder: term.holder, writes: own)).map { ms($0 - settings.retryPeriod) }
        }
    }

    /// Snapshot ConfigMap writes committed outside the writer's term (see `writesOutsideTerm`).
    var writesOutsideTerm: [WriteOutsideTerm] {
        audit.writesOutsideTerm(leaseNamespace: Settings.namespace, leaseName: Settings.leaseName, renewDeadline: settings.renewDeadline) {
            $0.resource == "configmaps" && $0.namespace == Settings.namespace && $0.name.hasPrefix(Settings.manifestName)
        }
    }

    /// The longest gap between `holder`'s own consecutive Lease writes that overlaps `from...to`.
    /// A holder that never renewed again after its last write before `to` (it stepped down)
    /// went without a renewal at least until `to`: that open gap counts too.
    func longestRenewGap(of holder: String, from: Date, to: Date) -> Duration? {
        let own = audit.filter { $0.resource.hasPrefix("leases.") && $0.name == Settings.leaseName && $0.identity == holder && $0.leaseHolder == holder }
        var gaps = zip(own, own.dropFirst()).filter { $0.time < to && $1.time > from }.map { Duration.microseconds($1.unixMicros - $0.unixMicros) }
        if let last = own.last, last.time < to {
            gaps.append(.microseconds(Int64(to.timeIntervalSince1970 * 1e6) - last.unixMicros))
        }
        return gaps.max()
    }

    /// The first manifest write after `time` that committed an epoch after `epoch`, and its version.
    func firstSnapshot(after time: Date, epochAfter epoch: UInt64) -> (entry: AuditEntry, version: Version)? {
        for entry in audit where entry.time > time && isManifestWrite(entry) {
            guard let version = capture.committed.first(where: { $0.manifest.metadata.resourceVersion == entry.resourceVersion })?.version
            else { continue }
            if version.epoch > epoch { return (entry, version) }
        }
        return nil
    }

    // MARK: - the committed generations

    /// What one committed generation held, as far as the figures need it.
    struct Generation {
        var version: Version
        var leader: String
        var committedAt: Date
        var targets: Int
        /// Holds every seeded scraped pod's target (the initial list's result).
        var holdsInitial: Bool
        /// Holds every target that exists throughout the run (seeded, scraped, never changed):
        /// a generation without them was built from an incomplete view and reflects nothing.
        var complete: Bool
    }

    struct Churn {
        /// Per change: write → the last follower serving a snapshot that reflects it (ms; infinity: never).
        var latencies: [Double] = []
        /// Per change reflected: write → the manifest write committing the generation (ms), the
        /// leader's part of the latency (the rest is the followers').
        var toCommit: [Double] = []
        var unwritten = 0
        var unreflected = 0
    }

    struct Scan {
        var generations: [Generation] = []
        var undecodable: [String] = []
        var churn = Churn()
    }

    /// Decodes every captured generation once, in order, and finds for each change its write's
    /// commit time, the first complete generation committed after it that reflects it, and when
    /// every replica other than that generation's writer first served it or a later one
    /// (`installed_at_millis`).
    /// - Parameter died: replicas killed during the run, and when; they are not waited for after that.
    func scan(workload: ScaleWorkload, plan: [PodChange], failed: [Int: String], replicas: [String], died: [String: Date]) -> Scan {
        var result = Scan()
        var writtenAt: [String: Date] = [:]
        for e in audit where e.identity == "loadgen" {
            writtenAt[auditKey(verb: e.verb, subresource: e.subresource, namespace: e.namespace, name: e.name)] = e.time
        }
        var pending: [[UInt8]: (k: Int, at: Date)] = [:]
        for (k, change) in plan.enumerated() {
            guard failed[k] == nil, let at = writtenAt[change.auditKey] else {
                result.churn.unwritten += 1
                continue
            }
            pending[change.address] = (k, at)
        }
        let initial = (0..<workload.pods).filter { workload.isScraped(seeded: $0) }.map { Array(workload.address(of: $0).utf8) }
        let changed = Set(plan.map(\.address))
        let stable = initial.filter { !changed.contains($0) }
        let manifestTimes = Dictionary(audit.filter(isManifestWrite).map { ($0.resourceVersion, $0.time) }, uniquingKeysWith: { a, _ in a })
        var reflectedIn: [Int: (generation: Generation, at: Date)] = [:]
        capture.states { committed, decoded in
            let snapshot: Snapshot
            switch decoded {
            case .success(let s): snapshot = s
            case .failure(let error):
                result.undecodable.append("\(committed.version): \(error)")
                return
            }
            var present = Set<[UInt8]>(minimumCapacity: snapshot.targets.count)
            for t in snapshot.targets { if let a = address(t) { present.insert(a) } }
            let generation = Generation(
                version: committed.version, leader: committed.leader,
                committedAt: committed.manifest.metadata.resourceVersion.flatMap { manifestTimes[$0] } ?? .distantFuture,
                targets: snapshot.targets.count, holdsInitial: initial.allSatisfy(present.contains), complete: stable.allSatisfy(present.contains))
            result.generations.append(generation)
            guard generation.complete else { return }
            for (address, change) in pending where change.at <= generation.committedAt {
                if present.contains(address) == plan[change.k].addsTarget {
                    reflectedIn[change.k] = (generation, change.at)
                    pending[address] = nil
                }
            }
        }
        result.churn.unreflected = pending.count
        for _ in pending { result.churn.latencies.append(.infinity) }
        for (_, hit) in reflectedIn {
            result.churn.toCommit.append(hit.generation.committedAt.timeIntervalSince(hit.at) * 1000)
            var worst = 0.0
            for identity in replicas where identity != hit.generation.leader && (died[identity].map { $0 > hit.generation.committedAt } ?? true) {
                guard let served = poller.firstServing(identity, atLeast: hit.generation.version) else {
                    worst = .infinity
                    break
                }
                worst = max(worst, served.installedAt.timeIntervalSince(hit.at) * 1000)
            }
            result.churn.latencies.append(worst)
        }
        return result
    }

    // MARK: - initial list

    struct Initial {
        var leader: String
        var termStart: Date
        /// The first generation holding every seeded scraped pod.
        var complete: Generation
        /// Generations its writer committed before that one in the same term (incomplete ones).
        var earlier: [Generation]
    }

    /// The first generation that holds the initial list's result, and the start of its writer's term.
    func initial(_ generations: [Generation]) -> Initial? {
        guard let complete = generations.first(where: \.holdsInitial),
            let term = terms.last(where: { $0.holder == complete.leader && $0.writes[0].time <= complete.committedAt })
        else { return nil }
        let earlier = generations.filter { $0.leader == complete.leader && $0.version.epoch == complete.version.epoch && $0.version < complete.version }
        return Initial(leader: complete.leader, termStart: term.writes[0].time, complete: complete, earlier: earlier)
    }

    // MARK: - failover

    struct Failover {
        var takeover: AuditEntry?
        var firstChunk: AuditEntry?
        var firstManifest: AuditEntry?
        /// The last generation of the killed leader's term, and the new epoch's generations compared with it.
        var before: Version?
        var after: [Version] = []
        /// Targets of the last generation before the kill also found after it.
        var compared = 0
        /// Distinct targets on another collector in any generation of the new epoch.
        var moved = 0
        var onlyBefore = 0
        var onlyAfter = 0
        var problem: String?
    }

    /// After `killed` died at `killedAt`: who took the Lease and wrote first, and which targets
    /// changed collector between the last generation of the killed leader's term and any
    /// generation of the new epoch (a new term's first write is the committed state again, an
    /// empty delta; moves would come with the writes after the new leader's own discovery).
    func failover(killed: String, at killedAt: Date, before: Version?) -> Failover {
        var f = Failover()
        let after = audit.filter { $0.time >= killedAt && $0.identity != killed }
        f.takeover = after.first { $0.resource.hasPrefix("leases.") && $0.leaseHolder == $0.identity && !$0.identity.isEmpty }
        if let leader = f.takeover?.identity {
            f.firstChunk = after.first { $0.identity == leader && isChunkWrite($0) }
            f.firstManifest = after.first { $0.identity == leader && isManifestWrite($0) }
        }
        guard let before, let last = capture.committed.last(where: { $0.version.epoch <= before.epoch })?.version,
            capture.committed.contains(where: { $0.version.epoch > before.epoch })
        else {
            f.problem = "no committed snapshot on both sides of the kill"
            return f
        }
        f.before = last
        var placed: [[UInt8]: [UInt8]] = [:]
        var moved = Set<[UInt8]>()
        var seen = Set<[UInt8]>()
        var onlyAfter = Set<[UInt8]>()
        capture.states(from: last) { committed, decoded in
            guard f.problem == nil, committed.version == last || committed.version.epoch > before.epoch else { return }
            let snapshot: Snapshot
            switch decoded {
            case .success(let s): snapshot = s
            case .failure(let error):
                f.problem = "\(committed.version) does not decode: \(error)"
                return
            }
            if committed.version == last {
                for t in snapshot.targets { placed[address(t) ?? []] = Array((t.collector ?? "").utf8) }
                return
            }
            f.after.append(committed.version)
            for t in snapshot.targets {
                let address = address(t) ?? []
                guard let was = placed[address] else {
                    onlyAfter.insert(address)
                    continue
                }
                seen.insert(address)
                if was != Array((t.collector ?? "").utf8) { moved.insert(address) }
            }
        }
        f.compared = seen.count
        f.moved = moved.count
        f.onlyBefore = placed.count - seen.count
        f.onlyAfter = onlyAfter.count
        return f
    }
}

/// A target's `__address__` label, as bytes (labels are compared as bytes, never as Strings).
func address(_ target: Target) -> [UInt8]? {
    target.labels.first { $0.name.utf8.elementsEqual("__address__".utf8) }.map { Array($0.value.utf8) }
}
