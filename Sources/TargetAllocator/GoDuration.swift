import Discovery

/// Go's `time.ParseDuration`, for the config keys that are a `time.Duration` upstream
/// (`collector_not_ready_grace_period`, `prometheus_cr.scrape_interval`, …) and for our own
/// (`leader_election.*`, `snapshot.*`): decimal numbers with units `ns`, `us` (`µs`, `μs`), `ms`,
/// `s`, `m`, `h`, in any order and combination (`2.5s`, `1h30m`, `500ms`, `-1.5m`), or `0`.
/// Like Go, the value is whole nanoseconds and anything beyond ±(2⁶³−1) ns is refused, not wrapped.
public enum GoDuration {
    public enum Invalid: Error, Equatable {
        case syntax, missingUnit, unknownUnit(String), outOfRange
    }

    private static let units: [(name: [UInt8], nanoseconds: UInt64)] = [
        (Array("ns".utf8), 1), (Array("us".utf8), 1000), (Array("µs".utf8), 1000), (Array("μs".utf8), 1000),
        (Array("ms".utf8), 1_000_000), (Array("s".utf8), 1_000_000_000), (Array("m".utf8), 60_000_000_000),
        (Array("h".utf8), 3_600_000_000_000),
    ]
    private static let limit: UInt64 = 1 << 63

    public static func parse(_ text: String) throws(Invalid) -> Duration {
        .nanoseconds(try nanoseconds(text))
    }

    /// The duration in nanoseconds, with Go's rules and Go's arithmetic (a fraction is scaled
    /// through a `Double`, exactly as `time.ParseDuration` does).
    public static func nanoseconds(_ text: String) throws(Invalid) -> Int64 {
        var s = ArraySlice(text.utf8)
        var negative = false
        if let sign = s.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") {
            negative = sign == UInt8(ascii: "-")
            s = s.dropFirst()
        }
        if s.elementsEqual("0".utf8) { return 0 }
        guard !s.isEmpty else { throw .syntax }
        var total: UInt64 = 0
        while let first = s.first {
            guard first == UInt8(ascii: ".") || isDigit(first) else { throw .syntax }
            // The integer part, [0-9]*.
            var whole: UInt64 = 0
            let integerDigits = s.prefix(while: isDigit)
            for digit in integerDigits {
                guard whole <= limit / 10 else { throw .outOfRange }
                whole = whole * 10 + UInt64(digit - 0x30)
                guard whole <= limit else { throw .outOfRange }
            }
            s = s.dropFirst(integerDigits.count)
            // The fraction, (\.[0-9]*)?: digits past 63 bits of precision are dropped, as in Go.
            var fraction: UInt64 = 0
            var scale = 1.0
            var fractionDigits = 0
            if s.first == UInt8(ascii: ".") {
                s = s.dropFirst()
                let digits = s.prefix(while: isDigit)
                fractionDigits = digits.count
                var overflowed = false
                for digit in digits where !overflowed {
                    if fraction > (limit - 1) / 10 {
                        overflowed = true
                        continue
                    }
                    let next = fraction * 10 + UInt64(digit - 0x30)
                    if next > limit {
                        overflowed = true
                        continue
                    }
                    fraction = next
                    scale *= 10
                }
                s = s.dropFirst(digits.count)
            }
            guard !integerDigits.isEmpty || fractionDigits > 0 else { throw .syntax }
            // The unit: everything up to the next number.
            let unitText = s.prefix { $0 != UInt8(ascii: ".") && !isDigit($0) }
            guard !unitText.isEmpty else { throw .missingUnit }
            s = s.dropFirst(unitText.count)
            guard let unit = units.first(where: { $0.name.elementsEqual(unitText) })?.nanoseconds else {
                throw .unknownUnit(String(decoding: unitText, as: UTF8.self))
            }
            guard whole <= limit / unit else { throw .outOfRange }
            var value = whole * unit
            if fraction > 0 {
                value += UInt64(Double(fraction) * (Double(unit) / scale))
                guard value <= limit else { throw .outOfRange }
            }
            let (sum, overflow) = total.addingReportingOverflow(value)
            guard !overflow, sum <= limit else { throw .outOfRange }
            total = sum
        }
        if negative { return total == limit ? Int64.min : -Int64(total) }
        guard total <= limit - 1 else { throw .outOfRange }
        return Int64(total)
    }

    /// Whole nanoseconds of `duration`, clamped to Go's range.
    public static func nanoseconds(of duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (sum, overflow2) = whole.addingReportingOverflow(attoseconds / 1_000_000_000)
        if overflow || overflow2 { return seconds < 0 ? .min : .max }
        return sum
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
}

extension GoDuration.Invalid: CustomStringConvertible {
    public var description: String {
        switch self {
        case .syntax: "not a Go duration (such as 300ms, 2.5s or 1h30m)"
        case .missingUnit: "a number without a unit (ns, us, ms, s, m or h)"
        case .unknownUnit(let unit): "unknown unit \"\(ConfigText.excerpt(unit))\" (ns, us, ms, s, m or h)"
        case .outOfRange: "out of range (at most about 292 years)"
        }
    }
}
