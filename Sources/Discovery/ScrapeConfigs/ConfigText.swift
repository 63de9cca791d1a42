/// Bounded quoting of config text in problems and log lines: a config file is read again on
/// every reload, so a value of megabytes (or a one-line file) must never be echoed whole.
public enum ConfigText {
    /// At most `limit` Unicode scalars of `text`, control characters escaped (`\\n`, `\\u{1b}`), with the size of
    /// what was cut: `abc…(+12345 bytes)`.
    public static func excerpt(_ text: some StringProtocol, limit: Int = 64) -> String {
        let text = String(text)
        var out = ""
        var taken = 0
        var cutAt: String.UnicodeScalarView.Index?
        let scalars = text.unicodeScalars
        for index in scalars.indices {
            if taken == limit {
                cutAt = index
                break
            }
            out += escaped(scalars[index])
            taken += 1
        }
        guard let cutAt else { return out }
        let rest = text.utf8.distance(from: cutAt, to: text.utf8.endIndex)
        return out + "…(+\(rest) bytes)"
    }

    /// A problem or warning cut to `limit` Unicode scalars (the path and the start of the reason
    /// survive), as the last line of defence for messages that quote values.
    public static func bounded(_ message: String, limit: Int = 400) -> String {
        message.unicodeScalars.count <= limit ? message : excerpt(message, limit: limit)
    }

    /// The text around `column` (counted in Unicode scalars from 1, as libyaml does) of line
    /// `line` (from 1): at most `radius` scalars on each side, so a syntax error in a
    /// one-line file of megabytes quotes a few dozen characters.
    public static func excerpt(of text: String, line: Int, column: Int, radius: Int = 30) -> String {
        var lineStart = text.utf8.startIndex
        var currentLine = 1
        if line > 1 {
            for index in text.utf8.indices where text.utf8[index] == 0x0A {
                currentLine += 1
                if currentLine == line {
                    lineStart = text.utf8.index(after: index)
                    break
                }
            }
        }
        guard currentLine == line else { return "" }
        let scalars = text.unicodeScalars[(lineStart.samePosition(in: text.unicodeScalars) ?? text.unicodeScalars.endIndex)...]
        let from = max(0, column - 1 - radius)
        var out = from > 0 ? "…" : ""
        var position = 0
        for scalar in scalars {
            if scalar == "\n" { break }
            if position >= column - 1 + radius {
                out += "…"
                break
            }
            if position >= from {
                if position == column - 1 { out += "⟨here⟩" }
                out += escaped(scalar)
            }
            position += 1
        }
        return out
    }

    private static func escaped(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case "\n": "\\n"
        case "\r": "\\r"
        case "\t": "\\t"
        default: scalar.value < 0x20 || scalar.value == 0x7F ? "\\u{\(String(scalar.value, radix: 16))}" : String(scalar)
        }
    }
}
