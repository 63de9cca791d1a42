import ByteStrings

/// Targets that `per-node` places on a collector of their own node.
struct NodeLocal: Sendable {
    struct Entry: Sendable {
        var key: UInt64
        var node: String
        var weight: UInt32
        var collector: Int32
    }

    var entries: [TargetID: Entry] = [:]
    var byNode: [ByteKey: [Int]] = [:]
    var load: [UInt64] = []

    mutating func reset(_ cols: Collectors) {
        byNode = [:]
        for c in 0..<cols.count {
            if let node = cols.nodes[c], cols.weights[c] > 0 { byNode[ByteKey(node), default: []].append(c) }
        }
        // A node whose only collectors are drained (weight 0) still keeps its targets on them.
        for c in 0..<cols.count {
            if let node = cols.nodes[c], byNode[ByteKey(node)] == nil { byNode[ByteKey(node)] = [c] }
        }
        load = Array(repeating: 0, count: cols.count)
    }

    func place(_ key: UInt64, node: String?, _ cols: Collectors) -> Int? {
        guard let node, let candidates = byNode[ByteKey(node)] else { return nil }
        return cols.first(key, among: candidates)
    }

    mutating func insert(_ t: AllocationTarget, on c: Int) {
        let w = Core.weight(t.weight)
        entries[t.id] = Entry(key: t.key, node: t.node ?? "", weight: w, collector: Int32(c))
        load[c] += UInt64(w)
    }

    @discardableResult
    mutating func remove(_ id: TargetID) -> Entry? {
        guard let e = entries.removeValue(forKey: id) else { return nil }
        load[Int(e.collector)] -= UInt64(e.weight)
        return e
    }
}

/// Decides which collector scrapes which target. A value type: the leader keeps one and feeds
/// it changes; every method is deterministic and free of I/O.
///
/// - `consistent-hashing`: bounded-load rendezvous hashing (see `Core`). No collector holds more
///   than ⌈(1+ε)·W·w_c/Σw⌉ (W: total target weight, w_c: collector weight); the result is a
///   function of the collector set and the target set alone (order and history never matter);
///   a new collector takes about N/(M+1) targets, a removed one gives away its own.
/// - `least-weighted`: keeps every existing assignment, puts new targets (in id order) on the
///   collector with the least load per weight (ties: the name that sorts first), and moves
///   targets from the most to the least loaded collector while one is above ⌈(1+ε)·share⌉ or
///   below ⌊(1−ε)·share⌋, so new collectors get their share. Deterministic given the previous
///   assignment.
/// - `per-node`: a target with a node goes to a collector on that node (several there: rendezvous
///   among them); the others go through the fallback strategy over all collectors, never dropped.
public struct Allocator: Sendable {
    public let configuration: AllocatorConfiguration
    var cols: Collectors
    /// The whole allocation, or the fallback for `per-node`.
    var core: Core
    /// `per-node` only.
    var local: NodeLocal?
    /// `per-node` only: nodes of fallback targets that have one (they move home when a collector appears there).
    var fallbackNodes: [TargetID: String] = [:]

    public init(
        configuration: AllocatorConfiguration, collectors: [CollectorInfo], targets: [AllocationTarget],
        previous: [TargetID: String] = [:]
    ) {
        self.configuration = configuration
        cols = Collectors(collectors)
        let epsilon = configuration.effectiveEpsilon
        switch configuration.strategy {
        case .consistentHashing:
            core = Core(mode: .hashing, epsilon: epsilon)
            core.load(collectors: cols, targets: targets, previous: previous)
        case .leastWeighted:
            core = Core(mode: .leastWeighted, epsilon: epsilon)
            core.load(collectors: cols, targets: targets, previous: previous)
        case .perNode(let fallback):
            core = Core(mode: fallback == .leastWeighted ? .leastWeighted : .hashing, epsilon: epsilon)
            var local = NodeLocal()
            local.reset(cols)
            var rest: [AllocationTarget] = []
            // Duplicate ids: the last one wins.
            var last: [TargetID: Int] = [:]
            last.reserveCapacity(targets.count)
            for (i, t) in targets.enumerated() { last[t.id] = i }
            for (i, t) in targets.enumerated() where last[t.id] == i {
                if let c = local.place(t.key, node: t.node, cols) {
                    local.insert(t, on: c)
                } else {
                    rest.append(t)
                    if let node = t.node { fallbackNodes[t.id] = node }
                }
            }
            core.load(collectors: cols, targets: rest, previous: previous)
            self.local = local
        }
    }

    /// The collectors, sorted by name, duplicates merged.
    public var collectors: [CollectorInfo] {
        (0..<cols.count).map { CollectorInfo(name: cols.names[$0], node: cols.nodes[$0], weight: cols.weights[$0]) }
    }

    /// Number of targets.
    public var count: Int { core.count + (local?.entries.count ?? 0) }

    public func collector(for id: TargetID) -> String? {
        if let e = local?.entries[id] { return cols.names[Int(e.collector)] }
        return core.collector(of: id).map { cols.names[$0] }
    }

    /// Every assigned target and its collector.
    public var assignment: [TargetID: String] {
        var result: [TargetID: String] = [:]
        result.reserveCapacity(count)
        forEachAssignment { result[$0] = $1 }
        return result
    }

    /// Calls `body` for every assigned target (no particular order).
    public func forEachAssignment(_ body: (TargetID, String) -> Void) {
        for slot in core.slots where slot.collector >= 0 {
            body(TargetID(rawValue: slot.id), cols.names[Int(slot.collector)])
        }
        if let local {
            for (id, e) in local.entries { body(id, cols.names[Int(e.collector)]) }
        }
    }

    /// The targets of each collector, sorted by id; every collector is present.
    public var targetsByCollector: [String: [TargetID]] {
        var lists = [[TargetID]](repeating: [], count: cols.count)
        for slot in core.slots where slot.collector >= 0 { lists[Int(slot.collector)].append(TargetID(rawValue: slot.id)) }
        if let local {
            for (id, e) in local.entries { lists[Int(e.collector)].append(id) }
        }
        var result: [String: [TargetID]] = [:]
        for c in 0..<cols.count { result[cols.names[c]] = lists[c].sorted() }
        return result
    }

    /// Weighted load per collector; every collector is present.
    public var loads: [String: Int] {
        var result: [String: Int] = [:]
        for c in 0..<cols.count {
            result[cols.names[c]] = Int(core.load.isEmpty ? 0 : core.load[c]) + Int(local?.load[c] ?? 0)
        }
        return result
    }

    /// The most a collector may hold under the balance bound (consistent hashing, least-weighted
    /// and the fallback part of per-node); nil for an unknown collector.
    public func capacity(of collector: String) -> Int? {
        guard let c = cols.indexByName[ByteKey(collector)], c < core.caps.count else { return nil }
        return Int(core.caps[c])
    }

    /// An estimate of the memory the allocator holds, in bytes, from the capacities of its
    /// storage (per-target slots, the id index, the per-collector heaps).
    public var estimatedMemoryBytes: Int {
        var bytes = core.slots.capacity * MemoryLayout<Slot>.stride
        // Native dictionaries: key and value arrays plus a one-bit-per-bucket bitmap.
        bytes += core.index.capacity * (MemoryLayout<UInt64>.stride + MemoryLayout<Int32>.stride)
        bytes += core.free.capacity * MemoryLayout<Int32>.stride
        for heap in core.heaps { bytes += heap.capacity * MemoryLayout<Int32>.stride }
        for heap in core.rejected { bytes += heap.capacity * MemoryLayout<Rejected>.stride }
        if let local {
            bytes += local.entries.capacity * (MemoryLayout<TargetID>.stride + MemoryLayout<NodeLocal.Entry>.stride) * 4 / 3
        }
        return bytes
    }

    /// Targets without a collector (there are no collectors).
    public var unassignable: Int { cols.count == 0 ? count : 0 }

    /// `per-node` targets that went through the fallback strategy.
    public var fallbackCount: Int { local == nil ? 0 : core.count }

    /// The moves from `previous` to the current assignment (for example from a stored snapshot),
    /// sorted by target id. Targets in `previous` that no longer exist are not reported.
    public func moves(from previous: [TargetID: String]) -> [Move] {
        var moves: [Move] = []
        forEachAssignment { id, name in
            let was = previous[id]
            if !(was.map { $0.bytesEqual(name) } ?? false) { moves.append(Move(target: id, from: was, to: name)) }
        }
        return moves.sorted { $0.target < $1.target }
    }

    // MARK: changes

    /// Replaces the collector set. Returns the moves, sorted by target id.
    public mutating func setCollectors(_ collectors: [CollectorInfo]) -> [Move] {
        let newCols = Collectors(collectors)
        guard var local else {
            cols = newCols
            return core.setCollectors(newCols).sorted { $0.target < $1.target }
        }
        let before = assignment
        self.local = nil
        var toCore: [AllocationTarget] = []
        var kept: [(TargetID, NodeLocal.Entry)] = []
        let oldEntries = local.entries
        local.entries = [:]
        local.reset(newCols)
        for (id, e) in oldEntries {
            if local.place(e.key, node: e.node, newCols) != nil {
                kept.append((id, e))
            } else {
                toCore.append(AllocationTarget(id: id, key: e.key, node: e.node, weight: e.weight))
            }
        }
        var toLocal: [AllocationTarget] = []
        for (id, node) in fallbackNodes where local.place(0, node: node, newCols) != nil {
            guard let s = core.index[id] else { continue }
            let slot = core.slots[Int(s)]
            toLocal.append(AllocationTarget(id: id, key: slot.key, node: node, weight: slot.weight))
        }
        for t in toLocal { fallbackNodes[t.id] = nil }
        for t in toCore { fallbackNodes[t.id] = t.node }
        _ = core.update(added: toCore, removed: toLocal.map(\.id))
        _ = core.setCollectors(newCols)
        cols = newCols
        for (id, e) in kept {
            let t = AllocationTarget(id: id, key: e.key, node: e.node, weight: e.weight)
            local.insert(t, on: local.place(e.key, node: e.node, newCols)!)
        }
        for t in toLocal { local.insert(t, on: local.place(t.key, node: t.node, newCols)!) }
        self.local = local
        var moves: [Move] = []
        forEachAssignment { id, name in
            let was = before[id]
            if !(was.map { $0.bytesEqual(name) } ?? false) { moves.append(Move(target: id, from: was, to: name)) }
        }
        if cols.count == 0 {
            for (id, was) in before { moves.append(Move(target: id, from: was, to: nil)) }
        }
        return moves.sorted { $0.target < $1.target }
    }

    /// Adds (or changes) and removes targets. An id both removed and added is re-added. Returns the
    /// moves, sorted by target id: `from == nil` for new targets, `to == nil` for removed ones.
    public mutating func update(added: [AllocationTarget], removed: [TargetID]) -> [Move] {
        guard var local else {
            return core.update(added: added, removed: removed).sorted { $0.target < $1.target }
        }
        self.local = nil
        var before: [TargetID: String?] = [:]
        func name(_ id: TargetID) -> String? {
            if let e = local.entries[id] { return cols.names[Int(e.collector)] }
            return core.collector(of: id).map { cols.names[$0] }
        }
        for id in removed where before[id] == nil { before[id] = .some(name(id)) }
        for t in added where before[t.id] == nil { before[t.id] = .some(name(t.id)) }
        var coreRemoved: [TargetID] = []
        var coreAdded: [AllocationTarget] = []
        for id in removed {
            if local.remove(id) == nil {
                coreRemoved.append(id)
                fallbackNodes[id] = nil
            }
        }
        var last: [TargetID: Int] = [:]
        for (i, t) in added.enumerated() { last[t.id] = i }
        for (i, t) in added.enumerated() where last[t.id] == i {
            if let c = local.place(t.key, node: t.node, cols) {
                local.remove(t.id)
                local.insert(t, on: c)
                if core.index[t.id] != nil {
                    coreRemoved.append(t.id)
                    fallbackNodes[t.id] = nil
                }
            } else {
                local.remove(t.id)
                coreAdded.append(t)
                fallbackNodes[t.id] = t.node
            }
        }
        // Core applies removals before additions, so an id both removed and re-added stays.
        let coreMoves = core.update(added: coreAdded, removed: coreRemoved)
        self.local = local
        var moves: [Move] = []
        var seen = Set<TargetID>()
        for (id, was) in before {
            seen.insert(id)
            let now = collector(for: id)
            if was != now { moves.append(Move(target: id, from: was, to: now)) }
        }
        for m in coreMoves where !seen.contains(m.target) { moves.append(m) }
        return moves.sorted { $0.target < $1.target }
    }
}
