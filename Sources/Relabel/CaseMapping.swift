/// Go's `strings.ToLower` / `strings.ToUpper`: per code point, simple (1:1) case mappings.
/// Swift's `lowercased()`/`uppercased()` use full mappings ("ß" → "SS", "İ" → "i̇"), which Go does not.
enum CaseMapping {
    static func lower(_ s: String) -> String { map(s, upper: false) }
    static func upper(_ s: String) -> String { map(s, upper: true) }

    private static func map(_ s: String, upper: Bool) -> String {
        // ASCII fast path.
        var ascii = true
        var changes = false
        for b in s.utf8 {
            if b >= 0x80 {
                ascii = false
                break
            }
            if upper ? (b >= 0x61 && b <= 0x7A) : (b >= 0x41 && b <= 0x5A) { changes = true }
        }
        if ascii {
            if !changes { return s }
            let bytes = s.utf8.map { b -> UInt8 in
                if upper { return (b >= 0x61 && b <= 0x7A) ? b - 32 : b }
                return (b >= 0x41 && b <= 0x5A) ? b + 32 : b
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars { out.append(simple(u, upper: upper)) }
        return String(out)
    }

    static func simple(_ u: Unicode.Scalar, upper: Bool) -> Unicode.Scalar {
        let full = upper ? u.properties.uppercaseMapping : u.properties.lowercaseMapping
        var it = full.unicodeScalars.makeIterator()
        if let first = it.next() {
            if it.next() == nil { return first }
        }
        // Multi-scalar full mapping: use the simple mapping from UnicodeData where there is one.
        if !upper {
            return u == "\u{130}" ? "i" : u  // İ → i
        }
        switch u.value {
        case 0x1F80...0x1F87, 0x1F90...0x1F97, 0x1FA0...0x1FA7:
            return Unicode.Scalar(u.value + 8)!  // ᾀ → ᾈ (with prosgegrammeni)
        case 0x1FB3: return "\u{1FBC}"
        case 0x1FC3: return "\u{1FCC}"
        case 0x1FF3: return "\u{1FFC}"
        default: return u
        }
    }
}
