import ByteStrings

/// Per-target state, 40 bytes.
struct Slot: Sendable {
    var id: UInt64
    var key: UInt64
    /// Global priority (consistent hashing: `mix64(key ^ prioritySalt)`; least-weighted: 0, so id order).
    var prio: UInt64
    var weight: UInt32
    /// ≥ 0: collector index; −1: no collector; −2: free slot.
    var collector: Int32
    /// Position in the collector's heap.
    var pos: Int32
}

/// A lazily validated entry of a collector's "rejected" heap.
struct Rejected: Sendable {
    var prio: UInt64
    var id: UInt64
    var slot: Int32
}

/// The engine shared by `consistent-hashing` and `least-weighted`: target storage, per-collector
/// heaps and loads, capacities.
///
/// Consistent hashing (bounded-load rendezvous). Each target ranks the collectors by rendezvous
/// score (`Collectors.score`). Each target also has a global priority. The assignment is defined
/// as the result of this greedy process: take targets from the highest priority down; give each
/// to the first collector in its ranking whose load so far is below its capacity
/// `cap = ⌈(1+ε)·W·w_c/Σw⌉` (W = total target weight). Because every collector ranks targets by the
/// same global priority, this is the unique stable assignment: for each collector `c`, the
/// targets that reached `c` in their ranking ("candidates") sorted by priority, `c` accepts the
/// shortest prefix whose weight reaches `cap` and rejects the rest, which walk on. The engine
/// keeps, per collector, the accepted set (an indexed min-heap by priority) and the rejected
/// set (a lazily validated max-heap), and restores that local condition after any change with a
/// work list. Any order of local repairs ends in the same unique fixpoint, so the result is a
/// function of the inputs alone while a change of k targets costs O(k·(M + log n)) plus the moves
/// it causes.
struct Core: Sendable {
    enum Mode: Sendable { case hashing, leastWeighted }
    static let prioritySalt: UInt64 = 0x243F_6A88_85A3_08D3

    let mode: Mode
    let epsilon: Double
    var cols = Collectors()
    var caps: [UInt64] = []
    var floors: [UInt64] = []

    var slots: [Slot] = []
    var index = IDTable()
    var free: [Int32] = []
    var totalWeight: UInt64 = 0

    var heaps: [[Int32]] = []
    var load: [UInt64] = []
    var rejected: [[Rejected]] = []
    var rejectedLimit: [Int] = []
    var dirty: [Bool] = []
    var work: [Int] = []
    /// Collector of each touched slot before the current operation (−1: none).
    var origin: [Int32: Int32] = [:]

    init(mode: Mode, epsilon: Double) {
        self.mode = mode
        self.epsilon = epsilon
    }

    var count: Int { index.count }
    var unassignable: Int { cols.count == 0 ? index.count : 0 }

    func collector(of id: TargetID) -> Int? {
        guard let s = index[id] else { return nil }
        let c = slots[Int(s)].collector
        return c >= 0 ? Int(c) : nil
    }

    func priority(key: UInt64) -> UInt64 {
        mode == .hashing ? mix64(key ^ Core.prioritySalt) : 0
    }

    static func weight(_ w: UInt32) -> UInt32 { w == 0 ? 1 : w }

    // MARK: capacities

    /// Recomputes caps and floors; marks collectors whose cap changed dirty.
    mutating func recomputeCapacities() {
        let m = cols.count
        if caps.count != m {
            caps = Array(repeating: 0, count: m)
            floors = Array(repeating: 0, count: m)
        }
        let total = Double(totalWeight)
        for c in 0..<m {
            let share = total * cols.weights[c] / cols.totalWeight
            let cap = Core.ceiling((1 + epsilon) * share - 1e-9)
            let floor = Core.floor((1 - epsilon) * share + 1e-9)
            if cap != caps[c] {
                caps[c] = cap
                markDirty(c)
            }
            floors[c] = floor
        }
    }

    /// ⌈x⌉ for x ≥ 0 (0 below), without libm.
    static func ceiling(_ x: Double) -> UInt64 {
        guard x > 0 else { return 0 }
        let t = UInt64(x)
        return Double(t) < x ? t + 1 : t
    }

    /// ⌊x⌋ for x ≥ 0 (0 below), without libm.
    static func floor(_ x: Double) -> UInt64 { x > 0 ? UInt64(x) : 0 }

    // MARK: slots

    mutating func newSlot(_ t: AllocationTarget) -> Int32 {
        let slot = Slot(
            id: t.id.rawValue, key: t.key, prio: priority(key: t.key), weight: Core.weight(t.weight),
            collector: -1, pos: -1)
        let s: Int32
        if let reused = free.popLast() {
            s = reused
            slots[Int(s)] = slot
        } else {
            s = Int32(slots.count)
            slots.append(slot)
        }
        index[t.id] = s
        return s
    }

    // MARK: accepted heaps (min-heaps by (prio, id))

    @inline(__always) func lower(_ a: Int32, _ b: Int32) -> Bool {
        let pa = slots[Int(a)].prio
        let pb = slots[Int(b)].prio
        return pa < pb || (pa == pb && slots[Int(a)].id < slots[Int(b)].id)
    }

    mutating func siftUp(_ c: Int, _ start: Int) {
        var i = start
        let s = heaps[c][i]
        while i > 0 {
            let p = (i - 1) >> 1
            let ps = heaps[c][p]
            guard lower(s, ps) else { break }
            heaps[c][i] = ps
            slots[Int(ps)].pos = Int32(i)
            i = p
        }
        heaps[c][i] = s
        slots[Int(s)].pos = Int32(i)
    }

    mutating func siftDown(_ c: Int, _ start: Int) {
        let n = heaps[c].count
        var i = start
        let s = heaps[c][i]
        while true {
            let l = 2 * i + 1
            guard l < n else { break }
            var child = l
            var cs = heaps[c][l]
            if l + 1 < n {
                let rs = heaps[c][l + 1]
                if lower(rs, cs) {
                    child = l + 1
                    cs = rs
                }
            }
            guard lower(cs, s) else { break }
            heaps[c][i] = cs
            slots[Int(cs)].pos = Int32(i)
            i = child
        }
        heaps[c][i] = s
        slots[Int(s)].pos = Int32(i)
    }

    mutating func heapify(_ c: Int) {
        let n = heaps[c].count
        for i in 0..<n { slots[Int(heaps[c][i])].pos = Int32(i) }
        var i = n / 2 - 1
        while i >= 0 {
            siftDown(c, i)
            i -= 1
        }
    }

    /// Puts slot `s` on collector `c`.
    mutating func attach(_ s: Int32, _ c: Int) {
        slots[Int(s)].collector = Int32(c)
        heaps[c].append(s)
        siftUp(c, heaps[c].count - 1)
        load[c] += UInt64(slots[Int(s)].weight)
    }

    /// Takes slot `s` off its collector (if any) and marks that collector dirty.
    mutating func detach(_ s: Int32) {
        let c32 = slots[Int(s)].collector
        guard c32 >= 0 else { return }
        let c = Int(c32)
        let i = Int(slots[Int(s)].pos)
        let last = heaps[c].removeLast()
        if i < heaps[c].count {
            heaps[c][i] = last
            slots[Int(last)].pos = Int32(i)
            siftDown(c, i)
            siftUp(c, Int(slots[Int(last)].pos))
        }
        load[c] -= UInt64(slots[Int(s)].weight)
        slots[Int(s)].collector = -1
        markDirty(c)
    }

    @inline(__always) mutating func markDirty(_ c: Int) {
        if mode == .hashing, !dirty[c] {
            dirty[c] = true
            work.append(c)
        }
    }

    @inline(__always) mutating func noteOrigin(_ s: Int32) {
        if origin[s] == nil { origin[s] = slots[Int(s)].collector }
    }

    // MARK: rejected heaps (max-heaps by (prio, id), lazily validated)

    @inline(__always) static func higher(_ a: Rejected, _ b: Rejected) -> Bool {
        a.prio > b.prio || (a.prio == b.prio && a.id > b.id)
    }

    mutating func pushRejected(_ c: Int, _ s: Int32) {
        let e = Rejected(prio: slots[Int(s)].prio, id: slots[Int(s)].id, slot: s)
        rejected[c].append(e)
        var i = rejected[c].count - 1
        while i > 0 {
            let p = (i - 1) >> 1
            guard Core.higher(e, rejected[c][p]) else { break }
            rejected[c][i] = rejected[c][p]
            i = p
        }
        rejected[c][i] = e
    }

    mutating func popRejected(_ c: Int) {
        let last = rejected[c].removeLast()
        let n = rejected[c].count
        guard n > 0 else { return }
        var i = 0
        while true {
            let l = 2 * i + 1
            guard l < n else { break }
            var child = l
            if l + 1 < n, Core.higher(rejected[c][l + 1], rejected[c][l]) { child = l + 1 }
            guard Core.higher(rejected[c][child], last) else { break }
            rejected[c][i] = rejected[c][child]
            i = child
        }
        rejected[c][i] = last
    }

    /// Whether `e` is still a rejected candidate of `c`: the target exists, is assigned, and ranks
    /// `c` before its collector.
    @inline(__always) func isRejected(_ e: Rejected, by c: Int) -> Bool {
        let slot = slots[Int(e.slot)]
        return slot.id == e.id && slot.prio == e.prio && slot.collector >= 0
            && cols.prefers(slot.key, c, over: Int(slot.collector))
    }

    /// The highest-priority target `c` rejects, dropping stale entries.
    mutating func topRejected(_ c: Int) -> Int32? {
        while let top = rejected[c].first {
            if isRejected(top, by: c) { return top.slot }
            popRejected(c)
        }
        return nil
    }

    /// Drops stale and duplicate entries of rejected heaps that grew past their limit.
    mutating func compactRejected() {
        for c in 0..<cols.count where rejected[c].count > rejectedLimit[c] {
            var seen = Set<Int32>()
            var kept: [Rejected] = []
            for e in rejected[c] where isRejected(e, by: c) && seen.insert(e.slot).inserted { kept.append(e) }
            kept.sort { Core.higher($0, $1) }  // a sorted array is a valid max-heap
            rejected[c] = kept
            rejectedLimit[c] = max(64, 2 * kept.count)
        }
    }

    // MARK: consistent hashing

    /// Offers slot `s` to collectors in its ranking order starting at `start`.
    mutating func walk(_ s: Int32, from start: Int) {
        var c = start
        let key = slots[Int(s)].key
        while true {
            // A clean collector is stable: if it is full and `s` ranks below all it holds, it rejects `s`.
            if !dirty[c], load[c] >= caps[c], heaps[c].isEmpty || lower(s, heaps[c][0]) {
                pushRejected(c, s)
                if let n = cols.next(key, after: c) {
                    c = n
                    continue
                }
                // Unreachable while Σcap ≥ W; keep the target somewhere rather than lose it.
                var best = 0
                for d in 1..<cols.count where caps[d] &- load[d] > caps[best] &- load[best] { best = d }
                attach(s, best)
                return
            }
            attach(s, c)
            markDirty(c)
            return
        }
    }

    /// Restores the local condition at `c`: it accepts exactly the shortest priority-prefix of its
    /// candidates whose weight reaches its capacity.
    mutating func repair(_ c: Int) {
        dirty[c] = false
        let cap = caps[c]
        // 1. A rejected candidate above the lowest accepted one gets in (the lowest is evicted below).
        while let r = topRejected(c), let m = heaps[c].first, lower(m, r) {
            popRejected(c)
            admit(r, c)
        }
        // 2. Evict while the prefix without its lowest member already reaches the capacity.
        while let m = heaps[c].first, load[c] - UInt64(slots[Int(m)].weight) >= cap {
            noteOrigin(m)
            detach(m)
            dirty[c] = false  // detach marked it; this loop is the repair
            if let last = work.last, last == c { work.removeLast() }
            pushRejected(c, m)
            if let n = cols.next(slots[Int(m)].key, after: c) {
                walk(m, from: n)
            } else {
                attach(m, c)  // unreachable while Σcap ≥ W
                break
            }
        }
        // 3. Fill up from the rejected ones while below capacity.
        while load[c] < cap, let r = topRejected(c) {
            popRejected(c)
            admit(r, c)
        }
    }

    /// Moves slot `s` (rejected by `c`) onto `c`.
    mutating func admit(_ s: Int32, _ c: Int) {
        noteOrigin(s)
        detach(s)
        attach(s, c)
    }

    mutating func drain() {
        while let c = work.popLast() {
            if dirty[c] { repair(c) }
        }
        compactRejected()
    }

    /// Full computation for consistent hashing: everyone on their first choice, then repair.
    mutating func rebuildHashing() {
        let m = cols.count
        heaps = Array(repeating: [], count: m)
        load = Array(repeating: 0, count: m)
        rejected = Array(repeating: [], count: m)
        rejectedLimit = Array(repeating: 64, count: m)
        dirty = Array(repeating: false, count: m)
        work = []
        recomputeCapacities()
        guard m > 0 else {
            for s in slots.indices where slots[s].collector != -2 { slots[s].collector = -1 }
            return
        }
        var firsts = [Int32](repeating: -1, count: slots.count)
        var counts = [Int](repeating: 0, count: m)
        for s in slots.indices where slots[s].collector != -2 {
            let c = cols.first(slots[s].key)
            firsts[s] = Int32(c)
            counts[c] += 1
        }
        for c in 0..<m { heaps[c].reserveCapacity(counts[c] + counts[c] / 8 + 8) }
        for s in slots.indices where firsts[s] >= 0 {
            let c = Int(firsts[s])
            slots[s].collector = Int32(c)
            heaps[c].append(Int32(s))
            load[c] += UInt64(slots[s].weight)
        }
        for c in 0..<m {
            heapify(c)
            markDirty(c)
        }
        drain()
    }

    // MARK: least-weighted

    /// The least-loaded collector relative to its weight; ties go to the name that sorts first.
    /// Ordering used by the placement heap: less loaded, then lower index.
    @inline(__always) func placesBefore(_ a: Int, _ b: Int) -> Bool {
        lessLoaded(a, than: b) || (!lessLoaded(b, than: a) && a < b)
    }

    func leastLoaded() -> Int {
        var best = -1
        for c in 0..<cols.count where cols.weights[c] > 0 {
            if best < 0 || lessLoaded(c, than: best) { best = c }
        }
        return best
    }

    @inline(__always) func lessLoaded(_ a: Int, than b: Int) -> Bool {
        if cols.uniform { return load[a] < load[b] }
        return Double(load[a]) * cols.weights[b] < Double(load[b]) * cols.weights[a]
    }

    /// Moves targets from the most to the least loaded collector while one is above its cap or
    /// below its floor and the move narrows the gap. Moves the lowest target id of the source.
    mutating func rebalanceLeastWeighted() {
        let m = cols.count
        guard m > 1 else { return }
        var budget = index.count + m
        while budget > 0 {
            budget -= 1
            var hi = -1
            for c in 0..<m where !heaps[c].isEmpty {
                if hi < 0 { hi = c; continue }
                let drainC = cols.weights[c] == 0, drainH = cols.weights[hi] == 0
                if drainC != drainH {
                    if drainC { hi = c }
                } else if !drainC, lessLoaded(hi, than: c) {
                    hi = c
                }
            }
            let lo = leastLoaded()
            guard hi >= 0, lo >= 0, hi != lo else { return }
            guard load[hi] > caps[hi] || load[lo] < floors[lo] else { return }
            let s = heaps[hi][0]
            let w = UInt64(slots[Int(s)].weight)
            if cols.weights[hi] > 0 {
                let after = Double(load[hi] - w) / cols.weights[hi]
                let target = Double(load[lo] + w) / cols.weights[lo]
                guard after >= target else { return }
            }
            noteOrigin(s)
            detach(s)
            attach(s, lo)
        }
    }

    /// Places unassigned slots (in id order) on the least-loaded collectors.
    mutating func placeLeastWeighted(_ pending: [Int32]) {
        guard cols.count > 0 else { return }
        let ordered = pending.sorted { slots[Int($0)].id < slots[Int($1)].id }
        guard ordered.count > 8 else {
            for s in ordered { attach(s, leastLoaded()) }
            return
        }
        // A min-heap of collectors by (load per weight, index): only the root changes per step.
        var heap = (0..<cols.count).filter { cols.weights[$0] > 0 }.sorted { placesBefore($0, $1) }
        for s in ordered {
            let c = heap[0]
            attach(s, c)
            var i = 0
            let n = heap.count
            while true {
                let l = 2 * i + 1
                guard l < n else { break }
                var child = l
                if l + 1 < n, placesBefore(heap[l + 1], heap[l]) { child = l + 1 }
                guard placesBefore(heap[child], c) else { break }
                heap[i] = heap[child]
                i = child
            }
            heap[i] = c
        }
    }

    /// Full computation for least-weighted: keep `keep[s]` (a collector index or −1), place the rest.
    mutating func rebuildLeastWeighted(keep: [Int32]) {
        let m = cols.count
        heaps = Array(repeating: [], count: m)
        load = Array(repeating: 0, count: m)
        rejected = Array(repeating: [], count: m)
        rejectedLimit = Array(repeating: 64, count: m)
        dirty = Array(repeating: false, count: m)
        work = []
        var pending: [Int32] = []
        for s in slots.indices where slots[s].collector != -2 {
            let c = s < keep.count ? keep[s] : -1
            if m > 0, c >= 0, cols.weights[Int(c)] > 0 {
                slots[s].collector = c
                heaps[Int(c)].append(Int32(s))
                load[Int(c)] += UInt64(slots[s].weight)
            } else {
                slots[s].collector = -1
                pending.append(Int32(s))
            }
        }
        for c in 0..<m { heapify(c) }
        recomputeCapacities()
        work = []
        for c in 0..<m { dirty[c] = false }
        placeLeastWeighted(pending)
        rebalanceLeastWeighted()
    }

    // MARK: operations

    /// Seeds the engine: consistent hashing ignores `previous` (its result is a function of the
    /// inputs); least-weighted keeps every previous assignment to a collector that still exists.
    mutating func load(collectors: Collectors, targets: [AllocationTarget], previous: [TargetID: String]) {
        cols = collectors
        slots.reserveCapacity(slots.count + targets.count)
        index.reserveCapacity(index.count + targets.count)
        for t in targets {
            if let s = index[t.id] {
                slots[Int(s)].key = t.key
                slots[Int(s)].prio = priority(key: t.key)
                slots[Int(s)].weight = Core.weight(t.weight)
            } else {
                _ = newSlot(t)
            }
        }
        totalWeight = slots.reduce(0) { $0 + ($1.collector == -2 ? 0 : UInt64($1.weight)) }
        switch mode {
        case .hashing:
            rebuildHashing()
        case .leastWeighted:
            var keep = [Int32](repeating: -1, count: slots.count)
            for s in slots.indices where slots[s].collector != -2 {
                if let name = previous[TargetID(rawValue: slots[s].id)], let c = cols.indexByName[ByteKey(name)] {
                    keep[s] = Int32(c)
                }
            }
            rebuildLeastWeighted(keep: keep)
        }
    }

    /// Replaces the collector set; returns the moves (by name).
    mutating func setCollectors(_ collectors: Collectors) -> [Move] {
        let oldNames = cols.names
        var before = [Int32](repeating: -1, count: slots.count)
        for s in slots.indices where slots[s].collector >= 0 {
            before[s] = slots[s].collector
        }
        // Old index → new index.
        let remap = oldNames.map { Int32(collectors.indexByName[ByteKey($0)] ?? -1) }
        var keep = before
        for s in keep.indices where keep[s] >= 0 { keep[s] = remap[Int(keep[s])] }
        cols = collectors
        switch mode {
        case .hashing: rebuildHashing()
        case .leastWeighted: rebuildLeastWeighted(keep: keep)
        }
        var moves: [Move] = []
        for s in slots.indices where slots[s].collector != -2 {
            let now = slots[s].collector
            if before[s] >= 0 ? (keep[s] >= 0 && keep[s] == now) : now < 0 { continue }
            moves.append(
                Move(
                    target: TargetID(rawValue: slots[s].id),
                    from: before[s] >= 0 ? oldNames[Int(before[s])] : nil,
                    to: now >= 0 ? cols.names[Int(now)] : nil))
        }
        return moves
    }

    /// Applies a target change. `added` must not contain duplicate ids.
    mutating func update(added: [AllocationTarget], removed: [TargetID]) -> [Move] {
        origin = [:]
        var moves: [Move] = []
        var freed: [Int32] = []
        let m = cols.count
        // New total weight first, so capacities are final before anything is placed.
        var removing: [Int32] = []
        for id in removed {
            if let s = index.removeValue(forKey: id) {
                removing.append(s)
                totalWeight -= UInt64(slots[Int(s)].weight)
            }
        }
        var changed: [(Int32?, AllocationTarget)] = []
        var last: [TargetID: Int] = [:]
        if added.count > 1 { for (i, t) in added.enumerated() { last[t.id] = i } }
        for (i, t) in added.enumerated() {
            if added.count > 1, last[t.id] != i { continue }  // duplicate ids: the last one wins
            if let s = index[t.id] {
                let slot = slots[Int(s)]
                if slot.key == t.key && slot.weight == Core.weight(t.weight) { continue }
                totalWeight -= UInt64(slot.weight)
                changed.append((s, t))
            } else {
                changed.append((nil, t))
            }
            totalWeight += UInt64(Core.weight(t.weight))
        }
        if m > 0 { recomputeCapacities() }
        for s in removing {
            let c = slots[Int(s)].collector
            if c >= 0 {
                moves.append(Move(target: TargetID(rawValue: slots[Int(s)].id), from: cols.names[Int(c)], to: nil))
                detach(s)
            }
            slots[Int(s)].collector = -2
            freed.append(s)
        }
        var fresh: [Int32] = []
        for (existing, t) in changed {
            let s: Int32
            if let existing {
                s = existing
                noteOrigin(s)
                detach(s)
                slots[Int(s)].key = t.key
                slots[Int(s)].prio = priority(key: t.key)
                slots[Int(s)].weight = Core.weight(t.weight)
            } else {
                s = newSlot(t)
                origin[s] = -1
            }
            fresh.append(s)
        }
        if m > 0 {
            switch mode {
            case .hashing:
                for s in fresh { walk(s, from: cols.first(slots[Int(s)].key)) }
                drain()
            case .leastWeighted:
                work = []
                for c in 0..<m { dirty[c] = false }
                placeLeastWeighted(fresh)
                rebalanceLeastWeighted()
            }
        }
        for (s, was) in origin {
            let now = slots[Int(s)].collector
            guard now != -2, now != was else { continue }
            moves.append(
                Move(
                    target: TargetID(rawValue: slots[Int(s)].id),
                    from: was >= 0 ? cols.names[Int(was)] : nil,
                    to: now >= 0 ? cols.names[Int(now)] : nil))
        }
        origin = [:]
        free.append(contentsOf: freed)
        return moves
    }
}
