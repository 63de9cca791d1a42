/// Go's `url.QueryEscape`/`QueryUnescape`, which collectors use for job names in paths
/// (`/` → `%2F`, space → `+`). Matching them exactly is what makes
/// `serviceMonitor/ns/name/0` jobs reachable (upstream issue #925).
public enum GoURLEscaping {
    private static let hex = Array("0123456789ABCDEF".utf8)

    @inline(__always)
    static func isUnreserved(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    public static func queryEscape(_ s: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        for c in s.utf8 {
            if isUnreserved(c) {
                out.append(c)
            } else if c == UInt8(ascii: " ") {
                out.append(UInt8(ascii: "+"))
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(c >> 4)])
                out.append(hex[Int(c & 0xf)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Returns nil for a malformed escape (`%zz`, a truncated `%4`), as Go returns an error,
    /// and for bytes that are not UTF-8.
    public static func queryUnescape(_ bytes: some Collection<UInt8>) -> String? {
        queryUnescapeBytes(bytes).flatMap { String(validating: $0, as: UTF8.self) }
    }

    /// The unescaped bytes, as Go's `QueryUnescape` returns them (not checked for UTF-8);
    /// nil for a malformed escape.
    public static func queryUnescapeBytes(_ bytes: some Collection<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var it = bytes.makeIterator()
        while let c = it.next() {
            switch c {
            case UInt8(ascii: "+"):
                out.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let h = it.next().flatMap(hexValue), let l = it.next().flatMap(hexValue) else { return nil }
                out.append(h << 4 | l)
            default:
                out.append(c)
            }
        }
        return out
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
