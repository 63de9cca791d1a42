/// Prometheus durations (`model.ParseDuration`): `1y2w3d4h5m6s7ms`, units in that order, each at
/// most once, or `0`.
public enum PrometheusDuration {
    private static let units: [(suffix: String, millis: Int64)] = [
        ("y", 365 * 24 * 3_600_000), ("w", 7 * 24 * 3_600_000), ("d", 24 * 3_600_000),
        ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1),
    ]

    /// Milliseconds, or nil if the text is not a Prometheus duration.
    public static func milliseconds(_ text: String) -> Int64? {
        if text == "0" { return 0 }
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return nil }
        var i = 0
        var nextUnit = 0
        var total: Int64 = 0
        while i < bytes.count {
            var digits: Int64 = 0
            let start = i
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 {
                let (m, o1) = digits.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(Int64(bytes[i] - 0x30))
                if o1 || o2 { return nil }
                digits = a
                i += 1
            }
            guard i > start, i < bytes.count else { return nil }
            // Longest unit first so `ms` is not read as `m`.
            var unitEnd = i
            while unitEnd < bytes.count, !(bytes[unitEnd] >= 0x30 && bytes[unitEnd] <= 0x39) { unitEnd += 1 }
            let suffix = String(decoding: bytes[i..<unitEnd], as: UTF8.self)
            guard let idx = units.firstIndex(where: { $0.suffix == suffix }), idx >= nextUnit else { return nil }
            let (m, o) = digits.multipliedReportingOverflow(by: units[idx].millis)
            let (t, o2) = total.addingReportingOverflow(m)
            if o || o2 { return nil }
            total = t
            nextUnit = idx + 1
            i = unitEnd
        }
        return total
    }

    /// Formats like `model.Duration.String()`: `1h30m`, `500ms`, `0s`.
    public static func format(milliseconds ms: Int64) -> String {
        if ms == 0 { return "0s" }
        var rest = ms
        var out = ""
        for (suffix, size) in units {
            let n = rest / size
            if n > 0 {
                out += "\(n)\(suffix)"
                rest -= n * size
            }
        }
        return out
    }
}
