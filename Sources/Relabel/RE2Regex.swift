/// A regular expression with Go RE2 syntax and semantics, as Prometheus relabeling uses it.
///
/// `RE2Regex(relabel:)` compiles `^(?s:<pattern>)$` like Prometheus 3 (`^(?:<pattern>)$` with
/// `dotMatchesNewline: false`, like Prometheus 2). The pattern is parsed with an RE2 parser, which
/// rejects everything RE2 rejects (backreferences, lookaround, atomic groups, possessive quantifiers,
/// `\Z`, `\G`, ...), and is then emitted as an equivalent Swift `Regex` running on Unicode scalars.
/// Common shapes (literals, alternations of literals, `prefix(.*)suffix`) never reach the regex engine.
public final class RE2Regex: Sendable, CustomStringConvertible {
    /// The pattern as written by the user (without the anchoring wrapper).
    public let pattern: String
    /// Number of capture groups (not counting the whole match).
    public let captureCount: Int
    /// Capture names by group index (index 0 is the whole match and has no name).
    let names: [String?]
    let fast: FastMatcher?
    let engine: Engine?

    /// The Swift pattern the RE2 pattern was translated to (for diagnostics and tests).
    public let translated: String

    public var description: String { pattern }

    /// Compiles a relabel regex: fully anchored, `.` matching newlines when `dotMatchesNewline`.
    public init(relabel pattern: String, dotMatchesNewline: Bool = true) throws(RE2SyntaxError) {
        let wrapped = (dotMatchesNewline ? "^(?s:" : "^(?:") + pattern + ")$"
        self.pattern = pattern
        let (tree, names) = try RE2Parser.parse(wrapped, flags: RE2Flags())
        self.names = names
        self.captureCount = names.count - 1

        // The usual case: the wrapper stays intact, `\A X \z`, and we can match X against the whole string.
        // A pattern such as `a)|(b` breaks out of the wrapper; it then gets RE2's unanchored search semantics.
        var whole: RE2Node? = nil
        if case .concat(let items) = tree, items.count >= 2, items.first == .beginText, items.last == .endText {
            let middle = Array(items[1..<(items.count - 1)])
            whole = middle.count == 1 ? middle[0] : (middle.isEmpty ? .empty : .concat(middle))
        }
        if let whole {
            self.fast = FastMatcher.analyze(whole, captureCount: names.count - 1)
            let emitted = Emitter.emit(whole)
            self.translated = emitted
            if fast == nil {
                self.engine = try Engine(pattern: emitted, wholeMatch: true, original: pattern)
            } else {
                self.engine = nil
            }
        } else {
            self.fast = nil
            let emitted = Emitter.emit(tree)
            self.translated = emitted
            self.engine = try Engine(pattern: emitted, wholeMatch: false, original: pattern)
        }
    }

    /// Whether the regex matches `s` (for the usual anchored pattern: the whole of `s`).
    public func matches(_ s: String) -> Bool {
        if let fast { return fast.matches(s) }
        return engine!.firstMatch(s) != nil
    }

    /// The match with capture group ranges, or nil.
    public func match(_ s: String) -> RE2Match? {
        if let fast { return fast.match(s) }
        guard let groups = engine!.firstMatch(s) else { return nil }
        return RE2Match(groups: groups)
    }

    /// Go's `Regexp.Expand` of `template` for a match in `s`: `$1`, `${1}`, `$name`, `${name}`, `$$`.
    public func expand(_ template: String, match: RE2Match, in s: String) -> String {
        compileTemplate(template).expand(match: match, in: s)
    }

    /// Pre-parses a replacement template against this regex's groups, for repeated expansion.
    public func compileTemplate(_ template: String) -> ExpandTemplate {
        ExpandTemplate(template, names: names)
    }

    /// Go's `regexp.ReplaceAllString(s, template)` (used by `labelmap`).
    public func replaceAll(_ s: String, with template: String) -> String {
        replaceAll(s, with: compileTemplate(template))
    }

    /// `replaceAll` with a pre-parsed template. For the usual anchored regex there is at most one match,
    /// covering the whole string.
    public func replaceAll(_ s: String, with template: ExpandTemplate) -> String {
        if let fast {
            guard let m = fast.match(s) else { return s }
            return template.expand(match: m, in: s)
        }
        let engine = engine!
        if engine.wholeMatch {
            guard let groups = engine.firstMatch(s) else { return s }
            return template.expand(match: RE2Match(groups: groups), in: s)
        }
        // General (unanchored) case, following Go's loop: an empty match right after a match is skipped.
        var out = ""
        var lastMatchEnd = s.startIndex
        for groups in engine.allMatches(s) {
            guard let r = groups[0] else { continue }
            out.append(contentsOf: Substring(s.unicodeScalars[lastMatchEnd..<r.lowerBound]))
            if r.upperBound > lastMatchEnd || r.lowerBound == s.startIndex {
                out += template.expand(match: RE2Match(groups: groups), in: s)
            }
            lastMatchEnd = r.upperBound
        }
        out.append(contentsOf: Substring(s.unicodeScalars[lastMatchEnd...]))
        return out
    }

    /// Whether matching `(anchored)` regexes skip the regex engine for this pattern.
    public var usesFastPath: Bool { fast != nil }

    /// True when the pattern kept Prometheus's anchoring wrapper intact (the usual case).
    public var isAnchored: Bool { fast != nil || engine!.wholeMatch }

    /// Go's `extract`: a name of letters, digits and `_` (Unicode), optionally in braces.
    static func extract(_ t: String.UnicodeScalarView, from start: String.UnicodeScalarView.Index)
        -> (String, String.UnicodeScalarView.Index)?
    {
        var i = start
        guard i < t.endIndex else { return nil }
        var brace = false
        if t[i] == "{" {
            brace = true
            i = t.index(after: i)
        }
        let nameStart = i
        while i < t.endIndex, isNameScalar(t[i]) { i = t.index(after: i) }
        if i == nameStart { return nil }
        var name = ""
        name.unicodeScalars.append(contentsOf: t[nameStart..<i])
        if brace {
            guard i < t.endIndex, t[i] == "}" else { return nil }
            i = t.index(after: i)
        }
        return (name, i)
    }

    static func isNameScalar(_ u: Unicode.Scalar) -> Bool {
        if u.isASCII { return RE2Parser.isAlnum(u) || u == "_" }
        switch u.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .decimalNumber:
            return true
        default:
            return false
        }
    }
}

/// A replacement template parsed once (Go's `Regexp.Expand` rules): literal text and group references.
/// `$name` takes the longest run of letters, digits and `_`, so `$1x` refers to the group named `1x`;
/// a reference to a missing group, or to a group that did not participate, expands to "".
public struct ExpandTemplate: Sendable {
    enum Piece: Sendable {
        case text(String)
        /// Candidate group indices; the first that participated in the match is used.
        case groups([Int])
    }

    let pieces: [Piece]
    /// The template has no `$` at all: expansion is the template itself.
    let constant: String?

    init(_ template: String, names: [String?]) {
        if !template.utf8.contains(UInt8(ascii: "$")) {
            pieces = [.text(template)]
            constant = template
            return
        }
        var pieces: [Piece] = []
        var text = ""
        let t = template.unicodeScalars
        var i = t.startIndex
        while i < t.endIndex {
            let c = t[i]
            guard c == "$" else {
                text.unicodeScalars.append(c)
                i = t.index(after: i)
                continue
            }
            let afterDollar = t.index(after: i)
            if afterDollar < t.endIndex && t[afterDollar] == "$" {
                text.append("$")
                i = t.index(after: afterDollar)
                continue
            }
            guard let (name, rest) = RE2Regex.extract(t, from: afterDollar) else {
                text.append("$")  // malformed: the `$` is literal text
                i = afterDollar
                continue
            }
            if !text.isEmpty {
                pieces.append(.text(text))
                text = ""
            }
            pieces.append(.groups(Self.resolve(name, names: names)))
            i = rest
        }
        if !text.isEmpty { pieces.append(.text(text)) }
        self.pieces = pieces
        self.constant = nil
    }

    /// A number (no leading zeros, < 1e8) is a group index, anything else a group name.
    static func resolve(_ name: String, names: [String?]) -> [Int] {
        var num = 0
        var isNumber = true
        for u in name.unicodeScalars {
            if !("0"..."9").contains(u) || num >= 100_000_000 {
                isNumber = false
                break
            }
            num = num * 10 + Int(u.value - 48)
        }
        if name.unicodeScalars.count > 1 && name.unicodeScalars.first == "0" { isNumber = false }
        if isNumber { return num < names.count ? [num] : [] }
        return names.indices.filter { names[$0] == name }
    }

    public func expand(match: RE2Match, in s: String) -> String {
        if let constant { return constant }
        var out = ""
        for piece in pieces {
            switch piece {
            case .text(let t):
                out += t
            case .groups(let candidates):
                for g in candidates where g < match.groups.count {
                    if let r = match.groups[g] {
                        out.append(contentsOf: Substring(s.unicodeScalars[r]))
                        break
                    }
                }
            }
        }
        return out
    }
}

/// Capture group ranges of one match (index 0 is the whole match; nil = group did not participate).
public struct RE2Match: Sendable {
    public let groups: [Range<String.Index>?]

    /// The text of group `i` in `s`, or nil.
    public func group(_ i: Int, in s: String) -> String? {
        guard i < groups.count, let r = groups[i] else { return nil }
        return String(s.unicodeScalars[r])
    }
}

// MARK: - Swift Regex engine

struct Engine: @unchecked Sendable {
    // `Regex<AnyRegexOutput>` is an immutable value; matching is thread-safe.
    let regex: Regex<AnyRegexOutput>
    let wholeMatch: Bool

    init(pattern: String, wholeMatch: Bool, original: String) throws(RE2SyntaxError) {
        do {
            self.regex = try Regex(pattern)
                .matchingSemantics(.unicodeScalar)
                .wordBoundaryKind(.simple)
                .asciiOnlyWordCharacters()
        } catch {
            // Should not happen: the emitter only produces syntax the Swift engine supports.
            throw RE2SyntaxError(code: "unsupported by the Swift regex engine (\(error))", expression: original)
        }
        self.wholeMatch = wholeMatch
    }

    func firstMatch(_ s: String) -> [Range<String.Index>?]? {
        let m: Regex<AnyRegexOutput>.Match?
        if wholeMatch {
            m = try? regex.wholeMatch(in: s)
        } else {
            m = try? regex.firstMatch(in: s)
        }
        guard let m else { return nil }
        return m.output.map { $0.range }
    }

    func allMatches(_ s: String) -> [[Range<String.Index>?]] {
        s.matches(of: regex).map { m in m.output.map { $0.range } }
    }
}

// MARK: - Emitting Swift regex syntax

enum Emitter {
    static func emit(_ node: RE2Node) -> String {
        var out = "(?s)"
        emit(node, into: &out)
        return out
    }

    static func hex(_ v: UInt32) -> String { "\\x{" + String(v, radix: 16) + "}" }

    static func literal(_ u: Unicode.Scalar) -> String {
        RE2Parser.isAlnum(u) ? String(Character(u)) : hex(u.value)
    }

    static func property(_ name: String, negated: Bool) -> String {
        let p = negated ? "\\P" : "\\p"
        if name == "Any" { return negated ? "" : "\\x{0}-\\x{10ffff}" }
        if name == "C" {
            // Go's C is Cc|Cf|Co|Cs (no unassigned code points).
            return negated ? "[^\\p{Cc}\\p{Cf}\\p{Co}\\p{Cs}]" : "\\p{Cc}\\p{Cf}\\p{Co}\\p{Cs}"
        }
        if UnicodeTables.categories.contains(name) { return p + "{gc=" + name + "}" }
        return p + "{sc=" + name + "}"
    }

    static func emitClass(_ items: [ClassItem], negated: Bool) -> String {
        var body = ""
        for item in items {
            switch item {
            case .range(let lo, let hi):
                body += lo == hi ? hex(lo) : hex(lo) + "-" + hex(hi)
            case .property(let name, let neg):
                body += property(name, negated: neg)
            }
        }
        if body.isEmpty {
            // An empty class matches nothing; its negation matches any character.
            return negated ? "[\\x{0}-\\x{10ffff}]" : "[^\\x{0}-\\x{10ffff}]"
        }
        return (negated ? "[^" : "[") + body + "]"
    }

    static func emit(_ node: RE2Node, into out: inout String) {
        switch node {
        case .empty:
            out += "(?:)"
        case .literal(let u, let fold):
            out += fold ? "(?i:" + literal(u) + ")" : literal(u)
        case .charClass(let items, let negated, let fold):
            let c = emitClass(items, negated: negated)
            out += fold ? "(?i:" + c + ")" : c
        case .anyChar(let nl):
            out += nl ? "." : "[^\\x{a}]"
        case .beginText: out += "\\A"
        case .endText: out += "\\z"
        case .beginLine: out += "(?m:^)"
        case .endLine: out += "(?=\\x{a}|\\z)"
        case .wordBoundary: out += "\\b"
        case .notWordBoundary: out += "\\B"
        case .capture(_, _, let inner):
            out += "("
            emit(inner, into: &out)
            out += ")"
        case .concat(let items):
            for item in items { emit(item, into: &out) }
        case .alternate(let branches):
            out += "(?:"
            for (i, b) in branches.enumerated() {
                if i > 0 { out += "|" }
                emit(b, into: &out)
            }
            out += ")"
        case .repeat(let inner, let lo, let hi, let greedy):
            out += "(?:"
            emit(inner, into: &out)
            out += ")"
            switch (lo, hi) {
            case (0, -1): out += "*"
            case (1, -1): out += "+"
            case (0, 1): out += "?"
            case (_, -1): out += "{\(lo),}"
            default: out += lo == hi ? "{\(lo)}" : "{\(lo),\(hi)}"
            }
            if !greedy { out += "?" }
        }
    }
}

// MARK: - Fast paths

/// Shapes matched without the regex engine. All comparisons are on UTF-8 bytes, like Go.
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
        switch self {
        case .alternation(let ls, _):
            for l in ls where Bytes.equal(s, l) { return true }
            return false
        case .pattern(let prefix, let suffix, let wildcard, _):
            guard let wildcard else { return Bytes.equal(s, prefix) }
            return Bytes.affixMatch(s, prefix: prefix, suffix: suffix, minMiddle: wildcard.minMiddle,
                                    newlineOK: wildcard.matchesNewline)
        }
    }

    func match(_ s: String) -> RE2Match? {
        guard matches(s) else { return nil }
        let whole: Range<String.Index> = s.startIndex..<s.endIndex
        switch self {
        case .alternation(_, let captureWhole):
            return RE2Match(groups: captureWhole ? [whole, whole] : [whole])
        case .pattern(let prefix, let suffix, _, let groups):
            if groups.isEmpty { return RE2Match(groups: [whole]) }
            var out: [Range<String.Index>?] = [whole]
            out.reserveCapacity(groups.count + 1)
            let u = s.utf8
            let n = u.count
            for g in groups {
                switch g.anchor {
                case .whole:
                    out.append(whole)
                case .middle:
                    out.append(u.index(u.startIndex, offsetBy: prefix.count)..<u.index(u.startIndex, offsetBy: n - suffix.count))
                case .fromStart(let off):
                    out.append(u.index(u.startIndex, offsetBy: off)..<u.index(u.startIndex, offsetBy: off + g.length))
                case .fromEnd(let back):
                    out.append(u.index(u.startIndex, offsetBy: n - back)..<u.index(u.startIndex, offsetBy: n - back + g.length))
                }
            }
            return RE2Match(groups: out)
        }
    }
}

/// Byte-wise (UTF-8) string helpers: Swift's `==` and `<` on `String` use canonical equivalence, Go does not.
enum Bytes {
    @inline(__always)
    static func with<R>(_ s: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let r = s.utf8.withContiguousStorageIfAvailable(body) { return r }
        return Array(s.utf8).withUnsafeBufferPointer(body)
    }

    static func equal(_ s: String, _ l: [UInt8]) -> Bool {
        guard s.utf8.count == l.count else { return false }
        return with(s) { b in l.withUnsafeBufferPointer { b.elementsEqual($0) } }
    }

    static func equal(_ a: String, _ b: String) -> Bool {
        // Byte-equal strings are canonically equal, so Swift's (fast) `!=` proves inequality.
        guard a.utf8.count == b.utf8.count, a == b else { return false }
        return a.utf8.elementsEqual(b.utf8)
    }

    /// Byte-wise ordering, like Go's string comparison.
    static func less(_ a: String, _ b: String) -> Bool {
        with(a) { pa in
            with(b) { pb in
                let n = min(pa.count, pb.count)
                var i = 0
                while i < n {
                    if pa[i] != pb[i] { return pa[i] < pb[i] }
                    i += 1
                }
                return pa.count < pb.count
            }
        }
    }

    static func affixMatch(_ s: String, prefix: [UInt8], suffix: [UInt8], minMiddle: Int, newlineOK: Bool) -> Bool {
        let n = s.utf8.count
        guard n >= prefix.count + suffix.count + minMiddle else { return false }
        return with(s) { b in
            for i in 0..<prefix.count where b[i] != prefix[i] { return false }
            let off = n - suffix.count
            for i in 0..<suffix.count where b[off + i] != suffix[i] { return false }
            if !newlineOK {
                for i in prefix.count..<off where b[i] == 0x0A { return false }
            }
            return true
        }
    }
}
