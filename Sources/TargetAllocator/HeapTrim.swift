#if canImport(Glibc)
import CMalloc
#endif

/// Hands freed heap pages back to the system after a snapshot swap. Decoding and rendering a
/// 100k-target snapshot allocates hundreds of MB that are freed at once; glibc keeps them
/// mapped (fragmented between what stays live), so without this a replica's resident memory
/// would sit at its peak. Runs after whole installs and after a follower's delta installs, and
/// at most every 10 s on a leader committing (off the event loops).
enum HeapTrim {
    static func afterSnapshotSwap() {
        #if canImport(Glibc)
        _ = malloc_trim(0)
        #endif
    }
}
