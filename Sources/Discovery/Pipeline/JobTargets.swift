import ByteStrings
import Allocation
import Snapshot

/// One job's targets, kept per target group so that a group's change costs that group only:
/// its targets are relabeled again and the job's targets change by the difference.
///
/// Several discovered targets with one identity (a multi-port pod relabeled to one address,
/// the same endpoint through two Services, ...) are one target, as upstream's allocator has
/// it: the candidate from the group whose key sorts first (then the earliest in that group)
/// is served, the others are counted as duplicates.
struct JobTargets {
    let builder: JobTargetBuilder
    /// Each group's kept targets, by `provider \0 source` (as bytes: two file-SD sources whose
    /// paths differ only in Unicode normalization are two groups).
    private var groups: [ByteKey: GroupTargets] = [:]
    /// The group keys each provider currently has (for its complete updates).
    private var sources: [String: Set<ByteKey>] = [:]
    /// Every candidate of each identity, ordered (group key, position).
    private var candidates: [TargetID: [Candidate]] = [:]
    /// Targets discovered before the filter (upstream's `opentelemetry_allocator_targets`).
    private(set) var discovered = 0
    /// Targets kept by the filter, duplicates included.
    private var kept = 0
    /// Providers that sent a complete update at least once.
    private(set) var reported: Set<String> = []

    struct GroupTargets {
        var targets: [ProcessedTarget]
        var discovered: Int
    }

    struct Candidate {
        var group: ByteKey
        var position: Int
        var target: ProcessedTarget

        func precedes(_ other: Candidate) -> Bool {
            group != other.group ? group < other.group : position < other.position
        }
    }

    init(builder: JobTargetBuilder) {
        self.builder = builder
    }

    /// Targets served: one per identity.
    var count: Int { candidates.count }
    /// Discovered targets collapsed into another with the same identity.
    var duplicates: Int { kept - candidates.count }

    /// The target served for `id`.
    func target(_ id: TargetID) -> ProcessedTarget? { candidates[id]?.first?.target }

    /// Every served target.
    func forEach(_ body: (TargetID, ProcessedTarget) -> Void) {
        for (id, list) in candidates { body(id, list[0].target) }
    }

    /// Applies one provider's update; `changed` receives the identities whose served target
    /// changed, appeared or disappeared.
    mutating func apply(_ update: GroupUpdate, names: inout NameInterner, changed: inout Set<TargetID>) {
        if update.complete {
            reported.insert(update.provider)
            let kept = Set(update.groups.map { Self.key(update.provider, $0.source) })
            for stale in (sources[update.provider] ?? []).subtracting(kept) { replace(stale, with: nil, changed: &changed) }
        }
        for group in update.groups {
            let key = Self.key(update.provider, group.source)
            if group.isEmpty {
                replace(key, with: nil, changed: &changed)
            } else {
                let (targets, count) = builder.targets(of: group, names: &names)
                replace(key, with: GroupTargets(targets: targets, discovered: count), changed: &changed)
            }
            if group.isEmpty {
                sources[update.provider]?.remove(key)
            } else {
                sources[update.provider, default: []].insert(key)
            }
        }
    }

    /// Drops everything (the job went away); `changed` gets every served identity.
    mutating func removeAll(changed: inout Set<TargetID>) {
        changed.formUnion(candidates.keys)
        self = JobTargets(builder: builder)
    }

    static func key(_ provider: String, _ source: String) -> ByteKey { ByteKey(provider + "\u{0}" + source) }

    private mutating func replace(_ key: ByteKey, with new: GroupTargets?, changed: inout Set<TargetID>) {
        let old = groups[key]
        if old == nil && new == nil { return }
        if let old, let new, old.discovered == new.discovered, old.targets.count == new.targets.count,
            zip(old.targets, new.targets).allSatisfy({ $0.same(as: $1) })
        {
            return
        }
        discovered += (new?.discovered ?? 0) - (old?.discovered ?? 0)
        kept += (new?.targets.count ?? 0) - (old?.targets.count ?? 0)
        groups[key] = new
        // The lists change in place in the table: a list taken out and put back is copied.
        for (position, target) in (old?.targets ?? []).enumerated() {
            guard let i = candidates[target.id]?.firstIndex(where: { $0.group == key && $0.position == position }) else { continue }
            if i == 0 { changed.insert(target.id) }
            if candidates[target.id]!.count == 1 {
                candidates[target.id] = nil
            } else {
                candidates[target.id]!.remove(at: i)
            }
        }
        for (position, target) in (new?.targets ?? []).enumerated() {
            let candidate = Candidate(group: key, position: position, target: target)
            let i = candidates[target.id].map { list in list.firstIndex { candidate.precedes($0) } ?? list.count } ?? 0
            candidates[target.id, default: []].insert(candidate, at: i)
            if i == 0 { changed.insert(target.id) }
        }
    }
}
