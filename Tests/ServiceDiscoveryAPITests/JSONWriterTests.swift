import JSON
import Testing

/// `JSONWriter.string` copies runs of bytes; Go's encoder (`encoding/json`, which upstream's
/// answers come from) is defined per rune. The reference below follows Go's rules rune by rune;
/// generated strings hunt the edges: every control character, the HTML-sensitive `<>&`, U+2028
/// and U+2029 beside their byte neighbours (U+2027, U+202A, other E2 80 xx and E2 xx A8), runes
/// of every UTF-8 length, escapes at the start and end, empty strings.
@Suite struct JSONWriterTests {
    /// Go's `encodeState.string` with HTML escaping, one Unicode scalar at a time.
    static func reference(_ s: String) -> [UInt8] {
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = [0x22]
        for scalar in s.unicodeScalars {
            let v = scalar.value
            switch v {
            case 0x22: out += [0x5c, 0x22]
            case 0x5c: out += [0x5c, 0x5c]
            case 0x0a: out += Array(#"\n"#.utf8)
            case 0x0d: out += Array(#"\r"#.utf8)
            case 0x09: out += Array(#"\t"#.utf8)
            case 0x08: out += Array(#"\b"#.utf8)
            case 0x0c: out += Array(#"\f"#.utf8)
            case 0..<0x20, 0x3c, 0x3e, 0x26, 0x2028, 0x2029:
                out += Array(#"\u"#.utf8) + [hex[Int(v >> 12 & 0xf)], hex[Int(v >> 8 & 0xf)], hex[Int(v >> 4 & 0xf)], hex[Int(v & 0xf)]]
            default: out += Array(String(scalar).utf8)
            }
        }
        return out + [0x22]
    }

    static func written(_ s: String) -> [UInt8] {
        var out: [UInt8] = [0x7b]  // something before, as in a document
        JSONWriter.string(s, into: &out)
        return Array(out.dropFirst())
    }

    @Test func knownCases() {
        #expect(Self.written("") == Array(#""""#.utf8))
        #expect(Self.written("a<b>&\"\\\n") == Array(#""a\u003cb\u003e\u0026\"\\\n""#.utf8))
        #expect(Self.written("x\u{2028}y\u{2029}") == Array(#""x\u2028y\u2029""#.utf8))
        #expect(Self.written("\u{2027}\u{202A}é\u{7f}") == Array("\"\u{2027}\u{202A}é\u{7f}\"".utf8))
        #expect(Self.written("\u{0}\u{1f}") == Array(#""\u0000\u001f""#.utf8))
    }

    @Test func generatedStringsMatchGosRules() {
        let pieces: [String] = [
            "a", "Z", "0", " ", "\"", "\\", "/", "<", ">", "&", "\u{7f}", "é", "e\u{301}", "ß", "\u{2027}", "\u{2028}", "\u{2029}",
            "\u{202A}", "\u{20AC}", "\u{E028}", "\u{1F600}", "\u{FFFD}", "\u{10FFFF}", "__address__", "10.0.0.1:8080",
        ] + (0..<0x20).map { String(UnicodeScalar(UInt8($0))) }
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func next(_ bound: Int) -> Int {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Int(state % UInt64(bound))
        }
        var mismatches: [String] = []
        for _ in 0..<20_000 {
            var s = ""
            for _ in 0..<next(12) { s += pieces[next(pieces.count)] }
            if Self.written(s) != Self.reference(s) { mismatches.append(s.debugDescription) }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }
}
