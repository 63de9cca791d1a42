import NIOConcurrencyHelpers
import NIOCore

/// Sends the responses of one event-loop tick after all of the tick's reads, in the order the
/// connections were last answered, so requests are answered in about the order they arrived.
///
/// Why: NIO's epoll is level-triggered, and the kernel puts every connection that one
/// `epoll_wait` reported back on its ready list, in the order reported. A connection that
/// turns ready just after that call (typically the one answered last: its client's next
/// request arrives a moment later) queues behind all of them, is answered last in the next
/// tick too, and from then on waits two ticks per request. Under load that was 4 % of all
/// requests at twice the median latency (h2c, 50 connections, one stream each).
final class SendPass {
    private let eventLoop: any EventLoop
    /// Counts sends; a connection's last value orders it in the next pass.
    private var sequence: UInt64 = 0
    private var isScheduled = false
    private var queue: [any SendPassMember] = []
    private var running: [any SendPassMember] = []
    /// The loop's spare batch buffers (every connection of the loop writes from here).
    let batchBuffers = BatchBuffers()

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Queues a connection's output for this tick's pass (tasks run after the tick's I/O events).
    func enqueue(_ member: any SendPassMember) {
        guard !member.isQueuedForSend else { return }
        member.isQueuedForSend = true
        queue.append(member)
        guard !isScheduled else { return }
        isScheduled = true
        eventLoop.assumeIsolated().execute { [self] in run() }
    }

    private func run() {
        isScheduled = false
        swap(&running, &queue)
        // A client that got its last answer earlier also sent its next request earlier.
        running.sort { $0.lastSent < $1.lastSent }
        for member in running {
            member.isQueuedForSend = false
            sequence += 1
            member.lastSent = sequence
            member.send()
        }
        running.removeAll(keepingCapacity: true)
    }
}

/// A connection as `SendPass` sees it; the pass keeps its bookkeeping in the connection.
protocol SendPassMember: AnyObject {
    /// The pass's sequence number at this connection's last send (0: never sent).
    var lastSent: UInt64 { get set }
    var isQueuedForSend: Bool { get set }
    func send()
}

/// One `SendPass` per event loop, created on first use.
final class SendPasses: Sendable {
    private let passes = NIOLockedValueBox<[ObjectIdentifier: NIOLoopBound<SendPass>]>([:])

    /// Must be called on `eventLoop`.
    func pass(for eventLoop: any EventLoop) -> SendPass {
        let bound = passes.withLockedValue { passes in
            if let existing = passes[ObjectIdentifier(eventLoop)] { return existing }
            let created = NIOLoopBound(SendPass(eventLoop: eventLoop), eventLoop: eventLoop)
            passes[ObjectIdentifier(eventLoop)] = created
            return created
        }
        return bound.value
    }
}

/// Batch buffers the socket has finished with, kept by the event loop for the next batches.
///
/// Each response is assembled in a batch buffer that is handed to NIO; a new buffer per batch
/// cost two allocations and two frees per response. The spares belong to the loop, not to a
/// connection, so an idle connection still holds no buffer. Every connection answered in a tick
/// holds one until the tick's send pass, so the loop keeps up to `maxSpareBytes` of them.
final class BatchBuffers {
    private static let maxSpareBytes = 1024 * 1024
    private static let maxCapacity = 64 * 1024
    private let allocator = ByteBufferAllocator()
    private var spares: [ByteBuffer] = []
    private var spareBytes = 0

    /// An empty buffer: a spare if there is one (it grows if the batch needs more), else a new one.
    func take(capacity: Int) -> ByteBuffer {
        guard let spare = spares.popLast() else { return allocator.buffer(capacity: capacity) }
        spareBytes -= spare.capacity
        return spare
    }

    /// Keeps `buffer` for a later batch if nothing else holds its storage any more (NIO lets go
    /// of a write once the socket has taken it), and leaves `buffer` empty either way.
    func recycle(_ buffer: inout ByteBuffer) {
        defer { buffer = ByteBuffer() }
        let capacity = buffer.capacity
        guard capacity > 0, capacity <= Self.maxCapacity, spareBytes + capacity <= Self.maxSpareBytes else { return }
        if buffer.modifyIfUniquelyOwned({ $0.clear() }) != nil {
            spares.append(buffer)
            spareBytes += capacity
        }
    }
}
