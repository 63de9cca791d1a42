import ByteStrings
import CRE2

/// A pattern compiled by Google's RE2: matching takes time linear in the input, whatever the pattern.
///
/// `@unchecked Sendable` is safe: the program pointer is set once in `init` and never changed or
/// exposed; after construction only `cre2_match` and `cre2_capture_count` touch it, which call
/// RE2's `const` methods (`RE2::Match`, `NumberOfCapturingGroups`), documented as safe for
/// concurrent use by many threads ("An RE2 object is safe for concurrent use by multiple
/// threads", re2.h; its lazily built DFA caches are guarded by RE2's own locks). It is freed in
/// `deinit`, when no thread can still hold a reference.
final class RE2Program: @unchecked Sendable {
    private let program: OpaquePointer
    /// Capture groups, not counting the whole match.
    let captureCount: Int

    /// `re2::RE2::ErrorPatternTooLarge`: the program exceeds RE2's memory budget.
    static let patternTooLarge: Int32 = 15

    /// RE2's own error (code and message) when it refuses a pattern our parser accepted.
    struct CompileError: Error {
        let code: Int32
        let message: String
    }

    init(_ pattern: String) throws(CompileError) {
        var code: Int32 = 0
        let capacity = 256
        var message = [CChar](repeating: 0, count: capacity)
        let compiled = pattern.withBytes { bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars in
                cre2_compile(chars.baseAddress, chars.count, &code, &message, capacity)
            }
        }
        guard let compiled else {
            let end = message.firstIndex(of: 0) ?? message.count
            throw CompileError(code: code, message: String(decoding: message[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        program = compiled
        captureCount = Int(cre2_capture_count(compiled))
    }

    deinit { cre2_free(program) }

    /// Whether the pattern matches `text` (all of it when `anchored`, else anywhere).
    func matches(_ text: UnsafeBufferPointer<UInt8>, anchored: Bool) -> Bool {
        text.withMemoryRebound(to: CChar.self) { chars in
            cre2_match(program, chars.baseAddress, chars.count, 0, anchored ? 1 : 0, nil, 0) != 0
        }
    }

    /// The first match at or after `start` (all of `text` when `anchored`): byte offsets of the
    /// whole match and of each group, nil for a group that did not take part.
    func match(_ text: UnsafeBufferPointer<UInt8>, from start: Int = 0, anchored: Bool) -> [Range<Int>?]? {
        let groups = captureCount + 1
        return withUnsafeTemporaryAllocation(of: Int64.self, capacity: 2 * groups) { offsets in
            let found = text.withMemoryRebound(to: CChar.self) { chars in
                cre2_match(program, chars.baseAddress, chars.count, start, anchored ? 1 : 0, offsets.baseAddress, Int32(groups))
            }
            guard found != 0 else { return nil }
            return (0..<groups).map { g in
                let lo = offsets[2 * g]
                return lo < 0 ? nil : Int(lo)..<Int(offsets[2 * g + 1])
            }
        }
    }
}
