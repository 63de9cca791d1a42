#if canImport(Glibc)
import CMalloc
#endif
import NIOConcurrencyHelpers

/// Hands freed heap pages back to the system. Decoding and rendering a 100k-target snapshot
/// allocates hundreds of MB that are freed at once, and churn frees as much as it allocates;
/// glibc keeps freed pages mapped (fragmented between what stays live), so without trims a
/// replica's resident memory sits at its peak (a leader passed 1.7 GB during churn). A trim
/// walks the whole heap and the pages it returns are faulted in again by the next
/// allocations, so after deltas it runs at most every `interval`; after a whole state, always.
final class HeapTrim: Sendable {
    private let last = NIOLockedValueBox<ContinuousClock.Instant?>(nil)
    let interval: Duration

    init(interval: Duration = .seconds(10)) {
        self.interval = interval
    }

    /// Trims now. Call off the event loops.
    func afterWholeState() {
        last.withLockedValue { $0 = .now }
        Self.trim()
    }

    /// Trims if the last trim is `interval` old. Call off the event loops.
    func afterChange() {
        let due = last.withLockedValue { last in
            guard last.map({ .now - $0 >= interval }) ?? true else { return false }
            last = .now
            return true
        }
        if due { Self.trim() }
    }

    private static func trim() {
        #if canImport(Glibc)
        _ = malloc_trim(0)
        #endif
    }
}
