import ByteStrings

/// One label. Names and values compare byte-wise (UTF-8), like Prometheus.
public struct Label: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    public static func == (a: Label, b: Label) -> Bool {
        a.name.bytesEqual(b.name) && a.value.bytesEqual(b.value)
    }

    public var description: String { "\(name)=\(value.debugDescription)" }
}

/// A mutable label set with the semantics of Prometheus's `labels.Builder`:
/// an immutable sorted base plus an ordered list of additions and a list of deletions.
///
/// - An empty value means "absent": `set(name, "")` deletes, and empty-valued input labels are dropped.
/// - `forEach` visits a snapshot: unchanged base labels in name order, then added/changed labels in the
///   order they were first set. (This order decides which label wins when `labelmap` maps two labels
///   to one name, exactly as in Prometheus.)
/// - `labels()` returns the result sorted by name (byte order).
///
/// Prometheus skips a base label whose name is in the additions or the deletions, testing both lists
/// for every base label. Here a base label is marked `shadowed` when its name is first set or
/// deleted; a name never leaves both lists again (a delete moves it from one to the other, a set
/// never clears a delete), so the mark is the same test, made once. Lookups are a binary search in
/// the base plus a short linear scan of the additions, so a builder is cheap to reuse for every
/// target: build it once per target and run all rules on it.
public struct LabelBuilder: Sendable {
    private(set) var base: [Label]
    private var added: [Label] = []
    /// Per base label: its name has been set or deleted since.
    private var shadowed: [Bool]

    /// `labels` may be in any order. Duplicate names: the last one wins. Empty values are dropped.
    public init(_ labels: [Label]) {
        var ls = labels
        if ls.contains(where: { $0.value.isEmpty }) { ls.removeAll { $0.value.isEmpty } }
        if !Self.isStrictlySorted(ls) {
            Self.stableSort(&ls)
            // Keep the last label of each run of equal names (in place; usually there is none).
            var kept = 0
            for i in ls.indices {
                if kept > 0 && ls[kept - 1].name.bytesEqual(ls[i].name) {
                    ls.swapAt(kept - 1, i)
                } else {
                    if kept != i { ls.swapAt(kept, i) }
                    kept += 1
                }
            }
            ls.removeLast(ls.count - kept)
        }
        self.base = ls
        self.shadowed = Array(repeating: false, count: ls.count)
    }

    /// Labels already sorted by name bytes with unique names (the caller merged them so):
    /// skips the order check and duplicate pass; empty values are still dropped.
    public init(sortedUnique labels: [Label]) {
        var ls = labels
        if ls.contains(where: { $0.value.isEmpty }) { ls.removeAll { $0.value.isEmpty } }
        self.base = ls
        self.shadowed = Array(repeating: false, count: ls.count)
    }

    /// Stable sort by name bytes: in place by insertion for the usual few dozen labels (no
    /// allocation, and half the time of sorting index/label pairs), else by sorting indices.
    public static func stableSort(_ ls: inout [Label]) {
        if ls.count <= 48 {
            // Through the buffer: array subscripts would retain and release both names per compare.
            ls.withUnsafeMutableBufferPointer { p in
                var j = 1
                while j < p.count {
                    var k = j
                    while k > 0 && p[k].name.bytesPrecede(p[k - 1].name) {
                        p.swapAt(k, k - 1)
                        k -= 1
                    }
                    j += 1
                }
            }
            return
        }
        let sorted = ls.indices.sorted { a, b in
            ls[a].name.bytesPrecede(ls[b].name) || (a < b && !ls[b].name.bytesPrecede(ls[a].name))
        }
        ls = sorted.map { ls[$0] }
    }

    /// Convenience for `(name, value)` pairs.
    public init(_ pairs: [(name: String, value: String)]) {
        self.init(pairs.map { Label(name: $0.name, value: $0.value) })
    }

    /// Convenience for a dictionary.
    public init(_ dictionary: [String: String]) {
        self.init(dictionary.map { Label(name: $0.key, value: $0.value) })
    }

    private static func isStrictlySorted(_ ls: [Label]) -> Bool {
        ls.withUnsafeBufferPointer { p in
            var i = 1
            while i < p.count {
                if !p[i - 1].name.bytesPrecede(p[i].name) { return false }
                i += 1
            }
            return true
        }
    }

    private func baseIndex(_ name: String) -> Int? { base.sortedIndex(of: name) }

    /// The value of `name`, or "" when absent.
    public func get(_ name: String) -> String {
        for a in added where a.name.bytesEqual(name) { return a.value }
        if let i = baseIndex(name), !shadowed[i] { return base[i].value }
        return ""
    }

    /// Sets a label; an empty value deletes it.
    public mutating func set(_ name: String, _ value: String) {
        if value.isEmpty {
            delete(name)
            return
        }
        for i in added.indices where added[i].name.bytesEqual(name) {
            added[i].value = value
            return
        }
        if let i = baseIndex(name) { shadowed[i] = true }
        added.append(Label(name: name, value: value))
    }

    public mutating func delete(_ name: String) {
        added.removeAll { $0.name.bytesEqual(name) }
        if let i = baseIndex(name) { shadowed[i] = true }
    }

    /// Calls `body` on a snapshot of the current labels (see the type's documentation for the order).
    public func forEach(_ body: (Label) -> Void) {
        // `self` is a value: later sets and deletes through the caller's builder change its copy.
        base.withUnsafeBufferPointer { base in
            shadowed.withUnsafeBufferPointer { shadowed in
                for i in 0..<base.count where !shadowed[i] { body(base[i]) }
            }
        }
        for a in added { body(a) }
    }

    /// The current labels sorted by name.
    public func labels() -> [Label] {
        if added.isEmpty && !shadowed.contains(true) { return base }
        var add = added
        Self.stableSort(&add)  // names in `added` are unique
        var out: [Label] = []
        out.reserveCapacity(base.count + add.count)
        var j = 0
        for i in base.indices {
            let l = base[i]
            while j < add.count && add[j].name.bytesPrecede(l.name) {
                out.append(add[j])
                j += 1
            }
            if !shadowed[i] { out.append(l) }  // a set one comes from `add`, in order
        }
        while j < add.count {
            out.append(add[j])
            j += 1
        }
        return out
    }
}

extension Array where Element == Label {
    /// The position of the label named `name` (bytes) in labels sorted by name bytes, by binary search.
    public func sortedIndex(of name: String) -> Int? {
        withUnsafeBufferPointer { p in
            var lo = 0
            var hi = p.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if p[mid].name.bytesPrecede(name) { lo = mid + 1 } else { hi = mid }
            }
            return lo < p.count && p[lo].name.bytesEqual(name) ? lo : nil
        }
    }
}
