/// Prometheus's duration syntax (`model.Duration`): units `y w d h m s ms`, each at most once
/// and from largest to smallest (`1h30m`, `500ms`, `1d`), or a bare `0`; at most 2⁶³−1
/// nanoseconds (about 292 years), as Prometheus refuses anything longer ("duration out of
/// range"). Printed back the way Prometheus prints durations (`model.Duration.String()`).
public enum ScrapeDuration {
    static let units: [(name: String, millis: Int64)] = [
        ("y", 365 * 86_400_000), ("w", 7 * 86_400_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000),
        ("ms", 1),
    ]
    /// The longest duration Prometheus holds: `time.Duration` is int64 nanoseconds.
    static let maxMilliseconds = Int64.max / 1_000_000

    public enum Invalid: Error, Equatable, CustomStringConvertible {
        case syntax, outOfRange

        public var description: String {
            switch self {
            case .syntax: "not a valid duration string"
            case .outOfRange: "duration out of range"
            }
        }
    }

    /// The duration in milliseconds, or nil when the text is not a Prometheus duration.
    public static func parseMilliseconds(_ text: String) -> Int64? {
        try? milliseconds(text)
    }

    public static func milliseconds(_ text: String) throws(Invalid) -> Int64 {
        if text == "0" { return 0 }
        guard !text.isEmpty else { throw .syntax }
        var rest = Substring(text)
        var total: Int64 = 0
        var nextUnit = 0  // units must appear in order, each at most once
        while !rest.isEmpty {
            let digits = rest.prefix { $0 >= "0" && $0 <= "9" }
            guard !digits.isEmpty else { throw .syntax }
            rest = rest.dropFirst(digits.count)
            // "ms" must be tried before "m".
            let unitText = rest.hasPrefix("ms") ? "ms" : rest.first.map(String.init) ?? ""
            guard let index = units.firstIndex(where: { $0.name == unitText }), index >= nextUnit else { throw .syntax }
            rest = rest.dropFirst(unitText.count)
            nextUnit = index + 1
            guard let n = Int64(digits) else { throw .outOfRange }
            let (product, overflow1) = n.multipliedReportingOverflow(by: units[index].millis)
            let (sum, overflow2) = total.addingReportingOverflow(product)
            guard !overflow1, !overflow2, sum <= maxMilliseconds else { throw .outOfRange }
            total = sum
        }
        return total
    }

    public static func parse(_ text: String) -> Duration? {
        parseMilliseconds(text).map { .milliseconds($0) }
    }

    /// Prometheus's spelling of a duration (`1m`, `1h30m`, `90d`, `1w`, `0s`): years and weeks
    /// only when they divide it exactly ("it is often easier to read 90d than 12w6d").
    public static func format(milliseconds: Int64) -> String {
        if milliseconds == 0 { return "0s" }
        var rest = milliseconds.magnitude
        var out = milliseconds < 0 ? "-" : ""
        for (i, unit) in units.enumerated() {
            let size = UInt64(unit.millis)
            if i < 2, rest % size != 0 { continue }
            let n = rest / size
            if n > 0 {
                out += String(n) + unit.name
                rest -= n * size
            }
        }
        return out
    }

    public static func format(_ duration: Duration) -> String {
        format(milliseconds: milliseconds(duration))
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
