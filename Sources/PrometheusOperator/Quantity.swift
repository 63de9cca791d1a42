/// A Kubernetes `resource.Quantity` (`12.124`, `12124m`, `1.5Ki`, `2e3`), read the way
/// apimachinery's `ParseQuantity` reads it and turned into the `float64` that
/// `Quantity.AsApproximateFloat64` gives, which is what prometheus-operator writes for
/// `nativeHistogramMinBucketFactor`. Written from apimachinery's documented grammar and its
/// parse/round rules (an int64 fast path, otherwise rounded up to nano units, binary-suffixed
/// values capped at 2^63-1).
enum Quantity {
    /// nil when `text` is not a quantity.
    static func approximateDouble(_ text: String) -> Double? {
        guard let parsed = Parsed(text) else { return nil }
        if let fast = parsed.fastPath() { return fast }
        return parsed.slowPath()
    }

    struct Parsed {
        var negative = false
        /// Digits before and after the decimal point.
        var whole: [UInt8] = []
        var fraction: [UInt8] = []
        /// 10 or 2 (`Ki`…`Ei`).
        var base = 10
        var exponent = 0
        var binary: Bool { base == 2 }

        init?(_ text: String) {
            var s = Array(text.utf8)[...]
            if let c = s.first, c == UInt8(ascii: "+") || c == UInt8(ascii: "-") {
                negative = c == UInt8(ascii: "-")
                s = s.dropFirst()
            }
            whole = Array(s.prefix { isDigit($0) })
            s = s.dropFirst(whole.count)
            if s.first == UInt8(ascii: ".") {
                s = s.dropFirst()
                fraction = Array(s.prefix { isDigit($0) })
                s = s.dropFirst(fraction.count)
            }
            guard !whole.isEmpty || !fraction.isEmpty else { return nil }
            switch String(decoding: s, as: UTF8.self) {
            case "": break
            case "n": exponent = -9
            case "u": exponent = -6
            case "m": exponent = -3
            case "k": exponent = 3
            case "M": exponent = 6
            case "G": exponent = 9
            case "T": exponent = 12
            case "P": exponent = 15
            case "E": exponent = 18
            case "Ki": (base, exponent) = (2, 10)
            case "Mi": (base, exponent) = (2, 20)
            case "Gi": (base, exponent) = (2, 30)
            case "Ti": (base, exponent) = (2, 40)
            case "Pi": (base, exponent) = (2, 50)
            case "Ei": (base, exponent) = (2, 60)
            case let suffix:
                // `e<int>` / `E<int>`: a decimal exponent (strconv.ParseInt, so a sign but no fraction).
                var rest = Array(suffix.utf8)[...]
                guard let e = rest.first, e == UInt8(ascii: "e") || e == UInt8(ascii: "E") else { return nil }
                rest = rest.dropFirst()
                var exponentNegative = false
                if let c = rest.first, c == UInt8(ascii: "+") || c == UInt8(ascii: "-") {
                    exponentNegative = c == UInt8(ascii: "-")
                    rest = rest.dropFirst()
                }
                guard !rest.isEmpty, rest.allSatisfy(isDigit), rest.count <= 9 else { return nil }
                let magnitude = Int(String(decoding: rest, as: UTF8.self))!
                exponent = exponentNegative ? -magnitude : magnitude
            }
        }

        /// `ParseQuantity`'s int64 path: few enough digits for an exact `value × 10^scale`.
        func fastPath() -> Double? {
            var mantissa: Int64 = 1
            var scale = 0
            let precision: Int
            if binary {
                guard fraction.isEmpty else { return nil }
                mantissa <<= Int64(exponent)
                precision = 15 - whole.count - Int(Float(exponent) * 3 / 10) - 1
            } else {
                scale = exponent
                precision = 18 - (whole.count + fraction.count)
            }
            guard precision >= 0 else { return nil }
            scale -= fraction.count
            guard scale >= -9, let value = Int64(String(decoding: whole + fraction, as: UTF8.self)) else { return nil }
            let (product, overflow) = value.multipliedReportingOverflow(by: mantissa)
            guard !overflow else { return nil }
            let signed = negative ? -product : product
            return scale == 0 ? Double(signed) : Double(signed) * goPow10(scale)
        }

        /// The arbitrary-precision path: the exact value rounded up (away from zero) to nano
        /// units (binary-suffixed values capped at 2^63-1), then `unscaled × 10^-9`.
        func slowPath() -> Double {
            // |value| × 10^9 as decimal digits: digits × 2^binaryExponent × 10^shift.
            var digits = Array((whole + fraction).drop { $0 == UInt8(ascii: "0") }).map { Int($0 - 0x30) }
            if digits.isEmpty { return 0 }
            if binary { for _ in 0..<exponent { digits = double(digits) } }
            let shift = 9 - fraction.count + (binary ? 0 : exponent)
            let capDigits = Array("9223372036854775807000000000".utf8).map { Int($0 - 0x30) }
            var scaled: [Int]
            if shift >= 0 {
                if binary && digits.count + shift > capDigits.count { return cap }
                // Past ~10^330 the float64 is infinite anyway; do not build the digits.
                if digits.count + shift > 340 { return negative ? -.infinity : .infinity }
                scaled = digits + Array(repeating: 0, count: shift)
            } else {
                let keep = digits.count + shift
                let dropped = keep > 0 ? digits[keep...] : digits[...]
                scaled = keep > 0 ? Array(digits[..<keep]) : []
                if dropped.contains(where: { $0 != 0 }) { scaled = increment(scaled) }
            }
            scaled = Array(scaled.drop { $0 == 0 })
            let aboveCap = scaled.count != capDigits.count ? scaled.count > capDigits.count : capDigits.lexicographicallyPrecedes(scaled)
            if binary && aboveCap { return cap }
            let unscaled = Double(String(scaled.map { Character(String($0)) }))!
            return (negative ? -unscaled : unscaled) * goPow10(-9)
        }

        private var cap: Double { negative ? -Double(Int64.max) : Double(Int64.max) }

        private func double(_ digits: [Int]) -> [Int] {
            var out: [Int] = []
            var carry = 0
            for d in digits.reversed() {
                let v = d * 2 + carry
                out.append(v % 10)
                carry = v / 10
            }
            if carry > 0 { out.append(carry) }
            return out.reversed()
        }

        private func increment(_ digits: [Int]) -> [Int] {
            var out = digits
            var i = out.count - 1
            while i >= 0 {
                if out[i] < 9 {
                    out[i] += 1
                    return out
                }
                out[i] = 0
                i -= 1
            }
            return [1] + out
        }
    }
}

private func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

/// Go's `math.Pow10` for the exponents a quantity can have: products and quotients of the same
/// table entries, so the result rounds exactly as Go's does.
func goPow10(_ n: Int) -> Double {
    let table: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21,
        1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28, 1e29, 1e30, 1e31,
    ]
    let positive32: [Double] = [1e0, 1e32, 1e64, 1e96, 1e128, 1e160, 1e192, 1e224, 1e256, 1e288]
    let negative32: [Double] = [1e-0, 1e-32, 1e-64, 1e-96, 1e-128, 1e-160, 1e-192, 1e-224, 1e-256, 1e-288]
    if n >= 0 {
        return n <= 308 ? positive32[n / 32] * table[n % 32] : .infinity
    }
    // Quantities never go below 10^-9 here; Go's table continues into subnormals.
    return n >= -319 ? negative32[-n / 32] / table[-n % 32] : 0
}

/// A `float64` as Go's `encoding/json` writes it (which is how upstream serves the value):
/// shortest round-trip digits, plain notation for 1e-6 ≤ |x| < 1e21, otherwise exponent
/// notation with at least one exponent digit (`1e-7`, `1e+21`).
func goJSONNumber(_ value: Double) -> String {
    if value == 0 { return value.sign == .minus ? "-0" : "0" }
    // Shortest digits and decimal exponent from Swift's round-trip description.
    var text = "\(abs(value))"
    var exponent = 0
    if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
        exponent = Int(text[text.index(after: e)...])!
        text = String(text[..<e])
    }
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    var digits = String(parts[0]) + (parts.count > 1 ? String(parts[1]) : "")
    var point = parts[0].count + exponent  // digits before the decimal point
    let leading = digits.prefix { $0 == "0" }.count
    digits.removeFirst(leading)
    point -= leading
    while digits.hasSuffix("0") { digits.removeLast() }
    let sign = value < 0 ? "-" : ""
    let magnitude = abs(value)
    if magnitude < 1e-6 || magnitude >= 1e21 {
        var mantissa = String(digits.first!)
        if digits.count > 1 { mantissa += "." + digits.dropFirst() }
        let e = point - 1
        return sign + mantissa + "e" + (e < 0 ? "-" : "+") + String(abs(e))
    }
    if point <= 0 { return sign + "0." + String(repeating: "0", count: -point) + digits }
    if point >= digits.count { return sign + digits + String(repeating: "0", count: point - digits.count) }
    let i = digits.index(digits.startIndex, offsetBy: point)
    return sign + digits[..<i] + "." + digits[i...]
}
