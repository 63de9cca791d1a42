import CNGHTTP2
import NIOCore
import NIOTLS
#if canImport(Glibc)
import Glibc
#endif

/// Serves one connection: sniffs the HTTP/2 preface, then speaks HTTP/1.1 (own strict
/// parser) or HTTP/2 (libnghttp2). Output of a whole read batch goes out in one write
/// and one flush, in the event loop's `SendPass` after the tick's reads.
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
    /// Stop serving pipelined requests while this much output waits and the socket is backed up.
    private static let pipelineOutputLimit = 256 * 1024
    /// HTTP/2 output is handed to the socket in writes of at most this size (see `drainOutput`).
    private static let http2WriteLimit = 128 * 1024

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
    private var output: ByteBuffer
    private var closeAfterFlush = false
    private var unflushed = false
    private var servingHTTP1 = false
    private var context: ChannelHandlerContext?
    private var readPending = false

    private var lastActivity: NIODeadline = .now()
    /// When the first byte of a request head still being received arrived (or the connection opened).
    private var headStartedAt: NIODeadline? = .now()
    private var timer: Scheduled<Void>?

    init(
        responder: any HTTPResponder, template: HTTP2SessionTemplate, connection: ConnectionInfo, metrics: HTTPServerMetrics,
        sendPass: SendPass
    ) {
        self.responder = responder
        self.sendPass = sendPass
        self.template = template
        self.limits = template.limits
        self.exchange = HTTPExchange(connection: connection, metrics: metrics)
        self.isTLS = connection.isTLS
        self.output = ByteBuffer()
    }

    // MARK: - lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        output = context.channel.allocator.buffer(capacity: 4096)
        if context.channel.isActive { armTimer(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        armTimer(context: context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        timer?.cancel()
        timer = nil
        mode = .closing
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
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
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // TLS failures, resets by peer: nothing useful can be sent any more.
        mode = .closing
        context.close(promise: nil)
    }

    // MARK: - reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        lastActivity = .now()
        switch mode {
        case .closing:
            return
        case .http2(let h2):
            // Responses are collected from nghttp2 in the send pass; a broken session closes now.
            let ok = bytes.withUnsafeReadableBytes { h2.receive($0) }
            if !ok { driveHTTP2(h2, context: context, fatal: true) }
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
        if case .http2(let h2) = mode { driveHTTP2(h2, context: context, fatal: false) }
        flushOutput(context: context)
    }

    private func append(_ bytes: inout ByteBuffer) {
        if inbound == nil || inbound!.readableBytes == 0 {
            inbound = bytes
            scannedBytes = 0
        } else {
            if inbound!.readerIndex > 64 * 1024 { inbound!.discardReadBytes() }
            inbound!.writeBuffer(&bytes)
        }
        if headStartedAt == nil { headStartedAt = lastActivity }
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
        }
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
            // A single read can carry many pipelined requests: stop answering while the peer
            // is not draining; `channelWritabilityChanged` resumes with the buffered rest.
            // The last answer waits for the send pass.
            if output.readableBytes >= Self.pipelineOutputLimit || unflushed {
                flushOutput(context: context)
                if !context.channel.isWritable { return }
                continue
            }
            let result = buffer.withUnsafeReadableBytes { HTTP1Parser.parse($0, scanFrom: scannedBytes, limits: limits) }
            switch result {
            case .incomplete:
                scannedBytes = buffer.readableBytes
                if headStartedAt == nil { headStartedAt = lastActivity }
                return
            case .invalid(let status, _):
                writeHTTP1(exchange.error(status, version: .http1_1), head: nil, keepAlive: false)
                beginClosing()
                return
            case .complete(let head):
                scannedBytes = 0
                let upgraded = handleHTTP1(head, in: buffer, context: context)
                buffer.moveReaderIndex(forwardBy: head.length)
                inbound = buffer
                headStartedAt = buffer.readableBytes > 0 ? lastActivity : nil
                if upgraded, case .http2(let h2) = mode {
                    let rest = inbound
                    inbound = nil
                    if let rest, rest.readableBytes > 0 {
                        let ok = rest.withUnsafeReadableBytes { h2.receive($0) }
                        driveHTTP2(h2, context: context, fatal: !ok)
                    }
                    return
                }
            }
        }
        if let buffer = inbound, buffer.readableBytes == 0 { inbound = nil }
    }

    /// Answers one parsed request. Returns true if the connection switched to HTTP/2.
    private func handleHTTP1(_ head: HTTP1RequestHead, in buffer: ByteBuffer, context: ChannelHandlerContext) -> Bool {
        let version = head.version
        // Framing first: a request whose end we cannot find must close the connection.
        if head.method == .other {
            writeHTTP1(exchange.error(.methodNotAllowed, version: version), head: head, keepAlive: head.keepAlive && !head.hasBody)
            if head.hasBody || !head.keepAlive { beginClosing() }
            return false
        }
        if head.hasBody {
            writeHTTP1(exchange.error(.contentTooLarge, version: version), head: head, keepAlive: false)
            beginClosing()
            return false
        }
        return buffer.withUnsafeReadableBytes { bytes in
            let target = UnsafeRawBufferPointer(rebasing: bytes[head.target])
            let ifNoneMatch = head.ifNoneMatch.map { UnsafeRawBufferPointer(rebasing: bytes[$0]) }
            if !isTLS, head.upgradeH2C, head.connectionUpgrade, head.connectionHTTP2Settings, head.http2SettingsCount == 1,
                let settingsRange = head.http2Settings,
                let settings = Base64URL.decode(UnsafeRawBufferPointer(rebasing: bytes[settingsRange]))
            {
                output.writeBytes(Self.switchingProtocols)
                let h2 = HTTP2Connection(
                    template: template, responder: responder, exchange: exchange, allocator: context.channel.allocator,
                    sliceBodies: !isTLS)
                mode = .http2(h2)
                if h2.upgrade(settingsPayload: settings, head: head, target: target, ifNoneMatch: ifNoneMatch) {
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
            if !head.keepAlive { beginClosing() }
            return false
        }
    }

    private func writeHTTP1(_ decision: HTTPExchange.Decision, head: HTTP1RequestHead?, keepAlive: Bool) {
        let representation = decision.representation
        exchange.date.refresh()
        if decision.notModified {
            output.writeStaticString("HTTP/1.1 304 Not Modified\r\n")
        } else {
            output.writeBytes(representation.h1StatusLine)
        }
        output.writeStaticString("Date: ")
        output.writeBytes(exchange.date.bytes)
        output.writeStaticString("\r\n")
        output.writeBytes(decision.notModified ? representation.h1NotModifiedHeaders : representation.h1Headers)
        if !keepAlive {
            output.writeStaticString("Connection: close\r\n")
        } else if head?.version == .http1_0 {
            output.writeStaticString("Connection: keep-alive\r\n")
        }
        output.writeStaticString("\r\n")
        if !decision.notModified, head?.method != .head {
            var body = representation.body
            if body.readableBytes > Self.copyLimit, let context {
                // Large bodies go out as they are (shared storage, gathered by writev), not copied.
                writeOutput(context: context)
                context.write(wrapOutboundOut(body), promise: nil)
            } else {
                output.writeBuffer(&body)
            }
        }
    }

    // MARK: - HTTP/2

    private func startHTTP2(context: ChannelHandlerContext, initial: inout ByteBuffer?) {
        let h2 = HTTP2Connection(
            template: template, responder: responder, exchange: exchange, allocator: context.channel.allocator, sliceBodies: !isTLS)
        mode = .http2(h2)
        headStartedAt = nil
        var ok = true
        if let bytes = initial {
            ok = bytes.withUnsafeReadableBytes { h2.receive($0) }
        }
        driveHTTP2(h2, context: context, fatal: !ok)
    }

    private func startHTTP2(context: ChannelHandlerContext, initial: ByteBuffer?) {
        var bytes = initial
        startHTTP2(context: context, initial: &bytes)
    }

    /// Collects what nghttp2 wants to send into the batch buffer and writes it out in bounded
    /// pieces while the socket drains; when it backs up, frames wait inside nghttp2 (bodies
    /// are not copied until sent, so that is bounded by MAX_CONCURRENT_STREAMS) until
    /// writability returns.
    private func driveHTTP2(_ h2: HTTP2Connection, context: ChannelHandlerContext, fatal: Bool) {
        if fatal {
            _ = h2.drainOutput()
            moveHTTP2Output(h2, context: context)
            beginClosing()
            return
        }
        while context.channel.isWritable {
            let result = h2.drainOutput(limit: Self.http2WriteLimit)
            moveHTTP2Output(h2, context: context)
            switch result {
            case .failed:
                beginClosing()
                return
            case .done:
                if h2.isFinished { beginClosing() }
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
                context.write(wrapOutboundOut(body), promise: nil)
                start = at
            }
            if frames.readableBytes > start {
                let rest = frames.getSlice(at: frames.readerIndex + start, length: frames.readableBytes - start)!
                context.write(wrapOutboundOut(rest), promise: nil)
            }
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

    private func beginClosing() {
        mode = .closing
        closeAfterFlush = true
        inbound = nil
    }

    /// Hands the batch buffer to the channel without flushing (used before a large body).
    private func writeOutput(context: ChannelHandlerContext) {
        guard output.readableBytes > 0 else { return }
        let batch = output.readableBytes
        context.write(wrapOutboundOut(output), promise: nil)
        // Size the next batch buffer like this one, so a busy connection does not regrow
        // (and copy) its buffer from 4 KiB on every read batch.
        output = context.channel.allocator.buffer(capacity: min(Self.pipelineOutputLimit + 65536, max(4096, batch)))
        unflushed = true
    }

    private func flushOutput(context: ChannelHandlerContext) {
        if output.readableBytes > 0 {
            writeOutput(context: context)
        }
        guard unflushed || closeAfterFlush else { return }
        unflushed = false
        if closeAfterFlush {
            closeAfterFlush = false
            // Close once everything written so far has left, never cutting a response short.
            let done = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: done)
            done.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            return
        }
        context.flush()
    }

    func read(context: ChannelHandlerContext) {
        // Stop reading while the peer does not drain what we already owe it.
        if context.channel.isWritable {
            context.read()
        } else {
            readPending = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
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
            if readPending {
                readPending = false
                context.read()
            }
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: - timeouts

    private func armTimer(context: ChannelHandlerContext) {
        guard timer == nil else { return }
        scheduleCheck(context: context, at: nextDeadline())
    }

    private func nextDeadline() -> NIODeadline {
        if let headStartedAt { return min(headStartedAt + limits.requestHeadTimeout, lastActivity + limits.idleTimeout) }
        if case .http2 = mode { return min(lastActivity + limits.requestHeadTimeout, lastActivity + limits.idleTimeout) }
        return lastActivity + limits.idleTimeout
    }

    private func scheduleCheck(context: ChannelHandlerContext, at deadline: NIODeadline) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            checkTimeouts(context: context)
        }
    }

    private func checkTimeouts(context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        switch mode {
        case .closing:
            return
        case .http2(let h2):
            let busy = h2.expireStalledStreams(now: now, timeout: limits.requestHeadTimeout)
            if !busy, now - lastActivity >= limits.idleTimeout {
                h2.terminate()
            }
            driveHTTP2(h2, context: context, fatal: false)
            flushOutput(context: context)
            if case .closing = mode { return }
            scheduleCheck(context: context, at: now + min(limits.requestHeadTimeout, limits.idleTimeout))
            return
        case .sniffing, .http1:
            if let started = headStartedAt, now - started >= limits.requestHeadTimeout {
                if let inbound, inbound.readableBytes > 0 {
                    writeHTTP1(exchange.error(.requestTimeout, version: .http1_1), head: nil, keepAlive: false)
                }
                beginClosing()
                flushOutput(context: context)
                return
            }
            if headStartedAt == nil, now - lastActivity >= limits.idleTimeout {
                beginClosing()
                flushOutput(context: context)
                return
            }
            scheduleCheck(context: context, at: nextDeadline())
        }
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
