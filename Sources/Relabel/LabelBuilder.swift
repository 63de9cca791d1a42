/// One label. Names and values compare byte-wise (UTF-8), like Prometheus.
public struct Label: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    public static func == (a: Label, b: Label) -> Bool {
        Bytes.equal(a.name, b.name) && Bytes.equal(a.value, b.value)
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
/// Lookups are a binary search in the base plus a short linear scan of the changes, so a builder is
/// cheap to reuse for every target: build it once per target and run all rules on it.
public struct LabelBuilder: Sendable {
    private(set) var base: [Label]
    private var added: [Label] = []
    private var deleted: [String] = []

    /// `labels` may be in any order. Duplicate names: the last one wins. Empty values are dropped.
    public init(_ labels: [Label]) {
        var ls = labels
        if ls.contains(where: { $0.value.isEmpty }) { ls.removeAll { $0.value.isEmpty } }
        if !Self.isStrictlySorted(ls) {
            Self.stableSort(&ls)
            // Keep the last label of each run of equal names.
            var unique: [Label] = []
            unique.reserveCapacity(ls.count)
            for l in ls {
                if let last = unique.last, Bytes.equal(last.name, l.name) {
                    unique[unique.count - 1] = l
                } else {
                    unique.append(l)
                }
            }
            ls = unique
        }
        self.base = ls
    }

    /// Stable sort by name bytes. Swift's `<` agrees with byte order for NFC strings (all ASCII names),
    /// so sort with it first and fall back to a byte-wise insertion sort only if the result is not in
    /// byte order.
    static func stableSort(_ ls: inout [Label]) {
        if ls.count > 1 {
            ls = ls.enumerated().sorted { a, b in
                a.element.name < b.element.name || (a.element.name == b.element.name && a.offset < b.offset)
            }.map(\.element)
        }
        if isSorted(ls) { return }
        var i = 1
        while i < ls.count {
            var j = i
            while j > 0 && Bytes.less(ls[j].name, ls[j - 1].name) {
                ls.swapAt(j, j - 1)
                j -= 1
            }
            i += 1
        }
    }

    private static func isSorted(_ ls: [Label]) -> Bool {
        var i = 1
        while i < ls.count {
            if Bytes.less(ls[i].name, ls[i - 1].name) { return false }
            i += 1
        }
        return true
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
        var i = 1
        while i < ls.count {
            if !Bytes.less(ls[i - 1].name, ls[i].name) { return false }
            i += 1
        }
        return true
    }

    private func baseIndex(_ name: String) -> Int? {
        var lo = 0
        var hi = base.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if Bytes.less(base[mid].name, name) { lo = mid + 1 } else { hi = mid }
        }
        return lo < base.count && Bytes.equal(base[lo].name, name) ? lo : nil
    }

    /// The value of `name`, or "" when absent.
    public func get(_ name: String) -> String {
        for a in added where Bytes.equal(a.name, name) { return a.value }
        for d in deleted where Bytes.equal(d, name) { return "" }
        if let i = baseIndex(name) { return base[i].value }
        return ""
    }

    /// Sets a label; an empty value deletes it.
    public mutating func set(_ name: String, _ value: String) {
        if value.isEmpty {
            delete(name)
            return
        }
        for i in added.indices where Bytes.equal(added[i].name, name) {
            added[i].value = value
            return
        }
        added.append(Label(name: name, value: value))
    }

    public mutating func delete(_ name: String) {
        added.removeAll { Bytes.equal($0.name, name) }
        deleted.append(name)
    }

    /// Calls `body` on a snapshot of the current labels (see the type's documentation for the order).
    public func forEach(_ body: (Label) -> Void) {
        let addSnapshot = added
        let delSnapshot = deleted
        for l in base {
            if delSnapshot.contains(where: { Bytes.equal($0, l.name) }) { continue }
            if addSnapshot.contains(where: { Bytes.equal($0.name, l.name) }) { continue }
            body(l)
        }
        for a in addSnapshot { body(a) }
    }

    /// The current labels sorted by name.
    public func labels() -> [Label] {
        if added.isEmpty && deleted.isEmpty { return base }
        var add = added
        Self.stableSort(&add)  // names in `added` are unique
        var out: [Label] = []
        out.reserveCapacity(base.count + add.count)
        var j = 0
        for l in base {
            while j < add.count && Bytes.less(add[j].name, l.name) {
                out.append(add[j])
                j += 1
            }
            if j < add.count && Bytes.equal(add[j].name, l.name) { continue }  // replaced; emitted later
            if !deleted.isEmpty && deleted.contains(where: { Bytes.equal($0, l.name) }) { continue }
            out.append(l)
        }
        while j < add.count {
            out.append(add[j])
            j += 1
        }
        return out
    }
}
