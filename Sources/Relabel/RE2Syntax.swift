// A parser for the RE2 syntax accepted by Go's `regexp/syntax` with Perl flags (what Prometheus uses),
// producing a small tree that `RE2Emitter` writes out for Google's RE2. Written from the RE2/Go
// syntax documentation and behaviour; it rejects what Go rejects, with Go's messages.

/// A regular expression syntax error, worded like Go's `regexp/syntax` errors.
public struct RE2SyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The Go error code text, e.g. "invalid escape sequence".
    public let code: String
    /// The offending part of the expression.
    public let expression: String

    public var description: String { "error parsing regexp: \(code): `\(expression)`" }
}

/// One item of a bracketed (or Perl / POSIX / Unicode) character class.
enum ClassItem: Equatable {
    case range(UInt32, UInt32)
    /// A Unicode property: `\p{Greek}`, `\pL`; `negated` for `\P{..}` / `\p{^..}`.
    case property(String, negated: Bool)
}

indirect enum RE2Node: Equatable {
    case empty
    case literal(Unicode.Scalar, fold: Bool)
    case charClass([ClassItem], negated: Bool, fold: Bool)
    case anyChar(matchesNewline: Bool)
    case beginText, endText, beginLine, endLine, wordBoundary, notWordBoundary
    case capture(index: Int, name: String?, RE2Node)
    case concat([RE2Node])
    case alternate([RE2Node])
    case `repeat`(RE2Node, min: Int, max: Int, greedy: Bool)  // max == -1: unbounded
}

struct RE2Flags {
    var foldCase = false
    var multiLine = false
    var dotNL = false
    var nonGreedy = false
}

/// Recursive-descent parser over the pattern's Unicode scalars.
struct RE2Parser {
    let s: [Unicode.Scalar]
    let whole: String
    var pos = 0
    var flags: RE2Flags
    var captureCount = 0
    var captureNames: [String?] = [nil]  // index 0 is the whole match

    init(_ pattern: String, flags: RE2Flags) {
        self.s = Array(pattern.unicodeScalars)
        self.whole = pattern
        self.flags = flags
    }

    static func parse(_ pattern: String, flags: RE2Flags) throws(RE2SyntaxError) -> (RE2Node, [String?]) {
        var p = RE2Parser(pattern, flags: flags)
        let node = try p.parseAlternation(depth: 0)
        if p.pos < p.s.count {
            // Only a ')' can stop the top level early.
            throw RE2SyntaxError(code: "unexpected )", expression: pattern)
        }
        return (node, p.captureNames)
    }

    private func text(_ from: Int, _ to: Int) -> String {
        var out = ""
        out.unicodeScalars.append(contentsOf: s[from..<min(to, s.count)])
        return out
    }

    private func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        pos + offset < s.count ? s[pos + offset] : nil
    }

    // MARK: alternation / concatenation

    mutating func parseAlternation(depth: Int) throws(RE2SyntaxError) -> RE2Node {
        if depth > 1000 { throw RE2SyntaxError(code: "expression nests too deeply", expression: whole) }
        var branches: [RE2Node] = []
        while true {
            branches.append(try parseConcat(depth: depth))
            if peek() == "|" {
                pos += 1
                continue
            }
            break
        }
        return branches.count == 1 ? branches[0] : .alternate(branches)
    }

    /// Parses until `|`, `)` or the end.
    mutating func parseConcat(depth: Int) throws(RE2SyntaxError) -> RE2Node {
        var items: [RE2Node] = []
        var lastWasRepeat: Int? = nil  // start offset of the last repetition operator
        while let c = peek(), c != "|", c != ")" {
            let start = pos
            switch c {
            case "*", "+", "?", "{":
                var minCount = 0
                var maxCount = -1
                if c == "{" {
                    guard let (lo, hi, end) = parseRepeatBraces() else {
                        // Not a valid repeat: '{' is a literal.
                        pos += 1
                        items.append(.literal("{", fold: flags.foldCase))
                        lastWasRepeat = nil
                        continue
                    }
                    if lo < 0 || lo > 1000 || hi > 1000 || (hi >= 0 && lo > hi) {
                        throw RE2SyntaxError(code: "invalid repeat count", expression: text(start, end))
                    }
                    minCount = lo
                    maxCount = hi
                    pos = end
                } else {
                    pos += 1
                    switch c {
                    case "*": (minCount, maxCount) = (0, -1)
                    case "+": (minCount, maxCount) = (1, -1)
                    default: (minCount, maxCount) = (0, 1)
                    }
                }
                var greedy = !flags.nonGreedy
                if peek() == "?" {
                    pos += 1
                    greedy.toggle()
                }
                if let last = lastWasRepeat {
                    throw RE2SyntaxError(code: "invalid nested repetition operator", expression: text(last, pos))
                }
                guard let operand = items.popLast() else {
                    throw RE2SyntaxError(code: "missing argument to repetition operator", expression: text(start, pos))
                }
                let node = RE2Node.repeat(operand, min: minCount, max: maxCount, greedy: greedy)
                if c == "{" && (minCount >= 2 || maxCount >= 2) && !Self.repeatIsValid(node, 1000) {
                    throw RE2SyntaxError(code: "invalid repeat count", expression: text(start, pos))
                }
                items.append(node)
                lastWasRepeat = start
                continue
            case "(":
                if let node = try parseGroup(depth: depth) { items.append(node) }
            case "[":
                items.append(try parseClass())
            case ".":
                pos += 1
                items.append(.anyChar(matchesNewline: flags.dotNL))
            case "^":
                pos += 1
                items.append(flags.multiLine ? .beginLine : .beginText)
            case "$":
                pos += 1
                items.append(flags.multiLine ? .endLine : .endText)
            case "\\":
                try parseEscapeOutsideClass(into: &items)
            default:
                pos += 1
                items.append(.literal(c, fold: flags.foldCase))
            }
            lastWasRepeat = nil
        }
        switch items.count {
        case 0: return .empty
        case 1: return items[0]
        default: return .concat(items)
        }
    }

    /// Go's limit on nested counted repetitions: together they may not make more than `n` copies
    /// of the innermost expression (`(a{100}){100}` is refused).
    static func repeatIsValid(_ node: RE2Node, _ n: Int) -> Bool {
        var n = n
        switch node {
        case .repeat(let inner, let lo, let hi, _):
            if hi == 0 { return true }
            let m = hi < 0 ? lo : hi
            if m > n { return false }
            if m > 0 { n /= m }
            return repeatIsValid(inner, n)
        case .capture(_, _, let inner):
            return repeatIsValid(inner, n)
        case .concat(let items), .alternate(let items):
            return items.allSatisfy { repeatIsValid($0, n) }
        default:
            return true
        }
    }

    /// `{n}`, `{n,}`, `{n,m}`: returns (min, max, endIndex) or nil when not a repeat (then `{` is literal).
    /// max == -1 means unbounded. Leading zeros make it not a repeat, like Go.
    private func parseRepeatBraces() -> (Int, Int, Int)? {
        var i = pos + 1
        func number(_ i: inout Int) -> Int? {
            let start = i
            while i < s.count, ("0"..."9").contains(s[i]) { i += 1 }
            if i == start { return nil }
            if i - start >= 2 && s[start] == "0" { return nil }
            if i - start >= 8 { return -1 }  // too big
            var n = 0
            for k in start..<i { n = n * 10 + Int(s[k].value - 48) }
            return n
        }
        guard let lo = number(&i) else { return nil }
        var hi = lo
        guard i < s.count else { return nil }
        if s[i] == "," {
            i += 1
            guard i < s.count else { return nil }
            if s[i] == "}" {
                hi = -1
            } else {
                guard let h = number(&i) else { return nil }
                hi = h
                if h == -1 { hi = 1001 }  // too big: reported as invalid repeat count
            }
        }
        guard i < s.count, s[i] == "}" else { return nil }
        return (lo, hi, i + 1)
    }

    // MARK: groups and flags

    /// Parses `(...)`. Returns nil for a flags-only group like `(?i)`, which changes the current flags.
    mutating func parseGroup(depth: Int) throws(RE2SyntaxError) -> RE2Node? {
        let start = pos
        var name: String? = nil
        var capturing = true
        let saved = flags
        if peek(1) == "?" {
            let startsWithP = peek(2) == "P" && peek(3) == "<" && s.count - pos > 4
            let startsWithName = peek(2) == "<" && s.count - pos > 3
            if startsWithP || startsWithName {
                let nameStart = pos + (startsWithP ? 4 : 3)
                guard let end = s[pos...].firstIndex(of: ">") else {
                    throw RE2SyntaxError(code: "invalid named capture", expression: text(start, s.count))
                }
                let n = text(nameStart, end)
                if !Self.isValidCaptureName(n) {
                    throw RE2SyntaxError(code: "invalid named capture", expression: text(start, end + 1))
                }
                name = n
                pos = end + 1
            } else {
                // Flags, possibly followed by ':' for a non-capturing group.
                pos += 2
                var newFlags = flags
                var negate = false
                var sawFlag = false
                while true {
                    guard let c = peek() else {
                        throw RE2SyntaxError(code: "invalid or unsupported Perl syntax", expression: text(start, pos))
                    }
                    pos += 1
                    switch c {
                    case "i": newFlags.foldCase = !negate; sawFlag = true
                    case "m": newFlags.multiLine = !negate; sawFlag = true
                    case "s": newFlags.dotNL = !negate; sawFlag = true
                    case "U": newFlags.nonGreedy = !negate; sawFlag = true
                    case "-":
                        if negate {
                            throw RE2SyntaxError(code: "invalid or unsupported Perl syntax", expression: text(start, pos))
                        }
                        negate = true
                        sawFlag = false
                    case ":", ")":
                        if negate && !sawFlag {
                            throw RE2SyntaxError(code: "invalid or unsupported Perl syntax", expression: text(start, pos))
                        }
                        if c == ")" {
                            // (?flags): applies to the rest of the enclosing group.
                            flags = newFlags
                            return nil
                        }
                        flags = newFlags
                        capturing = false
                    default:
                        // Lookahead (?= (?!, atomic (?>, comments (?#, backreferences (?P=...: not RE2.
                        throw RE2SyntaxError(code: "invalid or unsupported Perl syntax", expression: text(start, pos))
                    }
                    if c == ":" { break }
                }
            }
        } else {
            pos += 1
        }
        var index = 0
        if capturing {
            captureCount += 1
            index = captureCount
            captureNames.append(name)
        }
        let inner = try parseAlternation(depth: depth + 1)
        guard peek() == ")" else {
            throw RE2SyntaxError(code: "missing closing )", expression: whole)
        }
        pos += 1
        flags = saved
        return capturing ? .capture(index: index, name: name, inner) : inner
    }

    static func isValidCaptureName(_ name: String) -> Bool {
        if name.isEmpty { return false }
        for u in name.unicodeScalars {
            if !(u == "_" || ("0"..."9").contains(u) || ("a"..."z").contains(u) || ("A"..."Z").contains(u)) {
                return false
            }
        }
        return true
    }

    // MARK: escapes

    private mutating func parseEscapeOutsideClass(into items: inout [RE2Node]) throws(RE2SyntaxError) {
        let start = pos
        guard let c = peek(1) else {
            throw RE2SyntaxError(code: "trailing backslash at end of expression", expression: "")
        }
        switch c {
        case "A": pos += 2; items.append(.beginText); return
        case "z": pos += 2; items.append(.endText); return
        case "b": pos += 2; items.append(.wordBoundary); return
        case "B": pos += 2; items.append(.notWordBoundary); return
        case "C": throw RE2SyntaxError(code: "invalid escape sequence", expression: text(start, start + 2))
        case "Q":
            // \Q...\E: literal text up to \E or the end.
            var i = pos + 2
            while i < s.count {
                if s[i] == "\\" && i + 1 < s.count && s[i + 1] == "E" { break }
                items.append(.literal(s[i], fold: flags.foldCase))
                i += 1
            }
            pos = i < s.count ? i + 2 : i
            return
        case "p", "P":
            items.append(try parseUnicodeClassEscape(fold: flags.foldCase))
            return
        case "d", "D", "s", "S", "w", "W":
            pos += 2
            let (ranges, negated) = Self.perlClass(c)
            items.append(.charClass(ranges.map { .range($0.0, $0.1) }, negated: negated, fold: flags.foldCase))
            return
        default:
            items.append(.literal(try parseSimpleEscape(), fold: flags.foldCase))
        }
    }

    /// `\p{Name}`, `\pL`, `\P{Name}`, `\p{^Name}` at `pos`; returns a class node.
    private mutating func parseUnicodeClassEscape(fold: Bool) throws(RE2SyntaxError) -> RE2Node {
        let item = try parseUnicodeItem()
        return .charClass([item], negated: false, fold: fold)
    }

    private mutating func parseUnicodeItem() throws(RE2SyntaxError) -> ClassItem {
        let start = pos
        var negated = s[pos + 1] == "P"
        pos += 2
        guard let c = peek() else {
            throw RE2SyntaxError(code: "invalid character class range", expression: text(start, pos))
        }
        var name: String
        if c == "{" {
            guard let end = s[pos...].firstIndex(of: "}") else {
                throw RE2SyntaxError(code: "invalid character class range", expression: text(start, s.count))
            }
            name = text(pos + 1, end)
            pos = end + 1
            if name.hasPrefix("^") {
                negated.toggle()
                name.removeFirst()
            }
        } else {
            pos += 1
            name = String(Character(c))
        }
        guard UnicodeTables.isKnown(name) else {
            throw RE2SyntaxError(code: "invalid character class range", expression: text(start, pos))
        }
        return .property(name, negated: negated)
    }

    /// Single-character escapes (shared by class and non-class contexts).
    private mutating func parseSimpleEscape() throws(RE2SyntaxError) -> Unicode.Scalar {
        let start = pos
        pos += 1  // backslash
        guard let c = peek() else {
            throw RE2SyntaxError(code: "trailing backslash at end of expression", expression: "")
        }
        pos += 1
        func invalid() -> RE2SyntaxError {
            RE2SyntaxError(code: "invalid escape sequence", expression: text(start, pos))
        }
        switch c {
        case "1", "2", "3", "4", "5", "6", "7", "0":
            // A single non-zero digit would be a backreference: unsupported. Otherwise octal, up to 3 digits.
            if c != "0" {
                guard let n = peek(), ("0"..."7").contains(n) else { throw invalid() }
            }
            var v = c.value - 48
            var k = 1
            while k < 3, let n = peek(), ("0"..."7").contains(n) {
                v = v * 8 + (n.value - 48)
                pos += 1
                k += 1
            }
            return Unicode.Scalar(v)!
        case "x":
            guard let n = peek() else { throw invalid() }
            if n == "{" {
                pos += 1
                var v: UInt32 = 0
                var digits = 0
                while let d = peek(), let h = Self.hexValue(d) {
                    pos += 1
                    digits += 1
                    v = v &* 16 &+ h
                    if v > 0x10FFFF { throw invalid() }
                }
                guard digits > 0, peek() == "}" else {
                    if peek() != nil { pos += 1 }
                    throw invalid()
                }
                pos += 1
                guard let u = Unicode.Scalar(v) else { throw invalid() }
                return u
            }
            guard let h1 = Self.hexValue(n), let n2 = peek(1), let h2 = Self.hexValue(n2) else {
                pos = min(pos + 2, s.count)
                throw invalid()
            }
            pos += 2
            return Unicode.Scalar(h1 * 16 + h2)!
        case "a": return "\u{07}"
        case "f": return "\u{0C}"
        case "n": return "\n"
        case "r": return "\r"
        case "t": return "\t"
        case "v": return "\u{0B}"
        default:
            // Escaped ASCII punctuation is literal; anything else (\Z, \G, \K, \R, \e, \u, \8, ...) is an error.
            if c.isASCII && !Self.isAlnum(c) { return c }
            throw invalid()
        }
    }

    static func hexValue(_ c: Unicode.Scalar) -> UInt32? {
        switch c {
        case "0"..."9": return c.value - 48
        case "a"..."f": return c.value - 87
        case "A"..."F": return c.value - 55
        default: return nil
        }
    }

    static func isAlnum(_ c: Unicode.Scalar) -> Bool {
        ("0"..."9").contains(c) || ("a"..."z").contains(c) || ("A"..."Z").contains(c)
    }

    /// RE2's ASCII-only Perl classes.
    static func perlClass(_ c: Unicode.Scalar) -> ([(UInt32, UInt32)], Bool) {
        switch c {
        case "d": return ([(0x30, 0x39)], false)
        case "D": return ([(0x30, 0x39)], true)
        case "s": return ([(0x09, 0x0A), (0x0C, 0x0D), (0x20, 0x20)], false)
        case "S": return ([(0x09, 0x0A), (0x0C, 0x0D), (0x20, 0x20)], true)
        case "w": return ([(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)], false)
        default: return ([(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)], true)
        }
    }

    /// POSIX classes inside brackets (ASCII only in RE2).
    static func posixClass(_ name: String) -> [(UInt32, UInt32)]? {
        switch name {
        case "alnum": return [(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)]
        case "alpha": return [(0x41, 0x5A), (0x61, 0x7A)]
        case "ascii": return [(0x00, 0x7F)]
        case "blank": return [(0x09, 0x09), (0x20, 0x20)]
        case "cntrl": return [(0x00, 0x1F), (0x7F, 0x7F)]
        case "digit": return [(0x30, 0x39)]
        case "graph": return [(0x21, 0x7E)]
        case "lower": return [(0x61, 0x7A)]
        case "print": return [(0x20, 0x7E)]
        case "punct": return [(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)]
        case "space": return [(0x09, 0x0D), (0x20, 0x20)]
        case "upper": return [(0x41, 0x5A)]
        case "word": return [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]
        case "xdigit": return [(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)]
        default: return nil
        }
    }

    /// Complement of sorted, possibly overlapping ranges over all code points.
    static func complement(_ ranges: [(UInt32, UInt32)]) -> [(UInt32, UInt32)] {
        let sorted = ranges.sorted { $0.0 < $1.0 }
        var out: [(UInt32, UInt32)] = []
        var next: UInt32 = 0
        for (lo, hi) in sorted {
            if lo > next { out.append((next, lo - 1)) }
            if hi + 1 > next { next = hi + 1 }
        }
        if next <= 0x10FFFF { out.append((next, 0x10FFFF)) }
        return out
    }

    // MARK: bracketed classes

    private mutating func parseClass() throws(RE2SyntaxError) -> RE2Node {
        let start = pos
        pos += 1  // [
        var negated = false
        if peek() == "^" {
            negated = true
            pos += 1
        }
        var items: [ClassItem] = []
        var first = true
        func missing() -> RE2SyntaxError {
            RE2SyntaxError(code: "missing closing ]", expression: text(start, s.count))
        }
        while true {
            guard let c = peek() else { throw missing() }
            if c == "]" && !first { break }
            first = false
            // POSIX [:name:] / [:^name:]
            if c == "[" && peek(1) == ":" {
                var j = pos + 2
                var found: Int? = nil
                while j + 1 < s.count {
                    if s[j] == ":" && s[j + 1] == "]" {
                        found = j
                        break
                    }
                    j += 1
                }
                if let end = found {
                    var name = text(pos + 2, end)
                    var neg = false
                    if name.hasPrefix("^") {
                        neg = true
                        name.removeFirst()
                    }
                    guard let ranges = Self.posixClass(name) else {
                        throw RE2SyntaxError(code: "invalid character class range", expression: text(pos, end + 2))
                    }
                    items += (neg ? Self.complement(ranges) : ranges).map { .range($0.0, $0.1) }
                    pos = end + 2
                    continue
                }
            }
            if c == "\\", let n = peek(1) {
                if n == "p" || n == "P" {
                    items.append(try parseUnicodeItem())
                    continue
                }
                if "dDsSwW".unicodeScalars.contains(n) {
                    pos += 2
                    let (ranges, neg) = Self.perlClass(n)
                    items += (neg ? Self.complement(ranges) : ranges).map { .range($0.0, $0.1) }
                    continue
                }
            }
            let rangeStart = pos
            let lo = try parseClassChar(start)
            var hi = lo
            if peek() == "-", let after = peek(1), after != "]" {
                pos += 1
                hi = try parseClassChar(start)
                if hi.value < lo.value {
                    throw RE2SyntaxError(code: "invalid character class range", expression: text(rangeStart, pos))
                }
            }
            items.append(.range(lo.value, hi.value))
        }
        pos += 1  // ]
        return .charClass(items, negated: negated, fold: flags.foldCase)
    }

    private mutating func parseClassChar(_ classStart: Int) throws(RE2SyntaxError) -> Unicode.Scalar {
        guard let c = peek() else {
            throw RE2SyntaxError(code: "missing closing ]", expression: text(classStart, s.count))
        }
        if c == "\\" { return try parseSimpleEscape() }
        pos += 1
        return c
    }
}

/// Unicode property names RE2 (Go) knows: "Any", general categories and scripts (case-sensitive).
enum UnicodeTables {
    static let categories: Set<String> = [
        "C", "Cc", "Cf", "Co", "Cs", "L", "Ll", "Lm", "Lo", "Lt", "Lu", "M", "Mc", "Me", "Mn", "N", "Nd", "Nl", "No",
        "P", "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps", "S", "Sc", "Sk", "Sm", "So", "Z", "Zl", "Zp", "Zs",
    ]
    static let scripts: Set<String> = [
        "Adlam", "Ahom", "Anatolian_Hieroglyphs", "Arabic", "Armenian", "Avestan", "Balinese", "Bamum", "Bassa_Vah",
        "Batak", "Bengali", "Bhaiksuki", "Bopomofo", "Brahmi", "Braille", "Buginese", "Buhid", "Canadian_Aboriginal",
        "Carian", "Caucasian_Albanian", "Chakma", "Cham", "Cherokee", "Chorasmian", "Common", "Coptic", "Cuneiform",
        "Cypriot", "Cypro_Minoan", "Cyrillic", "Deseret", "Devanagari", "Dives_Akuru", "Dogra", "Duployan",
        "Egyptian_Hieroglyphs", "Elbasan", "Elymaic", "Ethiopic", "Georgian", "Glagolitic", "Gothic", "Grantha",
        "Greek", "Gujarati", "Gunjala_Gondi", "Gurmukhi", "Han", "Hangul", "Hanifi_Rohingya", "Hanunoo", "Hatran",
        "Hebrew", "Hiragana", "Imperial_Aramaic", "Inherited", "Inscriptional_Pahlavi", "Inscriptional_Parthian",
        "Javanese", "Kaithi", "Kannada", "Katakana", "Kawi", "Kayah_Li", "Kharoshthi", "Khitan_Small_Script", "Khmer",
        "Khojki", "Khudawadi", "Lao", "Latin", "Lepcha", "Limbu", "Linear_A", "Linear_B", "Lisu", "Lycian", "Lydian",
        "Mahajani", "Makasar", "Malayalam", "Mandaic", "Manichaean", "Marchen", "Masaram_Gondi", "Medefaidrin",
        "Meetei_Mayek", "Mende_Kikakui", "Meroitic_Cursive", "Meroitic_Hieroglyphs", "Miao", "Modi", "Mongolian",
        "Mro", "Multani", "Myanmar", "Nabataean", "Nag_Mundari", "Nandinagari", "New_Tai_Lue", "Newa", "Nko",
        "Nushu", "Nyiakeng_Puachue_Hmong", "Ogham", "Ol_Chiki", "Old_Hungarian", "Old_Italic", "Old_North_Arabian",
        "Old_Permic", "Old_Persian", "Old_Sogdian", "Old_South_Arabian", "Old_Turkic", "Old_Uyghur", "Oriya",
        "Osage", "Osmanya", "Pahawh_Hmong", "Palmyrene", "Pau_Cin_Hau", "Phags_Pa", "Phoenician", "Psalter_Pahlavi",
        "Rejang", "Runic", "Samaritan", "Saurashtra", "Sharada", "Shavian", "Siddham", "SignWriting", "Sinhala",
        "Sogdian", "Sora_Sompeng", "Soyombo", "Sundanese", "Syloti_Nagri", "Syriac", "Tagalog", "Tagbanwa",
        "Tai_Le", "Tai_Tham", "Tai_Viet", "Takri", "Tamil", "Tangsa", "Tangut", "Telugu", "Thaana", "Thai",
        "Tibetan", "Tifinagh", "Tirhuta", "Toto", "Ugaritic", "Vai", "Vithkuqi", "Wancho", "Warang_Citi", "Yezidi",
        "Yi", "Zanabazar_Square",
    ]

    static func isKnown(_ name: String) -> Bool {
        name == "Any" || categories.contains(name) || scripts.contains(name)
    }
}
