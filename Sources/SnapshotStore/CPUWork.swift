import NIOPosix

/// Runs CPU-bound work (encoding, decoding, rendering a large snapshot) on NIO's blocking-work
/// thread pool instead of Swift's cooperative pool: the cooperative pool has one thread per core
/// and no preemption, so a second of decoding there holds up every other task of the process
/// (discovery, writes, the tests' own tasks) for that second. The OS schedules these threads
/// preemptively.
public enum CPUWork {
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive(body)
    }
}
