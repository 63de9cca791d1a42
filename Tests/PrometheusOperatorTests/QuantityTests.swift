import Testing

@testable import PrometheusOperator

/// `resource.Quantity` as apimachinery parses it and `AsApproximateFloat64` turns it into the
/// float64 prometheus-operator writes. Expectations follow apimachinery's
/// `TestQuantityAsApproximateFloat64` (the values it lists for 7Mi scaled by 10^-1 and 10^-8,
/// 1.2e19, the 2^63-1 cap of binary quantities) and `ParseQuantity`'s rules (suffixes, the
/// int64 fast path, rounding up to nano units).
@Suite struct QuantityTests {
    static let cases: [(String, Double)] = [
        ("12.124", 12.124), ("12124m", 12.124), ("+12.124", 12.124), ("0", 0), ("0.0", 0), (".5", 0.5), ("5.", 5),
        ("1", 1), ("1k", 1000), ("5M", 5e6), ("1E", 1e18), ("250u", 250e-6), ("3n", 3 * (1 / 1e9)),  // Go: value × Pow10(-9), and Pow10(-9) is 1/1e9
        ("1Ki", 1024), ("8Ki", 8 * 1024), ("7Mi", 7 * 1024 * 1024), ("1.5Ki", 1536), ("-1.5Ki", -1536),
        ("2e3", 2000), ("2E3", 2000), ("2e+3", 2000), ("-4e-2", -0.04),
        // apimachinery: "'* Pow10' and '/ float(10)' do not round the same way".
        ("7340032e-1", 734003.2000000001), ("7340032e-8", 7340032 / 1e8),
        ("12e18", 1.2e19),
        // Below a nano unit: rounded up, never to zero.
        ("0.0000000001", 1e-9), ("1e-12", 1e-9),
        // Binary quantities are capped at 2^63-1, decimal ones are not.
        ("16Ei", 9.223372036854775807e18), ("100000000000000000000000", 1.0000000000000001e23),
    ]

    @Test(arguments: cases)
    func approximateFloat(_ c: (String, Double)) {
        #expect(Quantity.approximateDouble(c.0) == c.1, "\(c.0)")
    }

    @Test(arguments: ["", "abc", "1.2.3", "1Ki2", "e3", "1e", "1Kii", "1 k", "--1", "1ki", "0x10", "1e1.5", "+", "."])
    func rejects(_ text: String) {
        #expect(Quantity.approximateDouble(text) == nil, "\(text)")
    }

    /// Go's `encoding/json` float64 spelling, which is how upstream serves the value.
    @Test func writesFloatsAsGoJSONDoes() {
        let cases: [(Double, String)] = [
            (12.124, "12.124"), (1536, "1536"), (0.5, "0.5"), (-0.04, "-0.04"), (1e-6, "0.000001"), (1e-7, "1e-7"), (1.5e-10, "1.5e-10"),
            (1e20, "100000000000000000000"), (1e21, "1e+21"), (1.2e19, "12000000000000000000"), (9.223372036854775807e18, "9223372036854776000"),
            (123456.789, "123456.789"), (734003.2000000001, "734003.2000000001"), (0, "0"),
        ]
        for (value, text) in cases { #expect(goJSONNumber(value) == text, "\(value)") }
    }
}
