/// Writes a parsed pattern back as RE2 syntax for Google's RE2 to compile.
///
/// Our parser (`RE2Syntax.swift`) decides what is valid, with Go's error messages; RE2 then only
/// ever sees this normalised form: literals as `\x{…}`, classes as explicit ranges or `\p{…}`,
/// flags as scoped groups, every capture unnamed (names are resolved on our side, so RE2's
/// version need not know `(?<name>…)`), and group numbers in the same order as the original's.
enum RE2Emitter {
    static func emit(_ node: RE2Node) -> String {
        var out = ""
        emit(node, into: &out)
        return out
    }

    private static func hex(_ v: UInt32) -> String { "\\x{" + String(v, radix: 16) + "}" }

    private static func literal(_ u: Unicode.Scalar) -> String {
        RE2Parser.isAlnum(u) ? String(Character(u)) : hex(u.value)
    }

    private static func emitClass(_ items: [ClassItem], negated: Bool, into out: inout String) {
        guard !items.isEmpty else {
            // `[]` cannot be written: the empty class matches nothing, its negation any character.
            out += negated ? "[\\x{0}-\\x{10ffff}]" : "[^\\x{0}-\\x{10ffff}]"
            return
        }
        out += negated ? "[^" : "["
        for item in items {
            switch item {
            case .range(let lo, let hi):
                out += lo == hi ? hex(lo) : hex(lo) + "-" + hex(hi)
            case .property(let name, let neg):
                out += (neg ? "\\P{" : "\\p{") + name + "}"
            }
        }
        out += "]"
    }

    private static func emit(_ node: RE2Node, into out: inout String) {
        switch node {
        case .empty:
            out += "(?:)"
        case .literal(let u, let fold):
            out += fold ? "(?i:" + literal(u) + ")" : literal(u)
        case .charClass(let items, let negated, let fold):
            if fold { out += "(?i:" }
            emitClass(items, negated: negated, into: &out)
            if fold { out += ")" }
        case .anyChar(let nl):
            out += nl ? "(?s:.)" : "(?-s:.)"
        case .beginText: out += "\\A"
        case .endText: out += "\\z"
        case .beginLine: out += "(?m:^)"
        case .endLine: out += "(?m:$)"
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
