import ByteStrings
#if canImport(Glibc)
import Glibc
#endif

/// Shapes matched on the bytes without RE2: most relabel regexes are literals, alternations of
/// literals or `prefix(.*)suffix`, and these decide in one pass with no call into C++.
enum FastMatcher: Sendable {
    /// Where a capture group lies in a match of a `.pattern`.
    struct Group: Sendable {
        enum Anchor: Sendable {
            case fromStart(Int)  // byte offset from the start of the string
            case fromEnd(Int)  // byte offset of the group's start, counted back from the end
            case middle
            case whole
        }
        let index: Int
        let anchor: Anchor
        let length: Int
    }

    /// prefix bytes, optionally a wildcard (`.*`/`.+`, at least `minMiddle` bytes, no `\n` unless
    /// `middleMatchesNewline`), then suffix bytes; without a wildcard the string must equal `prefix`.
    /// Capture groups may wrap literal runs, the wildcard, or the whole pattern.
    case pattern(prefix: [UInt8], suffix: [UInt8], wildcard: (minMiddle: Int, matchesNewline: Bool)?, groups: [Group])
    /// The whole string equals one of the literals (`captureWhole`: group 1 is the whole match).
    case alternation([[UInt8]], captureWhole: Bool)

    static func analyze(_ node: RE2Node, captureCount: Int) -> FastMatcher? {
        var node = node
        var groups: [Group] = []
        if case .capture(1, _, let inner) = node {
            groups.append(Group(index: 1, anchor: .whole, length: 0))
            node = inner
        }
        let items: [RE2Node]
        switch node {
        case .concat(let xs): items = xs
        case .empty: items = []
        case .alternate(let branches):
            guard captureCount == groups.count else { return nil }
            var lits: [[UInt8]] = []
            for b in branches {
                guard let l = literalBytes(b) else { return nil }
                lits.append(l)
            }
            return .alternation(lits, captureWhole: !groups.isEmpty)
        default: items = [node]
        }
        var prefix: [UInt8] = []
        var suffix: [UInt8] = []
        var wildcard: (minMiddle: Int, matchesNewline: Bool)? = nil
        for item in items {
            if let w = Self.wildcard(item) {
                guard wildcard == nil else { return nil }
                wildcard = (w.0, w.1)
                if let index = w.2 { groups.append(Group(index: index, anchor: .middle, length: 0)) }
                continue
            }
            var bytes: [UInt8]
            var capture: Int? = nil
            if case .capture(let index, _, let inner) = item {
                guard let l = literalBytes(inner) else { return nil }
                bytes = l
                capture = index
            } else {
                guard let l = literalBytes(item) else { return nil }
                bytes = l
            }
            if wildcard == nil {
                if let capture { groups.append(Group(index: capture, anchor: .fromStart(prefix.count), length: bytes.count)) }
                prefix += bytes
            } else {
                if let capture { groups.append(Group(index: capture, anchor: .fromEnd(suffix.count), length: bytes.count)) }
                suffix += bytes
            }
        }
        guard groups.count == captureCount else { return nil }
        // Offsets of suffix groups were recorded from the suffix start; convert to "back from the end".
        groups = groups.map { g in
            if case .fromEnd(let off) = g.anchor {
                return Group(index: g.index, anchor: .fromEnd(suffix.count - off), length: g.length)
            }
            return g
        }
        groups.sort { $0.index < $1.index }
        return .pattern(prefix: prefix, suffix: suffix, wildcard: wildcard, groups: groups)
    }

    /// `.*` / `.+` (any greediness), possibly as a capture group: (minMiddle, matchesNewline, captureIndex).
    private static func wildcard(_ node: RE2Node) -> (Int, Bool, Int?)? {
        switch node {
        case .repeat(.anyChar(let nl), let lo, -1, _) where lo <= 1:
            return (lo, nl, nil)
        case .capture(let index, _, .repeat(.anyChar(let nl), let lo, -1, _)) where lo <= 1:
            return (lo, nl, index)
        default:
            return nil
        }
    }

    /// The bytes of a literal run (a case-sensitive literal, a concatenation of them, or empty).
    private static func literalBytes(_ node: RE2Node) -> [UInt8]? {
        var s = ""
        switch node {
        case .empty: break
        case .literal(let u, false): s.unicodeScalars.append(u)
        case .concat(let items):
            for item in items {
                guard case .literal(let u, false) = item else { return nil }
                s.unicodeScalars.append(u)
            }
        default: return nil
        }
        return Array(s.utf8)
    }

    func matches(_ s: String) -> Bool {
        s.withBytes { b in
            switch self {
            case .alternation(let ls, _):
                return ls.contains { Self.equal($0, b) }
            case .pattern(let prefix, let suffix, let wildcard, _):
                guard let wildcard else { return Self.equal(prefix, b) }
                return Self.affixMatch(b, prefix: prefix, suffix: suffix, minMiddle: wildcard.minMiddle,
                                       newlineOK: wildcard.matchesNewline)
            }
        }
    }

    func match(_ s: String) -> RE2Match? {
        guard matches(s) else { return nil }
        let n = s.utf8.count
        let whole = 0..<n
        switch self {
        case .alternation(_, let captureWhole):
            return RE2Match(groups: captureWhole ? [whole, whole] : [whole])
        case .pattern(let prefix, let suffix, _, let groups):
            var out: [Range<Int>?] = [whole]
            out.reserveCapacity(groups.count + 1)
            for g in groups {
                switch g.anchor {
                case .whole: out.append(whole)
                case .middle: out.append(prefix.count..<(n - suffix.count))
                case .fromStart(let off): out.append(off..<(off + g.length))
                case .fromEnd(let back): out.append((n - back)..<(n - back + g.length))
                }
            }
            return RE2Match(groups: out)
        }
    }

    private static func equal(_ literal: [UInt8], _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        literal.count == b.count && literal.withUnsafeBufferPointer { l in l.count == 0 || memcmp(l.baseAddress!, b.baseAddress!, l.count) == 0 }
    }

    private static func affixMatch(_ b: UnsafeBufferPointer<UInt8>, prefix: [UInt8], suffix: [UInt8], minMiddle: Int,
                                   newlineOK: Bool) -> Bool {
        let n = b.count
        guard n >= prefix.count + suffix.count + minMiddle else { return false }
        for i in 0..<prefix.count where b[i] != prefix[i] { return false }
        let off = n - suffix.count
        for i in 0..<suffix.count where b[off + i] != suffix[i] { return false }
        if !newlineOK {
            for i in prefix.count..<off where b[i] == 0x0A { return false }
        }
        return true
    }
}
