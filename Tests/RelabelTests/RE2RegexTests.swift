import Testing
import Relabel

@Suite struct RE2RegexTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let pattern: String
        let input: String
        let matches: Bool
        var testDescription: String { "\(pattern.debugDescription) ~ \(input.debugDescription)" }
        init(_ pattern: String, _ input: String, _ matches: Bool) {
            self.pattern = pattern
            self.input = input
            self.matches = matches
        }
    }

    static let matchCases: [Case] = [
        // Anchoring: the whole value must match.
        Case("foo", "foo", true), Case("foo", "foobar", false), Case("foo", "xfoo", false),
        Case("f|o", "foo", false), Case(".*o.*", "foo", true), Case("f.*", "foo", true),
        Case("", "", true), Case("", "a", false), Case("(.*)", "", true), Case(".+", "", false),
        Case("^foo$", "foo", true), Case("^metrics$", "metrics", true),
        // `.` matches newlines (Prometheus 3 wraps in (?s:...)); (?-s) turns that off.
        Case("line1.*line2", "line1\nline2", true), Case("(?-s)line1.*line2", "line1\nline2", false),
        Case("a.c", "a\nc", true), Case("(?-s:a.c)", "a\nc", false), Case("(?-s:a.c)", "a\rc", true),
        // `$` is end of text, not "before a final newline".
        Case("foo$", "foo\n", false), Case("foo\\n", "foo\n", true),
        Case("(?m)foo$\\n", "foo\n", true), Case("(?m)a\\n^b", "a\nb", true),
        // Alternation and literal fast paths.
        Case("Succeeded|Failed", "Failed", true), Case("Succeeded|Failed", "Failedx", false),
        Case("(true|yes)", "yes", true), Case("a|", "", true), Case("|a", "a", true),
        // Affix fast paths.
        Case("__meta_kubernetes_pod_label_(.+)", "__meta_kubernetes_pod_label_app", true),
        Case("__meta_kubernetes_pod_label_(.+)", "__meta_kubernetes_pod_label_", false),
        Case("(.*)_total", "_total", true), Case("x(.+)x", "xx", false), Case("x(.*)x", "x", false),
        Case("x.*?x", "xyzx", true),
        // Classes: RE2's \d \w \s are ASCII-only.
        Case("\\d+", "123", true), Case("\\d", "٣", false), Case("\\w+", "a_1", true), Case("\\w", "é", false),
        Case("\\s", "\u{0B}", false), Case("\\s", "\u{0C}", true), Case("\\S", "x", true), Case("\\D", "x", true),
        Case("[\\d]", "5", true), Case("[^\\d]", "5", false), Case("[\\D]", "x", true), Case("[^\\D]", "7", true),
        Case("[[:alpha:]]+", "abcXYZ", true), Case("[[:alpha:]]", "é", false), Case("[[:^alpha:]]", "1", true),
        Case("[[:xdigit:]]+", "09afAF", true), Case("[[:punct:]]", "!", true), Case("[[:space:]]", "\u{0B}", true),
        Case("[]a]", "]", true), Case("[^]a]", "b", true), Case("[a-]", "-", true), Case("[-a]", "-", true),
        Case("[[]", "[", true), Case("[a&&b]", "&", true), Case("[+--]", ",", true), Case("[^a]", "\n", true),
        Case("[\\x{100}-\\x{200}]", "\u{150}", true), Case("[é]", "e\u{301}", false),
        // Unicode classes.
        Case("\\pL+", "héllo", true), Case("\\p{Greek}+", "αβγ", true), Case("\\p{Greek}", "a", false),
        Case("\\PL", "1", true), Case("\\p{^Greek}", "a", true), Case("\\P{^Greek}", "α", true),
        Case("\\p{Lu}", "A", true), Case("\\p{Lu}", "a", false), Case("\\p{Any}", "\u{10FFFF}", true),
        Case("[\\p{Han}a]+", "中a", true), Case("\\pN", "٣", true), Case("\\p{C}", "\u{1}", true),
        // Case folding.
        Case("(?i)foo", "FoO", true), Case("(?i:a)b", "Ab", true), Case("(?i:a)b", "AB", false),
        Case("(?i)[a-c]+", "ABC", true), Case("(?i)k", "\u{212A}", true),
        // Repetition.
        Case("a{2}", "aa", true), Case("a{2}", "aaa", false), Case("a{2,}", "aaaa", true), Case("a{1,2}", "aaa", false),
        Case("x{,3}", "x{,3}", true), Case("a{", "a{", true), Case("a{1", "a{1", true), Case("a{01}", "a{01}", true),
        Case("(?U)a+", "aa", true), Case("(?)a", "a", true), Case("a*?", "aaa", true), Case("a}", "a}", true),
        // Escapes.
        Case("\\.", ".", true), Case("\\.", "x", false), Case("\\Qa.b\\E", "a.b", true), Case("\\Qa.b\\E", "axb", false),
        Case("\\x41", "A", true), Case("\\x{1F600}", "😀", true), Case("\\101", "A", true),
        Case("\\0", "\u{0}", true), Case("\\12", "\n", true), Case("\\t\\n\\r\\f\\v\\a", "\t\n\r\u{0C}\u{0B}\u{07}", true),
        Case("\\:\\d+", ":80", true), Case("\\ ", " ", true), Case("\\_", "_", true),
        // Word boundaries are ASCII.
        Case("a\\b.*", "a b", true), Case("a\\bé", "aé", true), Case("a\\Bb", "ab", true),
        Case("\\Afoo\\z", "foo", true),
        // Unicode scalar semantics, byte-exact comparison (no canonical equivalence, no grapheme clusters).
        Case("é", "e\u{301}", false), Case("e\u{301}", "é", false), Case(".", "e\u{301}", false), Case("..", "e\u{301}", true),
        Case("..", "\r\n", true), Case("café", "café", true),
        // Named groups in both syntaxes.
        Case("(?P<x>a)(?<y>b)", "ab", true),
        // A pattern that escapes Prometheus's ^(?s:...)$ wrapper behaves like Go: unanchored alternatives.
        Case("a)|(b", "a", true), Case("a)|(b", "abc", true), Case("a)|(b", "xb", true), Case("a)|(b", "xa", false),
        // Prometheus-operator sharding regex: `$(SHARD)` can never match after end-of-text.
        Case("$(SHARD);|.+;.+", "1;", false), Case("$(SHARD);|.+;.+", "1;true", true),
        // From Prometheus's relabel tests.
        Case("(?:.+,|^)path:(/[^,]+).*", "path:/secret,job:some-job", true),
        Case("(.+?)(\\:\\d+)?;(\\d+)", "10.0.0.1:80;9090", true),
    ]

    @Test(arguments: matchCases)
    func matching(_ c: Case) throws {
        let re = try RE2Regex(relabel: c.pattern)
        #expect(re.matches(c.input) == c.matches, "translated: \(re.translated)")
        #expect((re.match(c.input) != nil) == c.matches)
    }

    @Test func prometheus2DotDoesNotMatchNewline() throws {
        let re = try RE2Regex(relabel: "line1.*line2", dotMatchesNewline: false)
        #expect(!re.matches("line1\nline2"))
        #expect(re.matches("line1 line2"))
        let re2 = try RE2Regex(relabel: "(.*)", dotMatchesNewline: false)
        #expect(!re2.matches("a\nb"))
        #expect(re2.matches("ab"))
    }

    struct Rejection: CustomTestStringConvertible, Sendable {
        let pattern: String
        let message: String
        var testDescription: String { pattern.debugDescription }
        init(_ pattern: String, _ message: String) {
            self.pattern = pattern
            self.message = message
        }
    }

    static let rejections: [Rejection] = [
        Rejection("(a)\\1", "error parsing regexp: invalid escape sequence: `\\1`"),
        Rejection("\\8", "invalid escape sequence: `\\8`"),
        Rejection("a(?=b)", "invalid or unsupported Perl syntax: `(?=`"),
        Rejection("a(?!b)", "invalid or unsupported Perl syntax: `(?!`"),
        Rejection("(?<=a)b", "invalid named capture"),
        Rejection("(?<!a)b", "invalid named capture"),
        Rejection("(?>a)", "invalid or unsupported Perl syntax: `(?>`"),
        Rejection("(?#comment)", "invalid or unsupported Perl syntax: `(?#`"),
        Rejection("(?P=name)", "invalid or unsupported Perl syntax: `(?P`"),
        Rejection("a*+", "invalid nested repetition operator: `*+`"),
        Rejection("a++", "invalid nested repetition operator: `++`"),
        Rejection("a**", "invalid nested repetition operator: `**`"),
        Rejection("a{2}{3}", "invalid nested repetition operator: `{2}{3}`"),
        Rejection("a???", "invalid nested repetition operator: `???`"),
        Rejection("*a", "missing argument to repetition operator: `*`"),
        Rejection("(*)", "missing argument to repetition operator: `*`"),
        Rejection("a|*", "missing argument to repetition operator: `*`"),
        Rejection("a{1001}", "invalid repeat count: `{1001}`"),
        Rejection("a{2,1}", "invalid repeat count: `{2,1}`"),
        Rejection("\\Z", "invalid escape sequence: `\\Z`"),
        Rejection("\\G", "invalid escape sequence: `\\G`"),
        Rejection("\\K", "invalid escape sequence: `\\K`"),
        Rejection("\\R", "invalid escape sequence: `\\R`"),
        Rejection("\\X", "invalid escape sequence: `\\X`"),
        Rejection("\\h", "invalid escape sequence: `\\h`"),
        Rejection("\\e", "invalid escape sequence: `\\e`"),
        Rejection("\\u0041", "invalid escape sequence: `\\u`"),
        Rejection("\\C", "invalid escape sequence: `\\C`"),
        Rejection("\\xZZ", "invalid escape sequence"),
        Rejection("\\x{110000}", "invalid escape sequence"),
        Rejection("[\\Qa\\E]", "invalid escape sequence: `\\Q`"),
        Rejection("\\p{Foo}", "invalid character class range: `\\p{Foo}`"),
        Rejection("\\p{greek}", "invalid character class range: `\\p{greek}`"),
        Rejection("\\p{Alphabetic}", "invalid character class range"),
        Rejection("[[:foo:]]", "invalid character class range: `[:foo:]`"),
        Rejection("[z-a]", "invalid character class range: `z-a`"),
        Rejection("[a", "missing closing ]"),
        Rejection("(a", "missing closing )"),
        Rejection("a)", "unexpected )"),
        Rejection("(?P<1a-b>x)", "invalid named capture: `(?P<1a-b>`"),
        Rejection("(?P<>x)", "invalid named capture"),
        Rejection("(?i-)a", "invalid or unsupported Perl syntax: `(?i-)`"),
        Rejection("(?--i)a", "invalid or unsupported Perl syntax: `(?--`"),
        Rejection("(?x)a", "invalid or unsupported Perl syntax: `(?x`"),
        // The pattern is wrapped before parsing, exactly like Prometheus: these swallow the wrapper's `)`.
        Rejection("a\\", "missing closing ): `^(?s:a\\)$`"),
        Rejection("\\Qa.b", "missing closing )"),
    ]

    @Test(arguments: rejections)
    func rejected(_ r: Rejection) {
        do {
            let re = try RE2Regex(relabel: r.pattern)
            Issue.record("accepted \(r.pattern.debugDescription) as \(re.translated)")
        } catch {
            #expect(error.description.contains(r.message), "\(error.description)")
            #expect(error.description.hasPrefix("error parsing regexp: "))
        }
    }

    @Test func duplicateNamesAreAllowedLikeGo() throws {
        let re = try RE2Regex(relabel: "(?P<x>a)|(?P<x>b)")
        let m = try #require(re.match("b"))
        #expect(re.expand("$x", match: m, in: "b") == "b")
    }

    struct Expansion: CustomTestStringConvertible, Sendable {
        let pattern: String
        let input: String
        let template: String
        let expected: String
        var testDescription: String { "\(template.debugDescription) on \(pattern.debugDescription)" }
        init(_ pattern: String, _ input: String, _ template: String, _ expected: String) {
            self.pattern = pattern
            self.input = input
            self.template = template
            self.expected = expected
        }
    }

    static let expansions: [Expansion] = [
        Expansion("(a)(b)", "ab", "$1-$2", "a-b"),
        Expansion("(a)(b)", "ab", "${1}x", "ax"),
        Expansion("(a)(b)", "ab", "$1x", ""),  // group named "1x": does not exist
        Expansion("(a)(b)", "ab", "$1_x", ""),
        Expansion("(a)(b)", "ab", "${1}_x", "a_x"),
        Expansion("(a)(b)", "ab", "$0", "ab"),
        Expansion("(a)(b)", "ab", "$3", ""),
        Expansion("(a)(b)", "ab", "$01", ""),  // leading zero: a name, not a number
        Expansion("(a)(b)", "ab", "$$1", "$1"),
        Expansion("(a)(b)", "ab", "$", "$"),
        Expansion("(a)(b)", "ab", "x$", "x$"),
        Expansion("(a)(b)", "ab", "${", "${"),
        Expansion("(a)(b)", "ab", "${1", "${1"),
        Expansion("(a)(b)", "ab", "${}", "${}"),
        Expansion("(a)(b)", "ab", "$-", "$-"),
        Expansion("(a)(b)", "ab", "$é", ""),  // Unicode letters are name characters in Go
        Expansion("(?P<first>a)(?<second>b)", "ab", "$first/${second}/$2", "a/b/b"),
        Expansion("(?P<first>a)(?<second>b)", "ab", "$firstx", ""),
        Expansion("(a)|(b)", "b", "[$1][$2]", "[][b]"),
        Expansion("f(.*)", "foo", "ch${1}-ch${1}", "choo-choo"),
        Expansion("(.*)", "x\ny", "<$1>", "<x\ny>"),
        Expansion("__meta_kubernetes_pod_label_(.+)", "__meta_kubernetes_pod_label_app_kubernetes_io_name", "$1",
                  "app_kubernetes_io_name"),
        Expansion("(.*)_suffix", "pre_suffix", "$1", "pre"),
        Expansion("(pre.*)", "prefix", "[$1]", "[prefix]"),
        Expansion("(e)\u{301}", "e\u{301}", "$1", "e"),
    ]

    @Test(arguments: expansions)
    func expand(_ e: Expansion) throws {
        let re = try RE2Regex(relabel: e.pattern)
        let m = try #require(re.match(e.input))
        #expect(re.expand(e.template, match: m, in: e.input) == e.expected)
    }

    @Test func fastPathsAreUsedForCommonShapes() throws {
        for p in ["(.*)", ".*", ".+", "(.+)", "foo", "", "a|b|c", "(a|b)", "__meta_(.+)", "(.*)_total", "foo.*bar",
                  "(foo.*)", "true", "Succeeded|Failed", "__tmp_hash", "a(b)c(d)", "(web);true", "(.*);(x)", "p(.*)-(s)"]
        {
            #expect(try RE2Regex(relabel: p).usesFastPath, "\(p)")
        }
        for p in ["(?i)foo", "f[o]o", "(.*)(.*)", "a|(b)", "\\d+", "(?:.+,|^)path:(/[^,]+).*", "a)|(b"] {
            #expect(try RE2Regex(relabel: p).usesFastPath == false, "\(p)")
        }
    }

    @Test func fastPathAndEngineAgree() throws {
        // The same language, once through the fast path and once through RE2.
        let pairs: [(String, String)] = [
            ("foo(.*)bar", "f[o]o(.*)bar"), ("(.+)", "([\\x{0}-\\x{10FFFF}]+)"), ("a|bc|", "[a]|bc|"),
            ("x.*", "[x].*"), ("(a.+b)", "([a].+b)"), ("(a)x(.*)y(b)", "([a])x(.*)y([b])"),
            ("(web);true", "([w]eb);true"), ("(x)(y)", "([x])([y])"),
        ]
        let inputs = ["", "foo", "foobar", "fooxbar", "foo\nbar", "a", "bc", "x", "xé", "ab", "a\nb", "é", "axxb",
                      "axyb", "axéé\nyb", "web;true", "web;false", "xy"]
        for (fastPattern, slowPattern) in pairs {
            let fast = try RE2Regex(relabel: fastPattern)
            let slow = try RE2Regex(relabel: slowPattern)
            #expect(fast.usesFastPath && !slow.usesFastPath)
            for input in inputs {
                #expect(fast.matches(input) == slow.matches(input), "\(fastPattern) vs \(slowPattern) on \(input)")
                if let fm = fast.match(input), let sm = slow.match(input) {
                    for g in 0...fast.captureCount {
                        #expect(fm.group(g, in: input) == sm.group(g, in: input), "\(fastPattern) group \(g) on \(input)")
                    }
                }
            }
        }
    }

    @Test func replaceAllForLabelmap() throws {
        #expect(try RE2Regex(relabel: "__meta_(my.*)").replaceAll("__meta_my_bar", with: "${1}") == "my_bar")
        #expect(try RE2Regex(relabel: "(b.*)").replaceAll("b1", with: "bar_${1}") == "bar_b1")
        // Unanchored (wrapper broken out of): Go replaces every match and keeps the rest.
        #expect(try RE2Regex(relabel: "a)|(b").replaceAll("xab", with: "<$0>") == "xa<b>")
    }
}
