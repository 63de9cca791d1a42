import Metrics
import NIOCore
import NIOEmbedded
import Testing

@testable import HTTPServer

/// When timers fire, on a virtual clock: the connection handler and a real nghttp2 session
/// in an `EmbeddedChannel`, whose event loop's time only moves when the test moves it.
@Suite struct StreamTimeoutTests {
    func connection(_ loop: EmbeddedEventLoop, limits: HTTPServerLimits = HTTPServerLimits()) throws -> EmbeddedChannel {
        let handler = HTTPConnectionHandler(
            responder: TestResponder(), template: HTTP2SessionTemplate(limits: limits),
            connection: ConnectionInfo(isTLS: false, clientCertificateVerified: false),
            metrics: HTTPServerMetrics(factory: NOOPMetricsHandler.instance), sendPass: SendPass(eventLoop: loop), now: loop.now)
        let channel = EmbeddedChannel(handler: handler, loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    func frames(_ channel: EmbeddedChannel) throws -> [H2.Frame] {
        var bytes: [UInt8] = []
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
            bytes += buffer.readBytes(length: buffer.readableBytes) ?? []
        }
        return H2.parse(bytes)
    }

    @Test func stalledStreamIsResetWhenTheHeadTimeoutEnds() throws {
        let loop = EmbeddedEventLoop()
        let channel = try connection(loop)  // the default 10 s head timeout, as the README states
        // 3.3 s into the connection (between any periodic ticks), a stream opens whose request never ends.
        loop.advanceTime(by: .milliseconds(3300))
        try channel.writeInbound(ByteBuffer(bytes: H2.preface + H2.settings + H2.headers(stream: 1, endStream: false)))
        loop.run()
        #expect(try !frames(channel).contains { $0.type == 3 })
        loop.advanceTime(by: .milliseconds(9999))
        #expect(try !frames(channel).contains { $0.type == 3 }, "not reset before 10 s")
        loop.advanceTime(by: .milliseconds(1))
        let reset = try frames(channel).first { $0.type == 3 && $0.stream == 1 }
        #expect(reset?.payload == [0, 0, 0, 8], "reset (CANCEL) at 10 s exactly")
        _ = try? channel.finish()
    }

    @Test func aSecondStalledStreamGetsItsOwnTenSeconds() throws {
        let loop = EmbeddedEventLoop()
        let channel = try connection(loop)
        try channel.writeInbound(ByteBuffer(bytes: H2.preface + H2.settings + H2.headers(stream: 1, endStream: false)))
        loop.advanceTime(by: .milliseconds(4000))
        try channel.writeInbound(ByteBuffer(bytes: H2.headers(stream: 3, endStream: false)))
        loop.advanceTime(by: .milliseconds(6000))
        var resets = try frames(channel).filter { $0.type == 3 }.map(\.stream)
        #expect(resets == [1])
        loop.advanceTime(by: .milliseconds(3999))
        resets = try frames(channel).filter { $0.type == 3 }.map(\.stream)
        #expect(resets.isEmpty, "stream 3 began at 4 s: not reset before 14 s")
        loop.advanceTime(by: .milliseconds(1))
        resets = try frames(channel).filter { $0.type == 3 }.map(\.stream)
        #expect(resets == [3])
        _ = try? channel.finish()
    }
}
