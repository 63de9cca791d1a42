import CNGHTTP2
import NIOCore
import NIOSSL
import NIOTLS
#if canImport(Glibc)
import Glibc
#endif

/// Serves one connection: sniffs the HTTP/2 preface, then speaks HTTP/1.1 (own strict
/// parser) or HTTP/2 (libnghttp2). Output of a whole read batch goes out in one write
/// and one flush, in the event loop's `SendPass` after the tick's reads.
///
/// Memory per connection stays bounded because nothing more is produced or read while the
/// socket has not taken what was already written (`awaitingDrain`, as nginx stops parsing
/// pipelined requests while an answer is unsent), and every connection ends: a head that does
/// not arrive (408, or a plain close when nothing was received, e.g. a TLS handshake that never
/// completes), output that makes no progress (`sendTimeout`), idleness.
final class HTTPConnectionHandler: ChannelDuplexHandler, SendPassMember {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Mode {
        case sniffing
        case http1
        case http2(HTTP2Connection)
        case closing
    }

    /// Bodies up to this size are copied into the batch buffer (one iovec, no lifetime questions).
    private static let copyLimit = 16 * 1024
    /// Pipelined HTTP/1.1 answers are written in batches of about this size; the next batch is
    /// made only once the socket has taken the previous one.
    private static let http1BatchLimit = 32 * 1024
    /// HTTP/2 output is handed to the socket in writes of at most this size (see `drainOutput`).
    private static let http2WriteLimit = 128 * 1024
    /// Largest batch buffer kept for the next batch (a bigger one is freed after its write).
    private static let batchBufferLimit = 64 * 1024

    private static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    private static let switchingProtocols = Array("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n".utf8)

    private var mode: Mode = .sniffing
    private let responder: any HTTPResponder
    private let template: HTTP2SessionTemplate
    private let limits: HTTPServerLimits
    private let exchange: HTTPExchange
    private let isTLS: Bool
    private let sendPass: SendPass
    /// Bookkeeping of `SendPass`: when this connection last sent, and whether it waits for a pass.
    var lastSent: UInt64 = 0
    var isQueuedForSend = false

    private var inbound: ByteBuffer?
    private var scannedBytes = 0
    /// The batch being assembled; allocated on first use so an idle connection holds none.
    private var output = ByteBuffer()
    private var lastBatchBytes = 4096
    private var closeAfterFlush = false
    private var unflushed = false
    private var servingHTTP1 = false
    private var context: ChannelHandlerContext?
    private var readPending = false
    /// The peer half-closed (sent FIN): answer what was received, then close.
    private var inputClosed = false

    /// Written output is waiting in the channel: produce and read nothing more until it has left.
    private var awaitingDrain = false
    /// Bytes handed to the channel so far; minus those still buffered, what the socket took.
    private var handedBytes = 0
    /// `handedBytes` when the channel's buffer was last looked at after a flush.
    private var handedAtDrainCheck = 0
    private var writtenAtLastProgress = 0
    private var lastWriteProgress: NIODeadline

    private var lastActivity: NIODeadline
    /// When the client started owing us a request head: the connection opened (which covers a
    /// TLS handshake) or a partial head arrived. Nil while we owe the client (or nothing is owed).
    private var headStartedAt: NIODeadline?
    /// When we last went back to reading after holding reads back (our backpressure): a partial
    /// head left in the buffer meanwhile was not the client's delay.
    private var readsResumedAt: NIODeadline
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline = .distantFuture

    init(
        responder: any HTTPResponder, template: HTTP2SessionTemplate, connection: ConnectionInfo, metrics: HTTPServerMetrics,
        sendPass: SendPass, now: NIODeadline
    ) {
        self.responder = responder
        self.sendPass = sendPass
        self.template = template
        self.limits = template.limits
        self.exchange = HTTPExchange(connection: connection, metrics: metrics)
        self.isTLS = connection.isTLS
        self.lastActivity = now
        self.lastWriteProgress = now
        self.headStartedAt = now
        self.readsResumedAt = now
    }

    // MARK: - lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { armTimer(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        armTimer(context: context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        stopTimer()
        mode = .closing
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopTimer()
        mode = .closing
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted(let negotiated) = event as? TLSUserEvent {
            switch negotiated {
            case "h2": startHTTP2(context: context, initial: nil)
            case "http/1.1": if case .sniffing = mode { mode = .http1 }
            default: break
            }
            flushOutput(context: context)
        } else if case .inputClosed = event as? ChannelEvent {
            peerFinished(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A FIN without TLS close_notify: the input is over (`inputClosed` follows), the answers
        // owed can still go out, as over plain TCP.
        if let tlsError = error as? NIOSSLError, case .uncleanShutdown = tlsError { return }
        // TLS failures, resets by peer: nothing useful can be sent any more.
        mode = .closing
        context.close(promise: nil)
    }

    // MARK: - reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        lastActivity = context.eventLoop.now
        switch mode {
        case .closing:
            return
        case .http2(let h2):
            // Responses are collected from nghttp2 in the send pass; a broken session closes now.
            let ok = bytes.withUnsafeReadableBytes { h2.receive($0, now: lastActivity) }
            if !ok {
                driveHTTP2(h2, context: context, fatal: true)
            } else if h2.openStreams > 0 {
                // A stream that began now must end its request within the head timeout.
                checkBy(lastActivity + limits.requestHeadTimeout, context: context)
            }
        case .sniffing:
            append(&bytes)
            sniff(context: context)
        case .http1:
            append(&bytes)
            serveHTTP1(context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        sendPass.enqueue(self)
        context.fireChannelReadComplete()
    }

    /// Called by the event loop's `SendPass` once this tick's reads are done.
    func send() {
        guard let context else { return }
        if case .http2(let h2) = mode, !awaitingDrain { driveHTTP2(h2, context: context, fatal: false) }
        flushOutput(context: context)
    }

    private func append(_ bytes: inout ByteBuffer) {
        if inbound == nil || inbound!.readableBytes == 0 {
            inbound = bytes
            scannedBytes = 0
        } else {
            if inbound!.readerIndex > 16 * 1024 { inbound!.discardReadBytes() }
            inbound!.writeBuffer(&bytes)
        }
    }

    private func sniff(context: ChannelHandlerContext) {
        guard let buffered = inbound else { return }
        let n = min(buffered.readableBytes, Self.preface.count)
        let matches = buffered.withUnsafeReadableBytes { bytes in
            Self.preface.withUnsafeBytes { memcmp(bytes.baseAddress!, $0.baseAddress!, n) == 0 }
        }
        if !matches {
            mode = .http1
            serveHTTP1(context: context)
        } else if n == Self.preface.count {
            var initial = inbound
            inbound = nil
            startHTTP2(context: context, initial: &initial)
        } else if inputClosed {
            beginClosing(context: context)
        }
    }

    /// The peer sent FIN. nginx answers a request followed at once by FIN, then closes; so do we.
    private func peerFinished(context: ChannelHandlerContext) {
        inputClosed = true
        switch mode {
        case .sniffing:
            if let inbound, inbound.readableBytes > 0 {
                sniff(context: context)
                if case .sniffing = mode { beginClosing(context: context) }
            } else {
                beginClosing(context: context)
            }
        case .http1:
            serveHTTP1(context: context)
        case .http2(let h2):
            // Finish the streams already begun, then GOAWAY and close (see `driveHTTP2`).
            h2.stopAcceptingStreams()
        case .closing:
            break
        }
        sendPass.enqueue(self)
    }

    // MARK: - HTTP/1.1

    private func serveHTTP1(context: ChannelHandlerContext) {
        // A flush below can deliver a writability change, which calls back in here; the outer
        // call re-reads all state after every flush, so the nested call has nothing to do.
        guard !servingHTTP1 else { return }
        servingHTTP1 = true
        defer { servingHTTP1 = false }
        while case .http1 = mode {
            guard var buffer = inbound, buffer.readableBytes > 0 else { break }
            // Answers the socket has not taken yet: parse nothing more (the requests wait in
            // `inbound`, reading stops) until it has. The wait is ours, not the client's, so the
            // head timeout does not run; the send timeout does.
            if awaitingDrain || !context.channel.isWritable {
                headStartedAt = nil
                return
            }
            // A single read can carry many pipelined requests: write them in bounded batches.
            // The last batch waits for the send pass.
            if output.readableBytes >= Self.http1BatchLimit || unflushed {
                flushOutput(context: context)
                continue
            }
            let result = buffer.withUnsafeReadableBytes { HTTP1Parser.parse($0, scanFrom: scannedBytes, limits: limits) }
            switch result {
            case .incomplete:
                scannedBytes = buffer.readableBytes
                if inputClosed {
                    // The head can never be completed.
                    beginClosing(context: context)
                    return
                }
                if headStartedAt == nil {
                    let started = max(lastActivity, readsResumedAt)
                    headStartedAt = started
                    checkBy(started + limits.requestHeadTimeout, context: context)
                }
                resumeReading(context: context)
                return
            case .invalid(let status, _):
                writeHTTP1(exchange.error(status, version: .http1_1), head: nil, keepAlive: false)
                beginClosing(context: context)
                return
            case .complete(let head):
                scannedBytes = 0
                headStartedAt = nil
                let upgraded = handleHTTP1(head, in: buffer, context: context)
                buffer.moveReaderIndex(forwardBy: head.length)
                inbound = buffer
                if upgraded, case .http2(let h2) = mode {
                    let rest = inbound
                    inbound = nil
                    if let rest, rest.readableBytes > 0 {
                        let ok = rest.withUnsafeReadableBytes { h2.receive($0, now: lastActivity) }
                        driveHTTP2(h2, context: context, fatal: !ok)
                    }
                    return
                }
            }
        }
        if let buffer = inbound, buffer.readableBytes == 0 { inbound = nil }
        guard case .http1 = mode else { return }
        if inputClosed {
            beginClosing(context: context)
        } else {
            resumeReading(context: context)
        }
    }

    /// Answers one parsed request. Returns true if the connection switched to HTTP/2.
    private func handleHTTP1(_ head: HTTP1RequestHead, in buffer: ByteBuffer, context: ChannelHandlerContext) -> Bool {
        let version = head.version
        // Framing first: a request whose end we cannot find must close the connection.
        if head.method == .other {
            writeHTTP1(exchange.error(.methodNotAllowed, version: version), head: head, keepAlive: head.keepAlive && !head.hasBody)
            if head.hasBody || !head.keepAlive { beginClosing(context: context) }
            return false
        }
        if head.hasBody {
            writeHTTP1(exchange.error(.contentTooLarge, version: version), head: head, keepAlive: false)
            beginClosing(context: context)
            return false
        }
        return buffer.withUnsafeReadableBytes { bytes in
            let target = UnsafeRawBufferPointer(rebasing: bytes[head.target])
            let ifNoneMatch = head.ifNoneMatch.map { UnsafeRawBufferPointer(rebasing: bytes[$0]) }
            if !isTLS, head.upgradeH2C, head.connectionUpgrade, head.connectionHTTP2Settings, head.http2SettingsCount == 1,
                let settingsRange = head.http2Settings,
                let settings = Base64URL.decode(UnsafeRawBufferPointer(rebasing: bytes[settingsRange]))
            {
                prepareOutput(context: context)
                output.writeBytes(Self.switchingProtocols)
                let h2 = HTTP2Connection(
                    template: template, responder: responder, exchange: exchange, buffers: sendPass.batchBuffers,
                    sliceBodies: !isTLS)
                mode = .http2(h2)
                if h2.upgrade(settingsPayload: settings, head: head, target: target, ifNoneMatch: ifNoneMatch, now: lastActivity) {
                    driveHTTP2(h2, context: context, fatal: false)
                } else {
                    driveHTTP2(h2, context: context, fatal: true)
                }
                return true
            }
            let decision = exchange.decide(
                target: target, version: version, acceptsGzip: head.acceptsGzip, acceptsHTML: head.acceptsHTML, ifNoneMatch: ifNoneMatch,
                responder: responder)
            writeHTTP1(decision, head: head, keepAlive: head.keepAlive)
            if !head.keepAlive { beginClosing(context: context) }
            return false
        }
    }

    private func writeHTTP1(_ decision: HTTPExchange.Decision, head: HTTP1RequestHead?, keepAlive: Bool) {
        let representation = decision.representation
        if let context { prepareOutput(context: context) }
        exchange.date.refresh()
        let sendBody = !decision.notModified && head?.method != .head
        let copyBody = sendBody && (representation.body.readableBytes <= Self.copyLimit || context == nil)
        // One access to `output` for the whole answer (each write to the stored property was its
        // own exclusivity-checked access, about ten per response).
        Self.renderHTTP1(
            decision, http1_0: head?.version == .http1_0, keepAlive: keepAlive, date: exchange.date.bytes, body: copyBody,
            into: &output)
        if sendBody, !copyBody, let context {
            // Large bodies go out as they are (shared storage, gathered by writev), not copied.
            writeOutput(context: context)
            handedBytes += representation.body.readableBytes
            context.write(wrapOutboundOut(representation.body), promise: nil)
        }
    }

    /// Appends an HTTP/1.1 answer's head, and its body if `body`, to `out`.
    private static func renderHTTP1(
        _ decision: HTTPExchange.Decision, http1_0: Bool, keepAlive: Bool, date: [UInt8], body: Bool, into out: inout ByteBuffer
    ) {
        let representation = decision.representation
        if decision.notModified {
            out.writeStaticString("HTTP/1.1 304 Not Modified\r\n")
        } else {
            out.writeBytes(representation.h1StatusLine)
        }
        out.writeStaticString("Date: ")
        out.writeBytes(date)
        out.writeStaticString("\r\n")
        out.writeBytes(decision.notModified ? representation.h1NotModifiedHeaders : representation.h1Headers)
        if !keepAlive {
            out.writeStaticString("Connection: close\r\n")
        } else if http1_0 {
            out.writeStaticString("Connection: keep-alive\r\n")
        }
        out.writeStaticString("\r\n")
        if body {
            out.writeImmutableBuffer(representation.body)
        }
    }

    // MARK: - HTTP/2

    private func startHTTP2(context: ChannelHandlerContext, initial: inout ByteBuffer?) {
        let h2 = HTTP2Connection(
            template: template, responder: responder, exchange: exchange, buffers: sendPass.batchBuffers, sliceBodies: !isTLS)
        mode = .http2(h2)
        headStartedAt = nil
        var ok = true
        if let bytes = initial {
            ok = bytes.withUnsafeReadableBytes { h2.receive($0, now: lastActivity) }
        }
        if inputClosed { h2.stopAcceptingStreams() }
        driveHTTP2(h2, context: context, fatal: !ok)
    }

    private func startHTTP2(context: ChannelHandlerContext, initial: ByteBuffer?) {
        var bytes = initial
        startHTTP2(context: context, initial: &bytes)
    }

    /// Collects what nghttp2 wants to send into the batch buffer and writes it out in bounded
    /// pieces while the socket takes them; when it does not, frames wait inside nghttp2 (bodies
    /// are not copied until sent, so that is bounded by MAX_CONCURRENT_STREAMS) until it has.
    private func driveHTTP2(_ h2: HTTP2Connection, context: ChannelHandlerContext, fatal: Bool) {
        if fatal {
            _ = h2.drainOutput()
            moveHTTP2Output(h2, context: context)
            beginClosing(context: context)
            return
        }
        while !awaitingDrain, context.channel.isWritable {
            let result = h2.drainOutput(limit: Self.http2WriteLimit)
            moveHTTP2Output(h2, context: context)
            switch result {
            case .failed:
                beginClosing(context: context)
                return
            case .done:
                if h2.isFinished { beginClosing(context: context) }
                return
            case .limited:
                flushOutput(context: context)
            }
        }
    }

    private func moveHTTP2Output(_ h2: HTTP2Connection, context: ChannelHandlerContext) {
        guard h2.bodySlices.isEmpty else {
            // Frame bytes and body slices alternate; the frame bytes go out as slices of h2's buffer.
            writeOutput(context: context)
            let frames = h2.output
            var start = 0
            for (at, body) in h2.bodySlices {
                if at > start {
                    context.write(wrapOutboundOut(frames.getSlice(at: frames.readerIndex + start, length: at - start)!), promise: nil)
                }
                handedBytes += body.readableBytes
                context.write(wrapOutboundOut(body), promise: nil)
                start = at
            }
            if frames.readableBytes > start {
                let rest = frames.getSlice(at: frames.readerIndex + start, length: frames.readableBytes - start)!
                context.write(wrapOutboundOut(rest), promise: nil)
            }
            handedBytes += frames.readableBytes
            unflushed = true
            h2.clearBatch()
            return
        }
        guard h2.output.readableBytes > 0 else { return }
        if output.readableBytes == 0 {
            swap(&output, &h2.output)
        } else {
            output.writeBuffer(&h2.output)
        }
        h2.clearBatch()
    }

    // MARK: - writing and backpressure

    private func beginClosing(context: ChannelHandlerContext) {
        mode = .closing
        closeAfterFlush = true
        inbound = nil
        // The answers still owed must leave within the send timeout.
        checkBy(context.eventLoop.now + sendCheckInterval, context: context)
    }

    /// Gives the batch buffer storage (a spare of the loop's, or sized like the last batch), if it has none.
    @inline(__always)
    private func prepareOutput(context: ChannelHandlerContext) {
        if output.capacity == 0 { output = sendPass.batchBuffers.take(capacity: lastBatchBytes) }
    }

    /// Hands the batch buffer to the channel without flushing (used before a large body).
    private func writeOutput(context: ChannelHandlerContext) {
        guard output.readableBytes > 0 else { return }
        let batch = output.readableBytes
        handedBytes += batch
        context.write(wrapOutboundOut(output), promise: nil)
        // The next batch gets a buffer when it is first needed (a spare of the loop's, or a new one
        // of this batch's size, so a busy connection does not regrow it from 4 KiB every time): an
        // idle connection keeps none.
        lastBatchBytes = min(Self.batchBufferLimit, max(4096, batch))
        output = ByteBuffer()
        unflushed = true
    }

    private func flushOutput(context: ChannelHandlerContext) {
        var sent = ByteBuffer()
        if output.readableBytes > 0 {
            sent = output
            writeOutput(context: context)
        }
        guard unflushed || closeAfterFlush else { return }
        unflushed = false
        if closeAfterFlush {
            closeAfterFlush = false
            // Close once everything written so far has left, never cutting a response short.
            let done = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: done)
            done.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            return
        }
        context.flush()
        // Once the socket took the batch whole, NIO no longer holds it: the loop keeps it for reuse.
        sendPass.batchBuffers.recycle(&sent)
        // Looking costs a channel-option call, so only once 16 KiB went out since the last look:
        // small answers to a peer that stops reading pile up to the channel's high-water mark at
        // most, which stops reading, and the send timeout looks on its own.
        if handedBytes - handedAtDrainCheck >= 16 * 1024 {
            handedAtDrainCheck = handedBytes
            awaitDrainIfBuffered(context: context)
        }
    }

    /// Bytes written to the channel that the socket has not taken yet.
    private func bufferedBytes(_ context: ChannelHandlerContext) -> Int {
        (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
    }

    /// After a flush the socket did not take whole: wait until it has (an empty write completes
    /// after everything before it), then carry on with what is buffered.
    private func awaitDrainIfBuffered(context: ChannelHandlerContext) {
        guard !awaitingDrain else { return }
        let buffered = bufferedBytes(context)
        guard buffered > 0 else { return }
        awaitingDrain = true
        headStartedAt = nil  // we hold reads back now, the client is not late
        lastWriteProgress = context.eventLoop.now
        writtenAtLastProgress = handedBytes - buffered
        checkBy(lastWriteProgress + sendCheckInterval, context: context)
        let drained = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: drained)
        drained.futureResult.assumeIsolated().whenComplete { [self] result in
            awaitingDrain = false
            guard case .success = result, let context = self.context else { return }
            lastWriteProgress = context.eventLoop.now
            readsResumedAt = lastWriteProgress
            switch mode {
            case .http1:
                serveHTTP1(context: context)
                flushOutput(context: context)
            case .http2(let h2):
                driveHTTP2(h2, context: context, fatal: false)
                flushOutput(context: context)
            default:
                break
            }
            resumeReading(context: context)
        }
    }

    func read(context: ChannelHandlerContext) {
        // Read nothing more while the peer has not taken what we already owe it, or while
        // enough of its requests wait unparsed.
        if canRead(context) {
            context.read()
        } else {
            readPending = true
        }
    }

    private func canRead(_ context: ChannelHandlerContext) -> Bool {
        !awaitingDrain && context.channel.isWritable && (inbound?.readableBytes ?? 0) < limits.maxRequestHeadBytes
    }

    private func resumeReading(context: ChannelHandlerContext) {
        guard readPending, canRead(context) else { return }
        readPending = false
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if !context.channel.isWritable {
            headStartedAt = nil  // reads are held back: the client is not late
        } else {
            readsResumedAt = context.eventLoop.now
            switch mode {
            case .http2(let h2):
                driveHTTP2(h2, context: context, fatal: false)
                flushOutput(context: context)
            case .http1:
                serveHTTP1(context: context)
                flushOutput(context: context)
            default:
                break
            }
            resumeReading(context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: - timeouts

    /// Owed output is checked for progress this often (so the send timeout ends 1–1.25 × late).
    private var sendCheckInterval: TimeAmount { .nanoseconds(limits.sendTimeout.nanoseconds / 4) }

    private func armTimer(context: ChannelHandlerContext) {
        guard timer == nil else { return }
        schedule(at: nextDeadline(now: context.eventLoop.now), context: context)
    }

    private func stopTimer() {
        timer?.cancel()
        timer = nil
        timerDeadline = .distantFuture
    }

    /// Makes sure a check runs no later than `deadline` (timers are moved only earlier, so
    /// activity costs nothing; a check that finds nothing due schedules the next one).
    private func checkBy(_ deadline: NIODeadline, context: ChannelHandlerContext) {
        guard deadline < timerDeadline, self.context != nil else { return }
        timer?.cancel()
        schedule(at: deadline, context: context)
    }

    private func schedule(at deadline: NIODeadline, context: ChannelHandlerContext) {
        timerDeadline = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            timerDeadline = .distantFuture
            checkTimeouts(context: context)
        }
    }

    /// Whether output is owed that has not left: buffered in the channel, held by TLS or nghttp2
    /// (a stream whose body waits for a window), or the last answers before a close.
    private func owesOutput(_ context: ChannelHandlerContext) -> Bool {
        if awaitingDrain || bufferedBytes(context) > 0 { return true }
        switch mode {
        case .closing: return true
        case .http2(let h2): return h2.streamsSendingBody > 0
        default: return false
        }
    }

    private func nextDeadline(now: NIODeadline) -> NIODeadline {
        var deadline = lastActivity + limits.idleTimeout
        if let headStartedAt { deadline = min(deadline, headStartedAt + limits.requestHeadTimeout) }
        if let context, owesOutput(context) { deadline = min(deadline, now + sendCheckInterval) }
        if case .http2(let h2) = mode, let stream = h2.earliestUnfinishedRequest {
            deadline = min(deadline, stream + limits.requestHeadTimeout)
        }
        return deadline
    }

    private func checkTimeouts(context: ChannelHandlerContext) {
        let now = context.eventLoop.now
        // Send timeout: owed output that made no progress at all for the whole period.
        if owesOutput(context) {
            let written = handedBytes - bufferedBytes(context)
            if written != writtenAtLastProgress {
                writtenAtLastProgress = written
                lastWriteProgress = now
            } else if now - lastWriteProgress >= limits.sendTimeout {
                if case .http2(let h2) = mode { h2.terminate() }
                mode = .closing
                context.close(promise: nil)
                return
            }
        } else {
            writtenAtLastProgress = handedBytes - bufferedBytes(context)
            lastWriteProgress = now
        }
        switch mode {
        case .closing:
            break
        case .http2(let h2):
            h2.expireStalledStreams(now: now, timeout: limits.requestHeadTimeout)
            if h2.openStreams == 0, now - lastActivity >= limits.idleTimeout {
                h2.terminate()
            }
            if !awaitingDrain { driveHTTP2(h2, context: context, fatal: false) }
            flushOutput(context: context)
        case .sniffing, .http1:
            if let started = headStartedAt, now - started >= limits.requestHeadTimeout {
                if let inbound, inbound.readableBytes > 0 {
                    // Part of a head arrived: say why before closing.
                    writeHTTP1(exchange.error(.requestTimeout, version: .http1_1), head: nil, keepAlive: false)
                    beginClosing(context: context)
                    flushOutput(context: context)
                } else {
                    // Nothing arrived (or a TLS handshake never completed, which would hold any
                    // answer back): there is no one to answer.
                    mode = .closing
                    context.close(promise: nil)
                    return
                }
            } else if headStartedAt == nil, !owesOutput(context), now - lastActivity >= limits.idleTimeout {
                beginClosing(context: context)
                flushOutput(context: context)
            }
        }
        guard self.context != nil, context.channel.isActive else { return }
        schedule(at: max(nextDeadline(now: now), now + .milliseconds(1)), context: context)
    }
}

/// Decodes the `HTTP2-Settings` header (base64url without padding, RFC 7540 §3.2.1).
enum Base64URL {
    static func decode(_ input: UnsafeRawBufferPointer) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(input.count * 3 / 4)
        var acc: UInt32 = 0
        var bits = 0
        for c in input {
            let v: UInt8
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = c - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = c - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0") + 52
            case UInt8(ascii: "-"): v = 62
            case UInt8(ascii: "_"): v = 63
            case UInt8(ascii: "="): continue
            default: return nil
            }
            acc = (acc << 6) | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((acc >> UInt32(bits)) & 0xff))
            }
        }
        // SETTINGS payload is a sequence of 6-byte entries.
        return out.count % 6 == 0 ? out : nil
    }
}
