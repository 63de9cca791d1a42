import Foundation

/// One printed line: a figure beside its target and the verdict, so the run reads as a table.
enum Report {
    static func row(_ name: String, _ value: String, _ target: String = "", _ pass: Bool? = nil) {
        let verdict = pass.map { $0 ? "PASS" : "FAIL" } ?? ""
        print(
            pad(name, 58) + " | " + pad(value, 34) + " | " + pad(target, 16) + " | " + verdict)
    }

    static func section(_ title: String) { print("\n== \(title)") }

    static func note(_ text: String) { print("   " + text) }

    private static func pad(_ s: String, _ n: Int) -> String {
        s.count >= n ? s : s + String(repeating: " ", count: n - s.count)
    }
}

/// Nearest-rank percentile (p in 0...1); infinity counts as a value (a change never served).
func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted[min(sorted.count - 1, max(0, Int((Double(sorted.count) * p).rounded(.up)) - 1))]
}

func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }

func format(ms value: Double) -> String {
    value.isInfinite ? "never" : value.isNaN ? "n/a" : value >= 10_000 ? String(format: "%.1f s", value / 1000) : String(format: "%.0f ms", value)
}

func megabytes(_ bytes: Int) -> String { String(format: "%.0f MB", Double(bytes) / 1_000_000) }

/// The machine's load averages (1, 5, 15 minutes) as the kernel reports them.
func loadAverage() -> String {
    let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
    return text.split(separator: " ").prefix(3).joined(separator: " ")
}
