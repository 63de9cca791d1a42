public import NIOCore
import NIOPosix

/// A thread of its own, usable as an actor's serial executor, as a task executor and as the
/// event loop of an HTTP client, with timers that fire on that thread.
///
/// Why: Swift's cooperative pool has one thread per core and no preemption, so CPU-bound leader
/// work (decoding, relabeling, allocating, encoding) can hold every pool thread for seconds.
/// Work that must keep a schedule (renewing the Lease) runs here instead; even its wake-ups do
/// not need the pool (`Task.sleep`'s do: its timer hands the task back through the pool).
public final class DedicatedExecutor: TaskExecutor, SerialExecutor {
    private let group: MultiThreadedEventLoopGroup
    /// The thread's event loop; give it to clients whose I/O belongs to this executor.
    public let loop: any EventLoop

    public init() {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        loop = group.next()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute {
            job.runSynchronously(isolatedTo: self.asUnownedSerialExecutor(), taskExecutor: self.asUnownedTaskExecutor())
        }
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    public func checkIsolated() {
        loop.preconditionInEventLoop()
    }

    /// Sleeps until `deadline` on this executor's own timer; throws `CancellationError` when the
    /// task is cancelled first.
    public func sleep(until deadline: ContinuousClock.Instant) async throws {
        let delay = ContinuousClock.now.duration(to: deadline)
        guard delay > .zero else { return try Task.checkCancellation() }
        let components = delay.components
        let nanoseconds = components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
        let timer = loop.scheduleTask(in: .nanoseconds(nanoseconds)) {}
        do {
            try await withTaskCancellationHandler {
                try await timer.futureResult.get()
            } onCancel: {
                timer.cancel()
            }
        } catch {
            throw CancellationError()
        }
    }

    public func sleep(for duration: Duration) async throws {
        try await sleep(until: .now + duration)
    }

    /// Stops the thread. Call once nothing runs on it any more, from another executor.
    public func shutdown() async {
        try? await group.shutdownGracefully()
    }
}
