import Discovery
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import TestSupport
import Testing

/// What the tiny SD server answers, and the requests it saw.
final class SDServerState: @unchecked Sendable {
    struct Reply {
        var status: HTTPResponseStatus = .ok
        var contentType: String? = "application/json"
        var body = "[]"
    }

    private let lock = NSLock()
    private var reply = Reply()
    private var requests: [HTTPRequestHead] = []

    func set(_ new: Reply) { lock.withLock { reply = new } }
    var current: Reply { lock.withLock { reply } }
    func record(_ head: HTTPRequestHead) { lock.withLock { requests.append(head) } }
    var seen: [HTTPRequestHead] { lock.withLock { requests } }
}

/// A minimal HTTP/1.1 server on 127.0.0.1 (ephemeral port) answering every request from `state`.
final class SDServer: Sendable {
    let channel: any Channel
    let state = SDServerState()
    let port: Int

    init() async throws {
        let state = state
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(state: state))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
    }

    func close() async { try? await channel.close() }

    final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let state: SDServerState
        init(state: SDServerState) { self.state = state }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): state.record(head)
            case .body: break
            case .end:
                let reply = state.current
                var headers = HTTPHeaders()
                if let type = reply.contentType { headers.add(name: "Content-Type", value: type) }
                headers.add(name: "Content-Length", value: String(reply.body.utf8.count))
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: reply.status, headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: reply.body)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}

@Suite struct HTTPSDTests {
    @Test func contentTypeRule() {
        for good in ["application/json", "Application/JSON", " application/json ", "application/json; charset=utf-8", "application/json;charset=\"UTF-8\""] {
            #expect(HTTPSDProvider.isJSONContentType(good), "\(good)")
        }
        for bad in ["text/plain", "application/json; charset=latin1", "application/jsonx", "application/json;", ""] {
            #expect(!HTTPSDProvider.isJSONContentType(bad), "\(bad)")
        }
    }

    @Test func fetchesGroupsAndKeepsLastGoodOnErrors() async throws {
        let server = try await SDServer()
        defer { Task { await server.close() } }
        let url = "http://127.0.0.1:\(server.port)/sd?x=1"
        server.state.set(.init(body: #"[{"targets": ["10.0.0.1:80", "10.0.0.2:80"], "labels": {"env": "prod"}}, {"targets": ["10.0.0.3:80"]}]"#))
        let published = PublishedGroups()
        let provider = HTTPSDProvider(
            config: HTTPSDConfig(url: url, refreshInterval: .milliseconds(100), authorization: .init(credentials: "secret-token")),
            logger: quietLogger)
        let task = Task { await provider.run { published.set($0) } }
        defer { task.cancel() }

        #expect(await eventually { published.latest?.count == 2 })
        #expect(
            published.latest == [
                TargetGroup(
                    source: url + ":0", labels: ["env": "prod", "__meta_url": url], targets: [["__address__": "10.0.0.1:80"], ["__address__": "10.0.0.2:80"]]),
                TargetGroup(source: url + ":1", labels: ["__meta_url": url], targets: [["__address__": "10.0.0.3:80"]]),
            ])
        let head = try #require(server.state.seen.first)
        #expect(head.method == .GET)
        #expect(head.uri == "/sd?x=1")
        #expect(head.headers["Accept"] == ["application/json"])
        #expect(head.headers["X-Prometheus-Refresh-Interval-Seconds"] == ["0.1"])
        #expect(head.headers["Authorization"] == ["Bearer secret-token"])

        // Errors of every kind keep the last good list and are counted.
        let good = published.latest
        let failuresBefore = provider.failures.value
        server.state.set(.init(status: .internalServerError, body: "[]"))
        #expect(await eventually { provider.failures.value >= failuresBefore + 1 })
        server.state.set(.init(contentType: "text/plain", body: "[]"))
        #expect(await eventually { provider.failures.value >= failuresBefore + 3 })
        server.state.set(.init(body: #"[{"targets": ["a"], "bogus": true}]"#))
        #expect(await eventually { provider.failures.value >= failuresBefore + 5 })
        server.state.set(.init(body: "[null]"))
        #expect(await eventually { provider.failures.value >= failuresBefore + 7 })
        #expect(published.latest == good)

        // A shorter list replaces the old one; `[]` removes everything.
        server.state.set(.init(contentType: "application/json; charset=utf-8", body: #"[{"targets": ["10.0.0.9:80"]}]"#))
        #expect(await eventually { published.latest?.map(\.source) == [url + ":0"] })
        #expect(published.latest?.first?.mergedTargets == [["__address__": "10.0.0.9:80", "__meta_url": url]])
        server.state.set(.init(body: "[]"))
        #expect(await eventually { published.latest == [] })
    }

    @Test func basicAuthAndUnreachableServer() async throws {
        let server = try await SDServer()
        defer { Task { await server.close() } }
        server.state.set(.init(body: #"[{"targets": ["x:1"]}]"#))
        let published = PublishedGroups()
        let provider = HTTPSDProvider(
            config: HTTPSDConfig(url: "http://127.0.0.1:\(server.port)/", basicAuth: .init(username: "user", password: "pass")), logger: quietLogger)
        let task = Task { await provider.run { published.set($0) } }
        defer { task.cancel() }
        // Generous: in the full suite the shared NIO event loops also carry emulators moving
        // 100k-target ConfigMaps, and this first request waited past 20 s twice.
        #expect(await eventually(timeout: 90) { published.latest?.count == 1 })
        #expect(server.state.seen.first?.headers["Authorization"] == ["Basic dXNlcjpwYXNz"])
        #expect(server.state.seen.first?.headers["X-Prometheus-Refresh-Interval-Seconds"] == ["60"])

        // Nothing listening: refreshes fail (connections are retried until the refresh interval
        // runs out); an empty list is published once.
        await server.close()
        let down = PublishedGroups()
        let failing = HTTPSDProvider(config: HTTPSDConfig(url: "http://127.0.0.1:\(server.port)/", refreshInterval: .milliseconds(300)), logger: quietLogger)
        let failingTask = Task { await failing.run { down.set($0) } }
        defer { failingTask.cancel() }
        #expect(await eventually { failing.failures.value >= 2 })
        #expect(down.latest == [])
        #expect(down.publishCount == 1)
    }
}
