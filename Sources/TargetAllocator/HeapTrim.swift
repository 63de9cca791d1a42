#if canImport(Glibc)
import CMalloc
import Glibc
#endif
import NIOConcurrencyHelpers

/// Hands freed heap pages back to the system. Decoding and rendering a 100k-target snapshot
/// allocates hundreds of MB that are freed at once, and churn frees as much as it allocates;
/// freed pages stay mapped until the allocator is told (glibc keeps them fragmented between what
/// stays live; jemalloc, which the `target-allocator` binary links, returns them by decay over
/// ~10 s), so without trims a replica's resident memory sits near its peak. A trim walks the
/// heap and the pages it returns are faulted in again by the next allocations, so after deltas
/// it runs at most every `interval`; after a whole state, always.
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
        if let purge = jemallocPurge {
            purge()
        } else {
            _ = malloc_trim(0)
        }
        #endif
    }

    #if canImport(Glibc)
    /// jemalloc's "purge every arena" when jemalloc is the process's allocator (linked into the
    /// binary or preloaded), else nil: glibc's `malloc_trim` would only trim glibc's own, unused
    /// heap. Looked up at run time, so test processes (glibc) need no jemalloc.
    private static let jemallocPurge: (@Sendable () -> Void)? = {
        typealias Mallctl = @convention(c) (
            UnsafePointer<CChar>?, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?, UnsafeMutableRawPointer?, Int
        ) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallctl") else { return nil }
        let mallctl = unsafeBitCast(symbol, to: Mallctl.self)
        // MALLCTL_ARENAS_ALL (4096) names every arena.
        return { _ = mallctl("arena.4096.purge", nil, nil, nil, 0) }
    }()
    #endif
}
