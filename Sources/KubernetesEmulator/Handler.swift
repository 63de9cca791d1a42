import Foundation
import JSON
import Logging
import NIOCore
import NIOHTTP1

/// One parsed request.
struct APIRequest {
    var method: HTTPMethod
    var segments: [String]
    var query: [String: String]
    var headers: HTTPHeaders
    var body: ByteBuffer
    var identity = ""

    init(head: HTTPRequestHead, body: ByteBuffer) {
        method = head.method
        headers = head.headers
        self.body = body
        let uri = head.uri
        let (path, queryString): (Substring, Substring?) =
            if let q = uri.firstIndex(of: "?") { (uri[..<q], uri[uri.index(after: q)...]) } else { (Substring(uri), nil) }
        segments = path.split(separator: "/").map { Self.percentDecode($0, plusIsSpace: false) }
        query = [:]
        for pair in (queryString ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = Self.percentDecode(parts[0], plusIsSpace: true)
            query[key] = parts.count > 1 ? Self.percentDecode(parts[1], plusIsSpace: true) : ""
        }
    }

    static func percentDecode(_ s: Substring, plusIsSpace: Bool) -> String {
        var out: [UInt8] = []
        let b = Array(s.utf8)
        var i = 0
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: c - 48
            case 65...70: c - 55
            case 97...102: c - 87
            default: nil
            }
        }
        while i < b.count {
            if b[i] == 37, i + 2 < b.count, let h = hex(b[i + 1]), let l = hex(b[i + 2]) {
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(plusIsSpace && b[i] == 43 ? 32 : b[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    func flag(_ name: String) -> Bool {
        guard let v = query[name] else { return false }
        return v == "true" || v == "1" || v == "True"
    }
}

/// An answer: status, body bytes (JSON ends with a newline) and extra headers.
struct APIResponse {
    var status: HTTPResponseStatus
    var body: [UInt8]
    var contentType = "application/json"
    var headers: [(String, String)] = []

    static func json(_ value: JSONValue, status: HTTPResponseStatus = .ok) -> APIResponse {
        var bytes = value.bytes
        bytes.append(UInt8(ascii: "\n"))
        return APIResponse(status: status, body: bytes)
    }

    static func raw(_ bytes: [UInt8], status: HTTPResponseStatus = .ok) -> APIResponse {
        var b = bytes
        b.append(UInt8(ascii: "\n"))
        return APIResponse(status: status, body: b)
    }

    static func error(_ e: APIError) -> APIResponse {
        var r = json(e.status, status: HTTPResponseStatus(statusCode: e.code))
        if let after = e.retryAfterSeconds { r.headers.append(("Retry-After", String(after))) }
        return r
    }
}

/// The HTTP/1.1 handler: authenticates, applies faults, routes to the store and streams watches.
final class EmulatorHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let core: EmulatorCore
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var tooLarge = false
    private var context: ChannelHandlerContext?
    private var watchID: Int?
    private var watchTimers: [Scheduled<Void>] = []
    private var bookmarkTimer: RepeatedTask?
    private var flushPending = false
    private var keepAlive = true

    init(core: EmulatorCore) { self.core = core }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopWatch()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopWatch()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = context.channel.allocator.buffer(capacity: 0)
            tooLarge = false
        case .body(var chunk):
            guard !tooLarge else { return }
            if body.readableBytes + chunk.readableBytes > core.configuration.maxRequestBodyBytes {
                tooLarge = true
                body = ByteBuffer()
            } else {
                body.writeBuffer(&chunk)
            }
        case .end:
            guard let head else { return }
            self.head = nil
            keepAlive = head.isKeepAlive
            if tooLarge {
                write(.error(.tooLarge(core.configuration.maxRequestBodyBytes)))
                return
            }
            var request = APIRequest(head: head, body: body)
            body = ByteBuffer()
            guard let identity = core.authenticate(request.headers) else {
                write(.error(.unauthorized))
                return
            }
            request.identity = identity
            // The emulator's own routes are never slowed or failed: they are how faults get lifted.
            if !AdminRoutes.matches(request), let delay = core.faults.latency(for: identity) {
                let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
                let boxed = NIOLoopBound(request, eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: delay) { bound.value.dispatch(boxed.value) }
            } else {
                dispatch(request)
            }
        }
    }

    private func dispatch(_ request: APIRequest) {
        guard let context else { return }
        let route = Router.classify(request)
        if let r = route.definition, route.special == nil {
            core.requests.record(
                RequestRecord(
                    identity: request.identity, verb: route.verb, group: r.group, resource: r.plural, subresource: route.subresource,
                    namespace: route.namespace))
        }
        let isAdmin = if case .admin? = route.special { true } else { false }
        switch isAdmin ? .proceed : core.faults.action(for: request.identity, verb: route.verb, resource: route.resource) {
        case .refuse:
            context.close(promise: nil)
            return
        case .hang:
            core.faults.hold(context.channel, identity: request.identity)
            return
        case .fail(let e):
            write(.error(e))
            return
        case .proceed:
            break
        }
        if route.verb == "watch", let resource = route.definition {
            startWatch(request, resource: resource, namespace: route.namespace)
            return
        }
        let response: APIResponse
        do {
            response = try Router(core: core).handle(request, route: route)
        } catch {
            response = .error(error)
        }
        write(response)
    }

    private func write(_ response: APIResponse) {
        guard let context else { return }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: String(response.body.count))
        headers.add(name: "Cache-Control", value: "no-cache, private")
        for (k, v) in response.headers { headers.add(name: k, value: v) }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers))), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: response.body.count)
        buffer.writeBytes(response.body)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        let keep = keepAlive
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { [channel = context.channel] _ in
            if !keep { channel.close(promise: nil) }
        }
    }

    // MARK: - watches

    private func startWatch(_ request: APIRequest, resource: ResourceDefinition, namespace: String?) {
        guard let context else { return }
        let watch: Store.WatchRequest
        do {
            watch = try Router.watchRequest(request, resource: resource, namespace: namespace)
        } catch {
            write(.error(error))
            return
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Transfer-Encoding", value: "chunked")
        headers.add(name: "Cache-Control", value: "no-cache, private")
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        let sink: WatchSink = { message in
            loop.execute { bound.value.deliver(message) }
        }
        let id: Int?
        do {
            id = try core.store.watch(watch, sink: sink)
        } catch {
            // Validated above; cannot happen. End the stream.
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        guard let id else { return }
        watchID = id
        let store = core.store
        var timeout = core.configuration.defaultWatchTimeout
        if let t = request.query["timeoutSeconds"], let seconds = Int64(t), seconds > 0 { timeout = .seconds(seconds) }
        watchTimers.append(loop.scheduleTask(in: timeout) { store.endWatch(id) })
        if watch.bookmarks {
            let interval = core.configuration.bookmarkInterval
            bookmarkTimer = loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in store.bookmark(id) }
        }
    }

    private func deliver(_ message: WatchMessage) {
        guard let context else { return }
        switch message {
        case .data(let bytes):
            var buffer = context.channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            if !flushPending {
                flushPending = true
                let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
                context.eventLoop.execute {
                    bound.value.flushPending = false
                    bound.value.context?.flush()
                }
            }
        case .end:
            cancelTimers()
            watchID = nil
            let keep = keepAlive
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { [channel = context.channel] _ in
                if !keep { channel.close(promise: nil) }
            }
        case .cut:
            cancelTimers()
            watchID = nil
            context.close(promise: nil)
        }
    }

    private func cancelTimers() {
        for t in watchTimers { t.cancel() }
        watchTimers = []
        bookmarkTimer?.cancel()
        bookmarkTimer = nil
    }

    private func stopWatch() {
        cancelTimers()
        if let id = watchID {
            core.store.removeWatcher(id)
            watchID = nil
        }
    }
}
