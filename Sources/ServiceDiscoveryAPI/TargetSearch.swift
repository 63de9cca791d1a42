import JSON

#if canImport(Glibc)
import Glibc
#endif

/// The search box of the targets view: space-separated terms, all of which must match.
/// `name=value` matches a label called `name` whose value contains `value`; a bare term
/// matches any label value containing it (the address is `__address__`). Comparisons are on
/// UTF-8 bytes, never on Unicode-normalised strings.
struct TargetQuery: Sendable {
    struct Term: Sendable {
        let name: [UInt8]?
        let value: [UInt8]
        /// `value` as it appears inside a JSON string of a served group: a cheap pre-filter.
        let escaped: [UInt8]
    }

    static let maxBytes = 512
    static let maxTerms = 16

    let terms: [Term]
    let text: String

    /// Nil when the query is empty; throws a readable reason when it is too large.
    init?(_ text: String) throws(QueryError) {
        guard text.utf8.count <= Self.maxBytes else { throw QueryError("the search is longer than \(Self.maxBytes) bytes") }
        let words = text.split(separator: " ", omittingEmptySubsequences: true)
        guard !words.isEmpty else { return nil }
        guard words.count <= Self.maxTerms else { throw QueryError("the search has more than \(Self.maxTerms) terms") }
        self.text = text
        terms = words.map { word in
            let bytes = Array(word.utf8)
            var name: [UInt8]?
            var value = bytes
            if let eq = bytes.firstIndex(of: UInt8(ascii: "=")), eq > 0 {
                name = Array(bytes[..<eq])
                value = Array(bytes[(eq + 1)...])
            }
            var escaped: [UInt8] = []
            JSONWriter.string(String(decoding: value, as: UTF8.self), into: &escaped)
            return Term(name: name, value: value, escaped: Array(escaped.dropFirst().dropLast()))
        }
    }

    func matches(_ index: TargetIndex, _ i: Int) -> Bool {
        // Every needle must occur in the group's bytes; only then decode it and check properly
        // (a needle may also match across a name and a value, or inside an escape).
        let group = index.group(i)
        let found = group.withUnsafeBytes { bytes in
            terms.allSatisfy { term in
                term.escaped.isEmpty || term.escaped.withUnsafeBytes { contains(bytes, $0) }
            }
        }
        guard found else { return false }
        let labels = index.labels(i)
        return terms.allSatisfy { term in
            labels.contains { label in
                if let name = term.name, !label.name.utf8.elementsEqual(name) { return false }
                return term.value.isEmpty || Array(label.value.utf8).withUnsafeBytes { v in term.value.withUnsafeBytes { contains(v, $0) } }
            }
        }
    }

    private func contains(_ haystack: UnsafeRawBufferPointer, _ needle: UnsafeRawBufferPointer) -> Bool {
        guard needle.count > 0 else { return true }
        guard haystack.count >= needle.count else { return false }
        // memchr for the first byte, memcmp for the rest (glibc's memmem is not exported to Swift).
        let first = Int32(needle[0])
        var at = haystack.baseAddress!
        let last = haystack.baseAddress! + (haystack.count - needle.count)
        while at <= last {
            guard let hit = memchr(at, first, last - at + 1) else { return false }
            if memcmp(hit, needle.baseAddress!, needle.count) == 0 { return true }
            at = UnsafeRawPointer(hit) + 1
        }
        return false
    }
}

struct QueryError: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}
