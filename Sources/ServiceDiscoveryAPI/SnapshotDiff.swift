import ByteStrings
/// What changed between two snapshots a replica installed, target by target: one merge walk
/// over both indexes in fingerprint order, O(targets) with integer compares only.
struct SnapshotDiff: Sendable, Equatable {
    struct Change: Sendable, Equatable {
        let job: String
        let address: String
        /// nil: no collector (unassigned) or not in that snapshot.
        let from: String?
        let to: String?
        /// The target's `target_hash`, for a link; nil when it is gone.
        let fingerprint: UInt64?
    }

    var added = 0
    var removed = 0
    /// Targets in both whose collector changed (to or from none included).
    var moved = 0
    var collectorsAdded: [String] = []
    var collectorsRemoved: [String] = []
    /// A few examples of each kind, for the page.
    var samples: [Change] = []

    static let samplesPerKind = 3

    var isEmpty: Bool { added == 0 && removed == 0 && moved == 0 && collectorsAdded.isEmpty && collectorsRemoved.isEmpty }

    init() {}

    init(from old: TargetIndex, to new: TargetIndex) {
        // Collector names are sorted by bytes in both: map old indices to new ones by a merge.
        var oldToNew = [Int32](repeating: -1, count: old.collectors.count)
        var i = 0
        var j = 0
        while i < old.collectors.count || j < new.collectors.count {
            if j == new.collectors.count || i < old.collectors.count && old.collectors[i].bytesPrecede(new.collectors[j]) {
                collectorsRemoved.append(old.collectors[i])
                i += 1
            } else if i == old.collectors.count || new.collectors[j].bytesPrecede(old.collectors[i]) {
                collectorsAdded.append(new.collectors[j])
                j += 1
            } else {
                oldToNew[i] = Int32(j)
                i += 1
                j += 1
            }
        }

        var addedSamples: [Change] = []
        var removedSamples: [Change] = []
        var movedSamples: [Change] = []
        func name(_ index: TargetIndex, _ c: Int32) -> String? { c < 0 ? nil : index.collectors[Int(c)] }
        i = 0
        j = 0
        let a = old.byFingerprint
        let b = new.byFingerprint
        while i < a.count || j < b.count {
            let x = i < a.count ? old.fingerprint[Int(a[i])] : UInt64.max
            let y = j < b.count ? new.fingerprint[Int(b[j])] : UInt64.max
            if j == b.count || i < a.count && x < y {
                removed += 1
                if removedSamples.count < Self.samplesPerKind {
                    let e = Int(a[i])
                    removedSamples.append(
                        Change(job: old.jobs[old.job(of: e)], address: old.address(e), from: name(old, old.collector[e]), to: nil, fingerprint: nil))
                }
                i += 1
            } else if i == a.count || y < x {
                added += 1
                if addedSamples.count < Self.samplesPerKind {
                    let e = Int(b[j])
                    addedSamples.append(
                        Change(job: new.jobs[new.job(of: e)], address: new.address(e), from: nil, to: name(new, new.collector[e]), fingerprint: y))
                }
                j += 1
            } else {
                let before = old.collector[Int(a[i])]
                let after = new.collector[Int(b[j])]
                if (before < 0 ? -1 : oldToNew[Int(before)]) != after || before >= 0 && after < 0 {
                    moved += 1
                    if movedSamples.count < Self.samplesPerKind {
                        let e = Int(b[j])
                        movedSamples.append(
                            Change(job: new.jobs[new.job(of: e)], address: new.address(e), from: name(old, before), to: name(new, after), fingerprint: y))
                    }
                }
                i += 1
                j += 1
            }
        }
        samples = movedSamples + addedSamples + removedSamples
    }
}
