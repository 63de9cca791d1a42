import NIOCore
import Testing
import TestSupport

@testable import HTTPServer

/// HTTP/2 responses leave in bounded write batches: a DATA frame that does not fit is offered
/// again by nghttp2 for the next batch. Every byte of every stream must still arrive, in order.
@Suite struct HTTP2OutputTests {
    @Test func concurrentStreamsKeepEveryBodyIntactAcrossWriteBatches() async throws {
        try await withServer { server in
            let c = try RawConnection(port: server.plainPort)
            // The largest windows a client may grant, so the server is never held back by flow control
            // and each read batch produces far more output than one write may carry.
            let maxWindow: UInt32 = 0x7fff_ffff
            var request = H2.preface + H2.frame(type: 4, payload: [0, 4] + bigEndian(maxWindow))
            request += H2.frame(type: 8, payload: bigEndian(maxWindow - 65_535))
            var expected: [UInt32: ByteBuffer] = [:]
            for i in 0..<100 {
                let stream = UInt32(2 * i + 1)
                let big = i % 10 == 0
                expected[stream] = big ? TestResponder.big.identity.body : TestResponder.medium.identity.body
                request += H2.headers(stream: stream, path: big ? "/big" : "/medium")
            }
            // GOAWAY: no more streams from us; the server closes once all 100 are answered.
            request += H2.frame(type: 7, payload: [0, 0, 0, 0, 0, 0, 0, 0])
            c.send(request)
            let reply = await c.read(timeout: 60)
            #expect(reply.closed, "the server finishes the streams, then closes after the client's GOAWAY")

            var bodies: [UInt32: [UInt8]] = [:]
            var ended: Set<UInt32> = []
            var answered: Set<UInt32> = []
            for frame in H2.parse(reply.bytes) where frame.stream != 0 {
                #expect(!ended.contains(frame.stream), "nothing follows END_STREAM on stream \(frame.stream)")
                switch frame.type {
                case 1: answered.insert(frame.stream)
                case 0: bodies[frame.stream, default: []] += frame.payload
                default: Issue.record("unexpected frame type \(frame.type) on stream \(frame.stream)")
                }
                if frame.flags & 0x01 != 0 { ended.insert(frame.stream) }
            }
            #expect(answered.count == 100)
            #expect(ended.count == 100)
            for (stream, body) in expected {
                let intact = bodies[stream] == Array(buffer: body)
                #expect(intact, "stream \(stream): \(bodies[stream]?.count ?? 0) bytes received, \(body.readableBytes) sent, or different bytes")
            }
        }
    }

    /// A lone stream's large DATA payloads go out as slices of the pre-rendered body between the
    /// frame bytes (no copy); the body must still arrive whole, in order, across write batches.
    @Test(arguments: ["/big", "/medium"])
    func aLoneStreamsBodyArrivesIntact(path: String) async throws {
        try await withServer { server in
            let c = try RawConnection(port: server.plainPort)
            let maxWindow: UInt32 = 0x7fff_ffff
            var request = H2.preface + H2.frame(type: 4, payload: [0, 4] + bigEndian(maxWindow))
            request += H2.frame(type: 8, payload: bigEndian(maxWindow - 65_535))
            request += H2.headers(stream: 1, path: path)
            request += H2.frame(type: 7, payload: [0, 0, 0, 0, 0, 0, 0, 0])
            c.send(request)
            let reply = await c.read(timeout: 60)
            #expect(reply.closed, "the server answers, then closes after the client's GOAWAY")
            let frames = H2.parse(reply.bytes).filter { $0.stream == 1 }
            #expect(frames.first?.type == 1, "HEADERS first")
            #expect(frames.filter { $0.flags & 0x01 != 0 }.count == 1 && ((frames.last?.flags ?? 0) & 0x01) != 0, "one END_STREAM, on the last frame")
            let body = frames.filter { $0.type == 0 }.flatMap(\.payload)
            let expected = path == "/big" ? TestResponder.big.identity.body : TestResponder.medium.identity.body
            let intact = body == Array(buffer: expected)  // a Bool: Swift Testing would diff 700 KB arrays on failure
            #expect(intact, "\(body.count) bytes received, \(expected.readableBytes) sent, or different bytes")
        }
    }

    private func bigEndian(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)]
    }
}
