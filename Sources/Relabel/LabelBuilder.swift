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
        var ls = labels.filter { !$0.value.isEmpty }
        if !Self.isStrictlySorted(ls) {
            // Stable sort keeps input order among duplicates; then keep the last of each run.
            ls = ls.enumerated().sorted { a, b in
                if Bytes.less(a.element.name, b.element.name) { return true }
                if Bytes.less(b.element.name, a.element.name) { return false }
                return a.offset < b.offset
            }.map(\.element)
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
        var out: [Label] = []
        out.reserveCapacity(base.count + added.count)
        for l in base {
            if deleted.contains(where: { Bytes.equal($0, l.name) }) { continue }
            if added.contains(where: { Bytes.equal($0.name, l.name) }) { continue }
            out.append(l)
        }
        if !added.isEmpty {
            out += added
            out.sort { Bytes.less($0.name, $1.name) }
        }
        return out
    }
}
