import Foundation

/// The storage keys of one resource in etcd's order (bytewise), kept sorted as objects come
/// and go. A paged list then starts at its continue key with a binary search instead of
/// filtering and sorting every object for every page: listing 100,000 pods is 200 pages.
///
/// Keys live in sorted runs of bounded length, so an insert or a removal moves at most one
/// run's elements (a single sorted array would move half of 100,000 keys per pod created).
struct SortedKeys: Sendable {
    /// Non-empty sorted runs; every key of `runs[i]` sorts before every key of `runs[i + 1]`.
    private var runs: [[String]] = []
    private(set) var count = 0
    static let maxRun = 1024

    /// A place between keys: `run` and `offset` within it (`offset` may equal the run's count
    /// only for the end position).
    struct Position: Comparable, Sendable {
        var run: Int
        var offset: Int
        static func < (a: Position, b: Position) -> Bool { (a.run, a.offset) < (b.run, b.offset) }
    }

    /// etcd compares keys as bytes.
    static func precedes(_ a: String, _ b: String) -> Bool {
        var a = a
        var b = b
        return a.withUTF8 { x in
            b.withUTF8 { y in
                let n = min(x.count, y.count)
                let c = n == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, n)
                return c < 0 || (c == 0 && x.count < y.count)
            }
        }
    }

    var startPosition: Position { Position(run: 0, offset: 0) }
    var endPosition: Position { Position(run: runs.count, offset: 0) }

    /// The first position whose key is not before `key` (with `after`: whose key is after it).
    func position(of key: String, after: Bool = false) -> Position {
        // First run whose last key is at or after (after: strictly after) `key`.
        var lo = 0
        var hi = runs.count
        while lo < hi {
            let mid = (lo + hi) / 2
            let last = runs[mid][runs[mid].count - 1]
            if Self.precedes(last, key) || (after && last == key) { lo = mid + 1 } else { hi = mid }
        }
        guard lo < runs.count else { return endPosition }
        let run = runs[lo]
        var a = 0
        var b = run.count
        while a < b {
            let mid = (a + b) / 2
            if Self.precedes(run[mid], key) || (after && run[mid] == key) { a = mid + 1 } else { b = mid }
        }
        return Position(run: lo, offset: a)
    }

    /// How many keys lie in `from..<to`.
    func distance(from: Position, to: Position) -> Int {
        guard from < to else { return 0 }
        if from.run == to.run { return to.offset - from.offset }
        var n = runs[from.run].count - from.offset
        var r = from.run + 1
        while r < to.run && r < runs.count {
            n += runs[r].count
            r += 1
        }
        if to.run < runs.count { n += to.offset }
        return n
    }

    func key(at p: Position) -> String { runs[p.run][p.offset] }

    /// The position after `p` (normalised: never one past a run's end except at the very end).
    func next(_ p: Position) -> Position {
        p.offset + 1 < runs[p.run].count ? Position(run: p.run, offset: p.offset + 1) : Position(run: p.run + 1, offset: 0)
    }

    mutating func insert(_ key: String) {
        if runs.isEmpty {
            runs = [[key]]
            count = 1
            return
        }
        var p = position(of: key)
        if p.run == runs.count { p = Position(run: runs.count - 1, offset: runs[runs.count - 1].count) }
        if p.offset < runs[p.run].count, runs[p.run][p.offset] == key { return }
        runs[p.run].insert(key, at: p.offset)
        count += 1
        if runs[p.run].count > 2 * Self.maxRun {
            let upper = Array(runs[p.run][Self.maxRun...])
            runs[p.run].removeLast(upper.count)
            runs.insert(upper, at: p.run + 1)
        }
    }

    mutating func remove(_ key: String) {
        let p = position(of: key)
        guard p.run < runs.count, runs[p.run][p.offset] == key else { return }
        runs[p.run].remove(at: p.offset)
        count -= 1
        if runs[p.run].isEmpty { runs.remove(at: p.run) }
    }
}
