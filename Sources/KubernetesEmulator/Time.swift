import Foundation

/// RFC 3339 formatting and the strict `metav1.MicroTime` parsing of the real API server.
enum KubeTimeFormat {
    /// `metav1.Time`: UTC, seconds precision.
    static func seconds(_ date: Date) -> String { format(date, micro: false) }

    /// `metav1.MicroTime`: UTC, exactly six fractional digits.
    static func micro(_ date: Date) -> String { format(date, micro: true) }

    static func format(_ date: Date, micro: Bool) -> String {
        let total = date.timeIntervalSince1970
        var seconds = Int64(total.rounded(.down))
        var micros = Int64(((total - Double(seconds)) * 1_000_000).rounded())
        if micros >= 1_000_000 {
            seconds += 1
            micros -= 1_000_000
        }
        let days = floorDiv(seconds, 86_400)
        let s = seconds - days * 86_400
        let (y, mo, d) = civil(days: days)
        var out = "\(pad(y, 4))-\(pad(mo, 2))-\(pad(d, 2))T\(pad(s / 3600, 2)):\(pad(s / 60 % 60, 2)):\(pad(s % 60, 2))"
        if micro { out += "." + pad(micros, 6) }
        return out + "Z"
    }

    /// Go's `time.Parse("2006-01-02T15:04:05.000000Z07:00", s)`: exactly six fractional
    /// digits, zone `Z` or `±hh:mm`. Returns nil for any other spelling.
    static func parseMicro(_ text: String) -> Date? {
        let b = Array(text.utf8)
        guard b.count >= 27, b[19] == UInt8(ascii: "."), let base = parseBase(b) else { return nil }
        var fraction: Int64 = 0
        for i in 20..<26 {
            guard b[i] >= 48, b[i] <= 57 else { return nil }
            fraction = fraction * 10 + Int64(b[i] - 48)
        }
        guard let offset = parseZone(b, at: 26) else { return nil }
        return Date(timeIntervalSince1970: Double(base - offset) + Double(fraction) / 1_000_000)
    }

    /// RFC 3339 with optional fraction (`metav1.Time` input).
    static func parseLenient(_ text: String) -> Date? {
        let b = Array(text.utf8)
        guard b.count >= 20, let base = parseBase(b) else { return nil }
        var i = 19
        var fraction = 0.0
        if b[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 0.1
            let start = i
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                fraction += Double(b[i] - 48) * scale
                scale /= 10
                i += 1
            }
            if i == start { return nil }
        }
        guard let offset = parseZone(b, at: i) else { return nil }
        return Date(timeIntervalSince1970: Double(base - offset) + fraction)
    }

    private static func parseBase(_ b: [UInt8]) -> Int64? {
        func num(_ from: Int, _ count: Int) -> Int64? {
            var v: Int64 = 0
            for i in from..<(from + count) {
                guard b[i] >= 48, b[i] <= 57 else { return nil }
                v = v * 10 + Int64(b[i] - 48)
            }
            return v
        }
        guard let y = num(0, 4), b[4] == 45, let mo = num(5, 2), b[7] == 45, let d = num(8, 2), b[10] == 84,
            let h = num(11, 2), b[13] == 58, let mi = num(14, 2), b[16] == 58, let s = num(17, 2),
            (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 60
        else { return nil }
        return daysFromCivil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s
    }

    private static func parseZone(_ b: [UInt8], at i: Int) -> Int64? {
        guard i < b.count else { return nil }
        if b[i] == UInt8(ascii: "Z") { return i + 1 == b.count ? 0 : nil }
        guard b[i] == 43 || b[i] == 45, i + 6 == b.count, b[i + 3] == 58 else { return nil }
        let digits = [b[i + 1], b[i + 2], b[i + 4], b[i + 5]]
        guard digits.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        let h = Int64(digits[0] - 48) * 10 + Int64(digits[1] - 48)
        let m = Int64(digits[2] - 48) * 10 + Int64(digits[3] - 48)
        return (h * 3600 + m * 60) * (b[i] == 43 ? 1 : -1)
    }

    private static func pad(_ v: Int64, _ width: Int) -> String {
        let t = String(v)
        return String(repeating: "0", count: max(0, width - t.count)) + t
    }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : (a - b + 1) / b }

    private static func civil(days z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    private static func daysFromCivil(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
