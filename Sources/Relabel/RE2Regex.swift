import ByteStrings

/// A regular expression with Go RE2 syntax and semantics, as Prometheus relabeling uses it.
///
/// `RE2Regex(relabel:)` compiles `^(?s:<pattern>)$` like Prometheus 3 (`^(?:<pattern>)$` with
/// `dotMatchesNewline: false`, like Prometheus 2). Our RE2 parser (`RE2Syntax.swift`) validates the
/// pattern with Go's rules and error messages; Google's RE2 then runs it, in time linear in the
/// input: relabel rules come from application teams' ServiceMonitors, and a backtracking engine
/// lets one rule such as `(a+)+b` stall the leader. Common shapes (literals, alternations of
/// literals, `prefix(.*)suffix`) are matched on the bytes without calling RE2 at all.
///
/// All positions are UTF-8 byte offsets, and everything compares bytes, like Go.
public final class RE2Regex: Sendable, CustomStringConvertible {
    /// The pattern as written by the user (without the anchoring wrapper).
    public let pattern: String
    /// Number of capture groups (not counting the whole match).
    public let captureCount: Int
    /// Capture names by group index (index 0 is the whole match and has no name).
    let names: [String?]
    let fast: FastMatcher?
    let program: RE2Program?
    /// The program must match the whole input (the wrapper stayed intact, the usual case).
    let wholeMatch: Bool

    /// What RE2 compiled (for diagnostics and tests); empty when a fast path needs no program.
    public let translated: String

    public var description: String { pattern }

    /// Compiles a relabel regex: fully anchored, `.` matching newlines when `dotMatchesNewline`.
    public init(relabel pattern: String, dotMatchesNewline: Bool = true) throws(RE2SyntaxError) {
        let wrapped = (dotMatchesNewline ? "^(?s:" : "^(?:") + pattern + ")$"
        self.pattern = pattern
        let (tree, names) = try RE2Parser.parse(wrapped, flags: RE2Flags())
        self.names = names
        self.captureCount = names.count - 1

        // The usual case: the wrapper stays intact, `\A X \z`, and X must match the whole input.
        // A pattern such as `a)|(b` breaks out of the wrapper; it then gets Go's unanchored search.
        var whole: RE2Node? = nil
        if case .concat(let items) = tree, items.count >= 2, items.first == .beginText, items.last == .endText {
            let middle = Array(items[1..<(items.count - 1)])
            whole = middle.count == 1 ? middle[0] : (middle.isEmpty ? .empty : .concat(middle))
        }
        wholeMatch = whole != nil
        fast = whole.flatMap { FastMatcher.analyze($0, captureCount: names.count - 1) }
        if fast != nil {
            program = nil
            translated = ""
            return
        }
        let emitted = RE2Emitter.emit(whole ?? tree)
        translated = emitted
        do {
            program = try RE2Program(emitted)
        } catch {
            // Our parser accepted it, so this is one of RE2's own limits (program size, mostly).
            throw RE2SyntaxError(
                code: error.code == RE2Program.patternTooLarge ? "expression too large" : error.message, expression: pattern)
        }
        guard program?.captureCount == captureCount else {
            throw RE2SyntaxError(code: "regexp/syntax: internal error", expression: pattern)
        }
    }

    /// Whether the regex matches `s` (for the usual anchored pattern: the whole of `s`).
    public func matches(_ s: String) -> Bool {
        if let fast { return fast.matches(s) }
        return s.withBytes { program!.matches($0, anchored: wholeMatch) }
    }

    /// The match with capture group ranges, or nil.
    public func match(_ s: String) -> RE2Match? {
        if let fast { return fast.match(s) }
        return s.withBytes { program!.match($0, anchored: wholeMatch) }.map(RE2Match.init)
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

    /// `replaceAll` with a pre-parsed template. For the usual anchored regex there is at most one
    /// match, covering the whole string.
    public func replaceAll(_ s: String, with template: ExpandTemplate) -> String {
        if wholeMatch {
            guard let m = match(s) else { return s }
            return template.expand(match: m, in: s)
        }
        // Go's loop: every leftmost-first match in turn, skipping an empty match right after the
        // previous match, and always advancing at least one character.
        let program = program!
        return s.withBytes { bytes in
            var out: [UInt8] = []
            var lastMatchEnd = 0
            var searchPos = 0
            while searchPos <= bytes.count, let groups = program.match(bytes, from: searchPos, anchored: false) {
                let whole = groups[0]!
                out += bytes[lastMatchEnd..<whole.lowerBound]
                if whole.upperBound > lastMatchEnd || whole.lowerBound == 0 {
                    template.append(RE2Match(groups: groups), of: bytes, to: &out)
                }
                lastMatchEnd = whole.upperBound
                let width = searchPos < bytes.count ? UTF8.width(startingWith: bytes[searchPos]) : 1
                if searchPos + width > whole.upperBound {
                    searchPos += width
                } else if searchPos + 1 > whole.upperBound {
                    searchPos += 1
                } else {
                    searchPos = whole.upperBound
                }
            }
            out += bytes[lastMatchEnd...]
            return String(decoding: out, as: UTF8.self)
        }
    }

    /// Whether matching skips RE2 for this pattern.
    public var usesFastPath: Bool { fast != nil }

    /// True when the pattern kept Prometheus's anchoring wrapper intact (the usual case).
    public var isAnchored: Bool { wholeMatch }
}

extension UTF8 {
    /// The length of the sequence a lead byte starts (1 for a stray continuation byte, as Go counts it).
    static func width(startingWith lead: UInt8) -> Int {
        switch lead {
        case 0xF0...: return 4
        case 0xE0...: return 3
        case 0xC0...: return 2
        default: return 1
        }
    }
}
