import CNGHTTP2
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Callbacks and options shared by every HTTP/2 session of a server.
///
/// `@unchecked Sendable`: both objects are built once in `init`, only read afterwards
/// (`nghttp2_session_server_new2` copies the callbacks and does not keep the options),
/// and freed in `deinit` when no session can be created from them any more.
final class HTTP2SessionTemplate: @unchecked Sendable {
    let callbacks: OpaquePointer
    let options: OpaquePointer
    let limits: HTTPServerLimits

    init(limits: HTTPServerLimits) {
        self.limits = limits
        var cbs: OpaquePointer?
        nghttp2_session_callbacks_new(&cbs)
        callbacks = cbs!
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, onBeginHeaders)
        nghttp2_session_callbacks_set_on_header_callback(callbacks, onHeader)
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, onFrameRecv)
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, onStreamClose)
        nghttp2_session_callbacks_set_send_data_callback(callbacks, onSendData)
        nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, onFrameSend)

        var opt: OpaquePointer?
        nghttp2_option_new(&opt)
        options = opt!
        // Closed streams need not be remembered: priorities are off (RFC 9218 setting below).
        nghttp2_option_set_no_closed_streams(options, 1)
        nghttp2_option_set_stream_reset_rate_limit(
            options, UInt64(limits.streamResetBurst), UInt64(limits.streamResetRatePerSecond))
        nghttp2_option_set_max_continuations(options, limits.maxContinuations)
        nghttp2_option_set_max_settings(options, 32)
        nghttp2_option_set_max_outbound_ack(options, 1000)
    }

    deinit {
        nghttp2_session_callbacks_del(callbacks)
        nghttp2_option_del(options)
    }
}

/// State of one request stream. Slots are recycled so steady-state traffic allocates nothing.
struct HTTP2StreamSlot {
    var streamID: Int32 = 0
    var method: HTTP1RequestHead.Method = .other
    var sawMethod = false
    var path: [UInt8] = []
    var ifNoneMatch: [UInt8] = []
    var hasIfNoneMatch = false
    var acceptsGzip = false
    var acceptsHTML = false
    var headerListBytes = 0
    var headerFields = 0
    var tooLarge = false
    var responded = false
    var startedAt: NIODeadline = .uptimeNanoseconds(0)
    var representation: HTTPRepresentation?
    var bodyOffset = 0
    /// Body held back until the client's preface arrives (h2c Upgrade; see `upgrade`).
    var deferred = false

    mutating func reset(streamID: Int32, now: NIODeadline) {
        self.streamID = streamID
        method = .other
        sawMethod = false
        path.removeAll(keepingCapacity: true)
        ifNoneMatch.removeAll(keepingCapacity: true)
        hasIfNoneMatch = false
        acceptsGzip = false
        acceptsHTML = false
        headerListBytes = 0
        headerFields = 0
        tooLarge = false
        responded = false
        startedAt = now
        representation = nil
        bodyOffset = 0
        deferred = false
    }

    /// Takes one request header field: counts it against the header-list limits and keeps what
    /// the answer depends on. Names arrive lowercase (nghttp2 rejects others), so their length
    /// picks the one comparison to make.
    mutating func receive(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, limits: HTTPServerLimits) {
        headerFields += 1
        headerListBytes += name.count + value.count + 32
        if headerListBytes > limits.maxHeaderListBytes || headerFields > limits.maxHeaderFields { tooLarge = true }
        if tooLarge { return }
        switch name.count {
        case 5 where Self.matches(name, ":path"):
            path.append(contentsOf: value)
        case 7 where Self.matches(name, ":method"):
            sawMethod = true
            method = Self.matches(value, "GET") ? .get : Self.matches(value, "HEAD") ? .head : .other
        case 15 where Self.matches(name, "accept-encoding"):
            if HTTP1Parser.acceptsGzip(value, 0..<value.count) { acceptsGzip = true }
        case 6 where Self.matches(name, "accept"):
            if HTTP1Parser.mentionsHTML(value, 0..<value.count) { acceptsHTML = true }
        case 13 where Self.matches(name, "if-none-match"):
            if hasIfNoneMatch { ifNoneMatch.append(UInt8(ascii: ",")) }
            hasIfNoneMatch = true
            ifNoneMatch.append(contentsOf: value)
        default:
            break
        }
    }

    private static func matches(_ bytes: UnsafeRawBufferPointer, _ s: StaticString) -> Bool {
        bytes.count == s.utf8CodeUnitCount && memcmp(bytes.baseAddress!, s.utf8Start, bytes.count) == 0
    }
}

/// One HTTP/2 connection driven through libnghttp2's `mem_recv`/`mem_send`.
///
/// nghttp2 callbacks only append to `output` and mutate slots; they never touch the
/// channel, so nothing can re-enter the session (nghttp2 forbids re-entrancy). All calls
/// happen on the channel's event loop.
final class HTTP2Connection {
    private(set) var session: OpaquePointer!
    /// Frames ready to send. DATA payloads of multiplexed streams are copied in from the
    /// pre-rendered body: one contiguous buffer per batch costs less (in NIO, in the kernel, and
    /// through TLS, which would otherwise seal every 9-byte frame header as its own record)
    /// than a write per piece (slices cost 8 % at 100 streams per connection).
    var output: ByteBuffer
    /// Plaintext, one open stream (a poller's usual connection): the DATA payloads of a large
    /// body are not copied but sent as slices of the pre-rendered body, each after the first `at`
    /// bytes of `output` (the copy of a 58 KB body was a sixth of the CPU time per request at h2c
    /// `-m1`).
    private(set) var bodySlices: [(at: Int, body: ByteBuffer)] = []
    private var slicedBytes = 0
    private let sliceBodies: Bool
    /// Bodies up to this size are copied, as HTTP/1.1 does: a slice is a second NIO write and
    /// iovec per response, which cost more than copying a 5.8 KB body (h2c `-m1`).
    private static let copyLimit = 16 * 1024
    private static let maxDataPayload = 64 * 1024
    private var slots: [HTTP2StreamSlot] = []
    private var freeSlots: [Int] = []
    private(set) var openStreams = 0
    private let responder: any HTTPResponder
    private let exchange: HTTPExchange
    private let limits: HTTPServerLimits
    private var headerScratch: UnsafeMutableBufferPointer<nghttp2_nv>
    private var upgradeSlot: Int?
    private let buffers: BatchBuffers
    /// Size of the last batch, for sizing the next one's buffer.
    private var lastBatchBytes = 4096
    /// When the bytes now being received arrived (stream start times for the head timeout).
    private var receivedAt: NIODeadline = .uptimeNanoseconds(0)
    /// Streams that have a response body not yet fully sent (the send timeout watches them).
    private(set) var streamsSendingBody = 0
    /// Streams whose request has not ended yet (the head timeout watches them).
    private var unfinishedRequests = 0
    /// Budget for RST_STREAM frames this server sends (see `HTTPServerLimits.serverResetBurst`).
    private var resetTokens: Int
    private var resetTokensRefilledAt: NIODeadline = .uptimeNanoseconds(0)
    private var resetBudgetExceeded = false
    private var calmedDown = false

    init(
        template: HTTP2SessionTemplate, responder: any HTTPResponder, exchange: HTTPExchange, buffers: BatchBuffers,
        sliceBodies: Bool
    ) {
        self.sliceBodies = sliceBodies
        self.responder = responder
        self.exchange = exchange
        self.limits = template.limits
        self.buffers = buffers
        self.output = ByteBuffer()
        self.resetTokens = template.limits.serverResetBurst
        self.headerScratch = .allocate(capacity: 16)
        var s: OpaquePointer?
        let rc = nghttp2_session_server_new2(&s, template.callbacks, Unmanaged.passUnretained(self).toOpaque(), template.options)
        precondition(rc == 0 && s != nil, "nghttp2_session_server_new2 failed: \(rc)")  // only fails on out-of-memory
        session = s
        var settings = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue), value: UInt32(limits.maxConcurrentStreams)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue), value: UInt32(limits.maxHeaderListBytes)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES.rawValue), value: 1),
        ]
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, settings.count)
    }

    deinit {
        // nghttp2_session_del does not call on_stream_close; slots hold only Swift values.
        nghttp2_session_del(session)
        headerScratch.deallocate()
    }

    /// Feeds received bytes (which arrived at `now`). Returns false when the session must be
    /// closed at once.
    func receive(_ bytes: UnsafeRawBufferPointer, now: NIODeadline) -> Bool {
        guard bytes.count > 0 else { return true }
        receivedAt = now
        if let slot = upgradeSlot {
            upgradeSlot = nil
            if slots[slot].streamID == 1, slots[slot].deferred {
                slots[slot].deferred = false
                nghttp2_session_resume_data(session, 1)
            }
        }
        let rc = nghttp2_session_mem_recv(session, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), bytes.count)
        guard rc < 0 else { return true }
        // Fatal for the session. Still tell an HTTP/2 peer why, when there is one.
        switch Int32(rc) {
        case NGHTTP2_ERR_BAD_CLIENT_MAGIC.rawValue:
            break
        case NGHTTP2_ERR_FLOODED.rawValue, NGHTTP2_ERR_TOO_MANY_CONTINUATIONS.rawValue:
            terminate(errorCode: NGHTTP2_ENHANCE_YOUR_CALM)
        default:
            terminate(errorCode: NGHTTP2_PROTOCOL_ERROR)
        }
        return false
    }

    enum DrainResult { case done, limited, failed }

    /// Moves frames nghttp2 has ready into `output`, stopping before it would hold more than
    /// `limit` bytes (a single frame larger than that still goes out on its own).
    ///
    /// `mem_send` hands out every ready DATA frame through `sendData` without returning, so the
    /// limit is enforced there: one call would otherwise gather the bodies of all open streams
    /// (100 × 58 KB in one write), and beyond a socket buffer's worth, bigger writes only cost more.
    func drainOutput(limit: Int = .max) -> DrainResult {
        outputLimit = limit
        blocked = false
        defer {
            outputLimit = .max
            // Sized here, not in `clearBatch`: the caller may have swapped `output` away by then.
            if output.writerIndex > 0 { lastBatchBytes = min(64 * 1024, max(4096, output.writerIndex)) }
        }
        if output.capacity == 0 {
            output = buffers.take(capacity: lastBatchBytes)
        } else if output.readableBytes == 0 {
            output.clear()
        }
        while batchBytes < limit {
            if resetBudgetExceeded, !calmedDown {
                // Too many resets of our own: tell the peer and end the session (nghttp2 then
                // wants neither to read nor to write, and the connection is closed).
                calmedDown = true
                terminate(errorCode: NGHTTP2_ENHANCE_YOUR_CALM)
            }
            var chunk: UnsafePointer<UInt8>?
            let n = nghttp2_session_mem_send(session, &chunk)
            if n < 0 { return .failed }
            if n == 0 {
                if resetBudgetExceeded, !calmedDown { continue }
                return blocked ? .limited : .done
            }
            output.writeBytes(UnsafeRawBufferPointer(start: chunk, count: n))
        }
        return .limited
    }

    private var outputLimit = Int.max
    private var batchBytes: Int { output.readableBytes + slicedBytes }

    /// Forgets the batch once the caller has handed `output` and `bodySlices` to the channel.
    /// The channel owns that storage now; the next batch gets its own (a spare of the loop's, see
    /// `BatchBuffers`), so an idle connection holds no batch buffer.
    func clearBatch() {
        output = ByteBuffer()
        bodySlices.removeAll(keepingCapacity: true)
        slicedBytes = 0
    }
    /// Set when `sendData` turned a frame away because the batch was full.
    private var blocked = false

    /// Whether the session has finished (GOAWAY exchanged and no active streams).
    var isFinished: Bool { nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0 }

    /// Starts a graceful or error shutdown with GOAWAY.
    func terminate(errorCode: nghttp2_error_code = NGHTTP2_NO_ERROR) {
        nghttp2_session_terminate_session(session, errorCode.rawValue)
    }

    /// The peer will send nothing more (it half-closed): GOAWAY naming the last stream it
    /// opened, so the streams already begun are answered and the session then finishes.
    func stopAcceptingStreams() {
        nghttp2_submit_goaway(
            session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nghttp2_session_get_last_proc_stream_id(session),
            NGHTTP2_NO_ERROR.rawValue, nil, 0)
    }

    /// Serves an `Upgrade: h2c` request as stream 1 (RFC 7540 §3.2).
    func upgrade(
        settingsPayload: [UInt8], head: HTTP1RequestHead, target: UnsafeRawBufferPointer, ifNoneMatch: UnsafeRawBufferPointer?,
        now: NIODeadline
    ) -> Bool {
        receivedAt = now
        let slot = allocateSlot(streamID: 1)
        let rc = settingsPayload.withUnsafeBufferPointer {
            nghttp2_session_upgrade2(
                session, $0.baseAddress, $0.count, head.method == .head ? 1 : 0, UnsafeMutableRawPointer(bitPattern: slot + 1))
        }
        guard rc == 0 else {
            release(slot: slot)
            return false
        }
        slots[slot].method = head.method
        slots[slot].sawMethod = true
        slots[slot].path.append(contentsOf: target)
        slots[slot].acceptsGzip = head.acceptsGzip
        slots[slot].acceptsHTML = head.acceptsHTML
        if let ifNoneMatch {
            slots[slot].hasIfNoneMatch = true
            slots[slot].ifNoneMatch.append(contentsOf: ifNoneMatch)
        }
        // Send only SETTINGS and the response HEADERS behind the 101 until the client's
        // preface arrives: curl keeps at most 32 KiB of data following a 101 and fails otherwise.
        slots[slot].deferred = true
        upgradeSlot = slot
        respond(slot: slot)
        return true
    }

    /// Resets streams whose request has not completed within the head timeout.
    func expireStalledStreams(now: NIODeadline, timeout: TimeAmount) {
        guard unfinishedRequests > 0 else { return }
        for i in slots.indices where slots[i].streamID != 0 && !slots[i].responded && now - slots[i].startedAt >= timeout {
            // Counted as answered: a reset stream waits for nothing more.
            slots[i].responded = true
            unfinishedRequests -= 1
            nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), slots[i].streamID, NGHTTP2_CANCEL.rawValue)
        }
    }

    /// When the oldest stream whose request has not ended began (nil when there is none).
    var earliestUnfinishedRequest: NIODeadline? {
        guard unfinishedRequests > 0 else { return nil }
        var earliest: NIODeadline?
        for slot in slots where slot.streamID != 0 && !slot.responded {
            earliest = min(earliest ?? slot.startedAt, slot.startedAt)
        }
        return earliest
    }

    // MARK: - callback entry points

    fileprivate func beginStream(_ streamID: Int32) {
        let slot = allocateSlot(streamID: streamID)
        nghttp2_session_set_stream_user_data(session, streamID, UnsafeMutableRawPointer(bitPattern: slot + 1))
    }

    fileprivate func header(slot i: Int, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        // One access to the slot for the whole field (each `slots[i].x` is its own
        // exclusivity-checked access, ~10 per field, ~7 fields per request).
        slots[i].receive(name: name, value: value, limits: limits)
    }

    fileprivate func requestComplete(slot i: Int) {
        guard !slots[i].responded else { return }
        respond(slot: i)
    }

    fileprivate func closeStream(slot i: Int) {
        release(slot: i)
    }

    /// Counts the RST_STREAM frames this server sends against a token bucket of
    /// `serverResetBurst`, refilled at `serverResetRatePerSecond`.
    fileprivate func sentReset() {
        let now = NIODeadline.now()
        let elapsed = (now - resetTokensRefilledAt).nanoseconds
        let refill = elapsed / 1_000_000_000 * Int64(limits.serverResetRatePerSecond)
        if refill > 0 {
            resetTokens = Int(min(Int64(limits.serverResetBurst), Int64(resetTokens) + refill))
            resetTokensRefilledAt = now
        }
        if resetTokens > 0 {
            resetTokens -= 1
        } else {
            resetBudgetExceeded = true
        }
    }

    /// Appends one DATA frame, unless the batch is not empty and the frame would take it past
    /// `outputLimit`: then returns false and nghttp2 offers the same frame again next time.
    fileprivate func sendData(frameHeader: UnsafePointer<UInt8>, length: Int, slot i: Int) -> Bool {
        if batchBytes > 0, batchBytes + 9 + length > outputLimit {
            blocked = true
            return false
        }
        output.writeBytes(UnsafeRawBufferPointer(start: frameHeader, count: 9))
        guard length > 0, let body = slots[i].representation?.body else { return true }
        let offset = slots[i].bodyOffset
        slots[i].bodyOffset += length
        if sliceBodies, openStreams == 1, body.readableBytes > Self.copyLimit {
            bodySlices.append((output.readableBytes, body.getSlice(at: body.readerIndex + offset, length: length)!))
            slicedBytes += length
            return true
        }
        body.withUnsafeReadableBytes { bytes in
            _ = output.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)]))
        }
        return true
    }

    fileprivate func readLength(slot i: Int, max: Int) -> (Int, eof: Bool)? {
        if slots[i].deferred { return nil }
        guard let representation = slots[i].representation else { return (0, true) }
        let remaining = representation.body.readableBytes - slots[i].bodyOffset
        // A peer may allow frames of up to 16 MiB; each is copied into the batch, so keep them small.
        let n = min(remaining, max, Self.maxDataPayload)
        return (n, n == remaining)
    }

    // MARK: - responding

    private func respond(slot i: Int) {
        slots[i].responded = true
        unfinishedRequests -= 1
        let streamID = slots[i].streamID
        let decision: HTTPExchange.Decision
        if slots[i].tooLarge {
            decision = exchange.error(.headerFieldsTooLarge, version: .http2)
        } else if !slots[i].sawMethod || slots[i].method == .other {
            decision = exchange.error(.methodNotAllowed, version: .http2)
        } else {
            decision = slots[i].path.withUnsafeBytes { path in
                slots[i].ifNoneMatch.withUnsafeBytes { inm in
                    exchange.decide(
                        target: path, version: .http2, acceptsGzip: slots[i].acceptsGzip, acceptsHTML: slots[i].acceptsHTML,
                        ifNoneMatch: slots[i].hasIfNoneMatch ? inm : nil, responder: responder)
                }
            }
        }
        let representation = decision.representation
        let headers = decision.notModified ? representation.h2NotModifiedHeaders : representation.h2Headers
        let sendBody = !decision.notModified && slots[i].method != .head && representation.body.readableBytes > 0
        if headers.count + 1 > headerScratch.count {
            headerScratch.deallocate()
            headerScratch = .allocate(capacity: headers.count + 1)
        }
        _ = headerScratch.initialize(fromContentsOf: headers)
        exchange.date.refresh()
        exchange.date.bytes.withUnsafeBufferPointer { date in
            // Date's value is copied by nghttp2 (no NO_COPY_VALUE); its name is a static string that
            // nghttp2 never writes to; everything else lives in `representation`.
            headerScratch[headers.count] = nghttp2_nv(
                name: UnsafeMutablePointer(mutating: ("date" as StaticString).utf8Start), value: UnsafeMutablePointer(mutating: date.baseAddress!),
                namelen: 4, valuelen: date.count, flags: UInt8(NGHTTP2_NV_FLAG_NO_COPY_NAME.rawValue))
            if sendBody {
                slots[i].representation = representation
                slots[i].bodyOffset = 0
                streamsSendingBody += 1
                var provider = nghttp2_data_provider(
                    source: nghttp2_data_source(ptr: UnsafeMutableRawPointer(bitPattern: i + 1)), read_callback: onReadData)
                nghttp2_submit_response(session, streamID, headerScratch.baseAddress, headers.count + 1, &provider)
            } else {
                nghttp2_submit_response(session, streamID, headerScratch.baseAddress, headers.count + 1, nil)
            }
        }
    }

    private func allocateSlot(streamID: Int32) -> Int {
        let index: Int
        if let free = freeSlots.popLast() {
            index = free
        } else {
            slots.append(HTTP2StreamSlot())
            index = slots.count - 1
        }
        slots[index].reset(streamID: streamID, now: receivedAt)
        openStreams += 1
        unfinishedRequests += 1
        return index
    }

    private func release(slot i: Int) {
        guard slots[i].streamID != 0 else { return }
        if !slots[i].responded { unfinishedRequests -= 1 }
        if slots[i].representation != nil { streamsSendingBody -= 1 }
        slots[i].streamID = 0
        slots[i].representation = nil
        freeSlots.append(i)
        openStreams -= 1
    }

}

// MARK: - C callbacks (capture nothing; context arrives through user_data)

@inline(__always)
private func connection(_ userData: UnsafeMutableRawPointer?) -> HTTP2Connection {
    Unmanaged<HTTP2Connection>.fromOpaque(userData!).takeUnretainedValue()
}

@inline(__always)
private func slotIndex(_ session: OpaquePointer?, _ streamID: Int32) -> Int? {
    guard let tag = nghttp2_session_get_stream_user_data(session, streamID) else { return nil }
    return Int(bitPattern: tag) - 1
}

private let onBeginHeaders: nghttp2_on_begin_headers_callback = { session, frame, userData in
    guard let frame, Int(frame.pointee.hd.type) == Int(NGHTTP2_HEADERS.rawValue),
        frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST
    else { return 0 }
    connection(userData).beginStream(frame.pointee.hd.stream_id)
    return 0
}

private let onHeader: nghttp2_on_header_callback = { session, frame, name, namelen, value, valuelen, _, userData in
    guard let frame, let slot = slotIndex(session, frame.pointee.hd.stream_id) else { return 0 }
    connection(userData).header(
        slot: slot, name: UnsafeRawBufferPointer(start: name, count: namelen),
        value: UnsafeRawBufferPointer(start: value, count: valuelen))
    return 0
}

private let onFrameRecv: nghttp2_on_frame_recv_callback = { session, frame, userData in
    guard let frame else { return 0 }
    let type = UInt32(frame.pointee.hd.type)
    guard type == NGHTTP2_HEADERS.rawValue || type == NGHTTP2_DATA.rawValue,
        frame.pointee.hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0,
        let slot = slotIndex(session, frame.pointee.hd.stream_id)
    else { return 0 }
    connection(userData).requestComplete(slot: slot)
    return 0
}

private let onStreamClose: nghttp2_on_stream_close_callback = { session, streamID, _, userData in
    if let slot = slotIndex(session, streamID) {
        connection(userData).closeStream(slot: slot)
    }
    return 0
}

private let onFrameSend: nghttp2_on_frame_send_callback = { _, frame, userData in
    if let frame, UInt32(frame.pointee.hd.type) == NGHTTP2_RST_STREAM.rawValue {
        connection(userData).sentReset()
    }
    return 0
}

private let onReadData: nghttp2_data_source_read_callback = { _, _, _, length, flags, source, userData in
    guard let tag = source?.pointee.ptr else { return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue) }
    guard let (n, eof) = connection(userData).readLength(slot: Int(bitPattern: tag) - 1, max: length) else {
        return Int(NGHTTP2_ERR_DEFERRED.rawValue)
    }
    var f = NGHTTP2_DATA_FLAG_NO_COPY.rawValue
    if eof { f |= NGHTTP2_DATA_FLAG_EOF.rawValue }
    flags!.pointee = f
    return n
}

private let onSendData: nghttp2_send_data_callback = { _, frame, frameHeader, length, source, userData in
    guard let tag = source?.pointee.ptr, let frameHeader else { return Int32(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue) }
    let sent = connection(userData).sendData(frameHeader: frameHeader, length: length, slot: Int(bitPattern: tag) - 1)
    return sent ? 0 : NGHTTP2_ERR_WOULDBLOCK.rawValue
}
