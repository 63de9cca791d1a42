/// A regular expression with Go RE2 syntax and semantics, as Prometheus relabeling uses it.
///
/// `RE2Regex(relabel:)` compiles `^(?s:<pattern>)$` like Prometheus 3 (`^(?:<pattern>)$` with
/// `dotMatchesNewline: false`, like Prometheus 2). The pattern is parsed with an RE2 parser, which
/// rejects everything RE2 rejects (backreferences, lookaround, atomic groups, possessive quantifiers,
/// `\Z`, `\G`, ...), and is then emitted as an equivalent Swift `Regex` running on Unicode scalars.
/// Common shapes (literals, alternations of literals, `prefix(.*)suffix`) never reach the regex engine.
public struct RE2Regex: Sendable, CustomStringConvertible {
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
        // Fast path: no `$` at all.
        if !template.utf8.contains(UInt8(ascii: "$")) { return template }
        var out = ""
        let t = template.unicodeScalars
        var i = t.startIndex
        var pending = i  // start of literal text not yet copied
        while i < t.endIndex {
            guard t[i] == "$" else {
                i = t.index(after: i)
                continue
            }
            out.unicodeScalars.append(contentsOf: t[pending..<i])
            let afterDollar = t.index(after: i)
            if afterDollar < t.endIndex && t[afterDollar] == "$" {
                out.append("$")
                i = t.index(after: afterDollar)
                pending = i
                continue
            }
            guard let (name, rest) = Self.extract(t, from: afterDollar) else {
                // Malformed: the `$` is kept as text.
                out.append("$")
                i = afterDollar
                pending = i
                continue
            }
            if let group = groupIndex(forReference: name, match: match), let r = match.groups[group] {
                out.unicodeScalars.append(contentsOf: s.unicodeScalars[r])
            }
            i = rest
            pending = i
        }
        out.unicodeScalars.append(contentsOf: t[pending..<t.endIndex])
        return out
    }

    /// Go's `regexp.ReplaceAllString(s, template)` (used by `labelmap`).
    public func replaceAll(_ s: String, with template: String) -> String {
        if let fast {
            guard let m = fast.match(s) else { return s }
            return expand(template, match: m, in: s)
        }
        let engine = engine!
        if engine.wholeMatch {
            guard let groups = engine.firstMatch(s) else { return s }
            return expand(template, match: RE2Match(groups: groups), in: s)
        }
        // General (unanchored) case, following Go's loop: an empty match right after a match is skipped.
        var out = ""
        var lastMatchEnd = s.unicodeScalars.startIndex
        var first = true
        for groups in engine.allMatches(s) {
            guard let r = groups[0] else { continue }
            out.unicodeScalars.append(contentsOf: s.unicodeScalars[lastMatchEnd..<r.lowerBound])
            if r.upperBound > lastMatchEnd || r.lowerBound == s.startIndex || first {
                out += expand(template, match: RE2Match(groups: groups), in: s)
            }
            first = false
            lastMatchEnd = r.upperBound
        }
        out.unicodeScalars.append(contentsOf: s.unicodeScalars[lastMatchEnd...])
        return out
    }

    /// Resolves `$name`: a number (no leading zeros, < 1e8) is a group index, otherwise a group name
    /// (the first group with that name that took part in the match).
    func groupIndex(forReference name: String, match: RE2Match) -> Int? {
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
        if isNumber { return num < match.groups.count ? num : nil }
        for (i, n) in names.enumerated() where n == name {
            if i < match.groups.count && match.groups[i] != nil { return i }
        }
        return nil
    }

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
    /// The whole string equals the literal. `captureWhole`: group 1 is the whole match.
    case literal([UInt8], captureWhole: Bool)
    /// The whole string equals one of the literals.
    case alternation([[UInt8]], captureWhole: Bool)
    /// prefix, then a middle of any characters (at least `minMiddle` bytes; no `\n` unless
    /// `middleMatchesNewline`), then suffix. `captureMiddle`: group 1 is the middle;
    /// `captureWhole`: group 1 is the whole match.
    case affix(prefix: [UInt8], suffix: [UInt8], minMiddle: Int, middleMatchesNewline: Bool,
               captureMiddle: Bool, captureWhole: Bool)

    static func analyze(_ node: RE2Node, captureCount: Int) -> FastMatcher? {
        var node = node
        var captureWhole = false
        if case .capture(1, _, let inner) = node, captureCount == 1 {
            captureWhole = true
            node = inner
        } else if captureCount > 1 {
            return nil
        }
        let items: [RE2Node]
        switch node {
        case .concat(let xs): items = xs
        case .empty: items = []
        case .alternate(let branches):
            if captureCount == 1 && !captureWhole { return nil }
            var lits: [[UInt8]] = []
            for b in branches {
                let bi: [RE2Node]
                switch b {
                case .concat(let xs): bi = xs
                case .empty: bi = []
                default: bi = [b]
                }
                guard let l = literalBytes(bi) else { return nil }
                lits.append(l)
            }
            return .alternation(lits, captureWhole: captureWhole)
        default: items = [node]
        }
        if let l = literalBytes(items) {
            if captureCount == 1 && !captureWhole { return nil }
            return .literal(l, captureWhole: captureWhole)
        }
        // prefix literal, one wildcard, suffix literal.
        guard let w = items.firstIndex(where: { wildcard($0) != nil }) else { return nil }
        let (minMiddle, nl, captured) = wildcard(items[w])!
        if captured && captureWhole { return nil }
        if captureCount == 1 && !captured && !captureWhole { return nil }
        guard let prefix = literalBytes(Array(items[..<w])),
              let suffix = literalBytes(Array(items[(w + 1)...]))
        else { return nil }
        return .affix(prefix: prefix, suffix: suffix, minMiddle: minMiddle, middleMatchesNewline: nl,
                      captureMiddle: captured, captureWhole: captureWhole)
    }

    /// `.*` / `.+` (any greediness), possibly as capture group 1: (minMiddle, matchesNewline, captured).
    private static func wildcard(_ node: RE2Node) -> (Int, Bool, Bool)? {
        switch node {
        case .repeat(.anyChar(let nl), let lo, -1, _) where lo <= 1:
            return (lo, nl, false)
        case .capture(1, _, .repeat(.anyChar(let nl), let lo, -1, _)) where lo <= 1:
            return (lo, nl, true)
        default:
            return nil
        }
    }

    private static func literalBytes(_ items: [RE2Node]) -> [UInt8]? {
        var s = ""
        for item in items {
            guard case .literal(let u, false) = item else { return nil }
            s.unicodeScalars.append(u)
        }
        return Array(s.utf8)
    }

    func matches(_ s: String) -> Bool {
        switch self {
        case .literal(let l, _):
            return Bytes.equal(s, l)
        case .alternation(let ls, _):
            for l in ls where Bytes.equal(s, l) { return true }
            return false
        case .affix(let prefix, let suffix, let minMiddle, let nl, _, _):
            return Bytes.affixMatch(s, prefix: prefix, suffix: suffix, minMiddle: minMiddle, newlineOK: nl)
        }
    }

    func match(_ s: String) -> RE2Match? {
        let whole: Range<String.Index> = s.startIndex..<s.endIndex
        switch self {
        case .literal(_, let captureWhole), .alternation(_, let captureWhole):
            guard matches(s) else { return nil }
            return RE2Match(groups: captureWhole ? [whole, whole] : [whole])
        case .affix(let prefix, let suffix, _, _, let captureMiddle, let captureWhole):
            guard matches(s) else { return nil }
            if captureWhole { return RE2Match(groups: [whole, whole]) }
            if !captureMiddle { return RE2Match(groups: [whole]) }
            let u = s.utf8
            let lo = u.index(u.startIndex, offsetBy: prefix.count)
            let hi = u.index(u.endIndex, offsetBy: -suffix.count)
            return RE2Match(groups: [whole, lo..<hi])
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
        guard a.utf8.count == b.utf8.count else { return false }
        return with(a) { pa in with(b) { pb in pa.elementsEqual(pb) } }
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
