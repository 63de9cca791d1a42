import ByteStrings

/// Capture group byte ranges of one match (index 0 is the whole match; nil = group did not take part).
public struct RE2Match: Sendable {
    public let groups: [Range<Int>?]

    public init(groups: [Range<Int>?]) { self.groups = groups }

    /// The text of group `i` in `s`, or nil.
    public func group(_ i: Int, in s: String) -> String? {
        guard i < groups.count, let r = groups[i] else { return nil }
        return s.withBytes { String(decoding: $0[r], as: UTF8.self) }
    }
}

/// A replacement template parsed once (Go's `Regexp.Expand` rules): literal text and group references.
/// `$name` takes the longest run of letters, digits and `_`, so `$1x` refers to the group named `1x`;
/// a reference to a missing group, or to a group that did not take part, expands to "".
public struct ExpandTemplate: Sendable {
    enum Piece: Sendable {
        case text([UInt8])
        /// Candidate group indices; the first that took part in the match is used.
        case groups([Int])
    }

    let pieces: [Piece]
    /// The template has no `$` at all: expansion is the template itself.
    let constant: String?

    init(_ template: String, names: [String?]) {
        if !template.utf8.contains(UInt8(ascii: "$")) {
            pieces = [.text(Array(template.utf8))]
            constant = template
            return
        }
        var pieces: [Piece] = []
        var text: [UInt8] = []
        let t = Array(template.utf8)
        var i = 0
        while i < t.count {
            guard t[i] == UInt8(ascii: "$") else {
                text.append(t[i])
                i += 1
                continue
            }
            if i + 1 < t.count && t[i + 1] == UInt8(ascii: "$") {
                text.append(UInt8(ascii: "$"))
                i += 2
                continue
            }
            guard let (name, rest) = Self.extract(t, from: i + 1) else {
                text.append(UInt8(ascii: "$"))  // malformed: the `$` is literal text
                i += 1
                continue
            }
            if !text.isEmpty {
                pieces.append(.text(text))
                text = []
            }
            pieces.append(.groups(Self.resolve(name, names: names)))
            i = rest
        }
        if !text.isEmpty { pieces.append(.text(text)) }
        self.pieces = pieces
        self.constant = nil
    }

    /// Go's `extract`: a name of letters, digits and `_` (Unicode), optionally in braces; returns
    /// the name and where the reference ends.
    static func extract(_ t: [UInt8], from start: Int) -> (String, Int)? {
        var i = start
        guard i < t.count else { return nil }
        var brace = false
        if t[i] == UInt8(ascii: "{") {
            brace = true
            i += 1
        }
        let nameStart = i
        while i < t.count {
            let width = UTF8.width(startingWith: t[i])
            guard i + width <= t.count else { break }
            var scalars = String(decoding: t[i..<(i + width)], as: UTF8.self).unicodeScalars.makeIterator()
            guard let u = scalars.next(), isNameScalar(u) else { break }
            i += width
        }
        if i == nameStart { return nil }
        let name = String(decoding: t[nameStart..<i], as: UTF8.self)
        if brace {
            guard i < t.count, t[i] == UInt8(ascii: "}") else { return nil }
            i += 1
        }
        return (name, i)
    }

    /// Go's `unicode.IsLetter || unicode.IsDigit || '_'`.
    static func isNameScalar(_ u: Unicode.Scalar) -> Bool {
        if u.isASCII { return RE2Parser.isAlnum(u) || u == "_" }
        switch u.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .decimalNumber:
            return true
        default:
            return false
        }
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
        return names.indices.filter { names[$0].map { $0.bytesEqual(name) } ?? false }
    }

    public func expand(match: RE2Match, in s: String) -> String {
        if let constant { return constant }
        if pieces.count == 1, case .groups(let candidates) = pieces[0] {
            // `$1` alone, the default replacement: often the whole value, then no copy at all.
            guard let r = candidates.lazy.compactMap({ $0 < match.groups.count ? match.groups[$0] : nil }).first else { return "" }
            if r.lowerBound == 0 && r.upperBound == s.utf8.count { return s }
            return s.withBytes { String(decoding: $0[r], as: UTF8.self) }
        }
        var out: [UInt8] = []
        s.withBytes { append(match, of: $0, to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the expansion for `match` in `bytes` (RE2 and the fast paths only report group
    /// boundaries between characters, so the result stays valid UTF-8).
    func append(_ match: RE2Match, of bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        for piece in pieces {
            switch piece {
            case .text(let t):
                out += t
            case .groups(let candidates):
                for g in candidates where g < match.groups.count {
                    if let r = match.groups[g] {
                        out += bytes[r]
                        break
                    }
                }
            }
        }
    }
}
