import Dispatch
import Relabel
import Synchronization
import Testing

/// The regex engine behind relabeling (Google's RE2): linear time, Go's case folding, Go's limits,
/// and safe use of one compiled rule from many threads.
@Suite struct RE2EngineTests {
    /// Go's `(?i)` is simple case folding over whole orbits (Unicode CaseFolding.txt, statuses C
    /// and S, as `unicode.SimpleFold` walks them): never the full foldings (`ß` is not `ss`) nor
    /// the Turkic ones (`i` is neither `İ` nor `ı`). Expectations from those tables; the
    /// differential test checks them, and every other cased character, against Prometheus.
    static let folding: [RE2RegexTests.Case] = [
        .init("(?i)s", "ſ", true), .init("(?i)ſ", "s", true), .init("(?i)ſ", "S", true), .init("(?i)S", "ſ", true),
        .init("(?i)σ", "ς", true), .init("(?i)ς", "Σ", true), .init("(?i)Σ", "ς", true), .init("(?i)\\x{3c3}", "ς", true),
        .init("(?i)k", "\u{212A}", true), .init("(?i)\u{212A}", "k", true), .init("(?i)K", "\u{212A}", true),
        .init("(?i)å", "\u{212B}", true), .init("(?i)\u{212B}", "Å", true), .init("(?i)\u{212B}", "å", true),
        .init("(?i)µ", "μ", true), .init("(?i)µ", "Μ", true), .init("(?i)Μ", "µ", true),
        .init("(?i)ß", "ẞ", true), .init("(?i)ẞ", "ß", true), .init("(?i)ß", "ss", false), .init("(?i)ss", "ß", false),
        .init("(?i)i", "İ", false), .init("(?i)i", "ı", false), .init("(?i)İ", "i", false), .init("(?i)ı", "I", false),
        .init("(?i)ǅ", "ǆ", true), .init("(?i)ǅ", "Ǆ", true), .init("(?i)ǆ", "ǅ", true),
        .init("(?i)θ", "ϑ", true), .init("(?i)θ", "ϴ", true), .init("(?i)ϑ", "Θ", true),
        .init("(?i)ω", "\u{2126}", true), .init("(?i)\u{2126}", "Ω", true),
        .init("(?i)ι", "\u{345}", true), .init("(?i)ι", "\u{1FBE}", true), .init("(?i)\u{1FBE}", "Ι", true),
        .init("(?i)[a-z]+", "ſ\u{212A}", true), .init("(?i)[^k]", "\u{212A}", false), .init("(?i)[^s]", "ſ", false),
        .init("(?i)\\pL", "ſ", true), .init("(?i)[[:lower:]]", "\u{212A}", true), .init("(?i:ſ)x", "SX", false),
        // Canonically equivalent is not equal, folded or not.
        .init("(?i)é", "E\u{301}", false), .init("(?i)\u{212B}", "A\u{30A}", false),
    ]

    @Test(arguments: folding)
    func caseFolding(_ c: RE2RegexTests.Case) throws {
        let re = try RE2Regex(relabel: c.pattern)
        #expect(re.matches(c.input) == c.matches, "compiled: \(re.translated)")
        #expect((re.match(c.input) != nil) == c.matches)
    }

    /// Go refuses nested counted repetitions that make more than 1000 copies (`repeatIsValid`).
    @Test func nestedRepeatCounts() throws {
        for (pattern, operatorText) in [("(a{100}){100}", "{100}"), ("(?:a{10}){101}", "{101}"), ("((a{2}){2}){300}", "{300}")] {
            do {
                _ = try RE2Regex(relabel: pattern)
                Issue.record("accepted \(pattern)")
            } catch {
                #expect(error.description == "error parsing regexp: invalid repeat count: `\(operatorText)`")
            }
        }
        for pattern in ["(a{10}){100}", "(a*){1000}", "(a{2}|b){500}", "a{1000}"] {
            #expect(throws: Never.self) { try RE2Regex(relabel: pattern) }
        }
    }

    /// Patterns that make a backtracking engine take exponential time (the previous engine did not
    /// decide `(a+)+b` on 22 `a`s within a minute) decide at once on ten thousand bytes.
    /// How fast is measured by `make bench-relabel`, not here.
    @Test(.timeLimit(.minutes(1)))
    func pathologicalPatternsDecide() throws {
        let n = 10_000
        let cases: [(String, String)] = [
            ("(a+)+b", String(repeating: "a", count: n) + "!"),
            ("(a|aa)*c", String(repeating: "a", count: n) + "!"),
            ("(.*a){25}", String(repeating: "a", count: 24) + String(repeating: "b", count: n)),
            ("(x+x+)+y", String(repeating: "x", count: n)),
        ]
        for (pattern, value) in cases {
            let re = try RE2Regex(relabel: pattern)
            #expect(!re.matches(value), "\(pattern)")
            #expect(re.match(value) == nil, "\(pattern)")
            let rule = try RelabelConfig(sourceLabels: ["v"], regex: pattern, targetLabel: "t", replacement: "$1")
            #expect(Relabeler.process([Label(name: "v", value: value)], rules: [rule]) == [Label(name: "v", value: value)])
        }
        // And they still match what they should.
        #expect(try RE2Regex(relabel: "(a+)+b").match(String(repeating: "a", count: n) + "b")?.groups.count == 2)
        #expect(try RE2Regex(relabel: "(.*a){25}").matches(String(repeating: "ba", count: 25)))
    }

    /// One compiled rule is shared by every discovery task; RE2 matching is thread-safe.
    @Test func oneRegexFromManyThreads() throws {
        let re = try RE2Regex(relabel: "(?i)(web|api)-([0-9]+)\\.(.+)")
        let template = re.compileTemplate("$2@$3")
        let mismatches = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for i in 0..<2_000 {
                let value = "\(i % 2 == 0 ? "WEB" : "api")-\(worker * 10_000 + i).zone-\(i % 7)"
                guard let m = re.match(value), template.expand(match: m, in: value) == "\(worker * 10_000 + i)@zone-\(i % 7)",
                    !re.matches("x" + value)
                else {
                    mismatches.add(1, ordering: .relaxed)
                    continue
                }
            }
        }
        #expect(mismatches.load(ordering: .relaxed) == 0)
    }

    @Test func submatchOffsetsAreBytes() throws {
        let re = try RE2Regex(relabel: "(é+)(.)(x)?")
        let value = "éé\u{1F600}"
        let m = try #require(re.match(value))
        #expect(m.groups[1] == 0..<4 && m.groups[2] == 4..<8 && m.groups[3] == nil)
        #expect(m.group(2, in: value) == "\u{1F600}")
        #expect(re.expand("[$1|$2|$3]", match: m, in: value) == "[éé|\u{1F600}|]")
        // An empty group that took part is "", one that did not is absent: both expand to "".
        let empty = try RE2Regex(relabel: "(a*)(b)?")
        let e = try #require(empty.match(""))
        #expect(e.groups[1] == 0..<0 && e.groups[2] == nil)
    }
}

