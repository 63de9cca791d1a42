import Foundation
import NIOCore
import Testing
import TestSupport

@testable import HTTPServer

#if canImport(Glibc)
import Glibc
#endif

/// Every connection ends, whatever the peer does or fails to do, and a peer that behaves gets
/// every answer it asked for (issue 15). Real sockets; waits are conditions with generous
/// deadlines, never timings.
@Suite struct ConnectionEndTests {
    static func limits(head: Int64 = 1, send: Int64 = 2) -> HTTPServerLimits {
        var limits = HTTPServerLimits()
        limits.requestHeadTimeout = .seconds(head)
        limits.sendTimeout = .seconds(send)
        return limits
    }

    static func unreadBytes(_ c: RawConnection) -> Int32 {
        var unread: Int32 = 0
        _ = ioctl(c.fd, UInt(FIONREAD), &unread)
        return unread
    }

    @Test func silentAndStalledTLSHandshakesAreClosedByTheHeadTimeout() async throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        let tls = try TLSContextProvider(files: TLSFiles(certificateChain: certs.serverCert, privateKey: certs.serverKey))
        // The send timeout is out of reach: the head timeout alone must end these.
        try await withServer(limits: Self.limits(head: 1, send: 600), tls: tls) { server in
            // A TCP connection that never says anything, and one that stops inside its ClientHello
            // (a TLS record header announcing 512 bytes, then 40 of them).
            let silent = try RawConnection(port: server.tlsPort)
            let midHello = try RawConnection(port: server.tlsPort)
            midHello.send([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03] + [UInt8](repeating: 0x2a, count: 40))
            let silentEnd = await silent.read(timeout: 30)
            #expect(silentEnd.closed && silentEnd.bytes.isEmpty, "a silent TLS connection is closed")
            let midEnd = await midHello.read(timeout: 30)
            #expect(midEnd.closed, "a handshake stopped mid-ClientHello is closed")
            #expect(await eventually { server.openConnections == 0 }, "\(server.openConnections) still open")
            // And the port still serves real clients.
            let r = try await runTool("curl", ["-sS", "--cacert", certs.caCert, "https://127.0.0.1:\(server.tlsPort)/small"])
            #expect(r.status == 0 && r.stdout.contains("targets"), "\(r.stderr)")
        }
    }

    @Test func pipeliningPeerThatNeverReadsIsClosedBySendTimeout() async throws {
        try await withServer(limits: Self.limits()) { server in
            let c = try RawConnection(port: server.plainPort)
            // 12 KB answers, far more than socket buffers hold; the peer never reads.
            let requests = String(repeating: "GET /medium HTTP/1.1\r\nHost: x\r\n\r\n", count: 3000)
            let sender = Thread { c.send(requests) }
            sender.start()
            // Served until the peer's buffers filled (the data stays readable after the close) ...
            #expect(await eventually(timeout: 60) { Self.unreadBytes(c) > 100_000 }, "answers were sent: \(Self.unreadBytes(c)) bytes unread")
            // ... and then cut off.
            #expect(await eventually(timeout: 60) { server.openConnections == 0 }, "the non-reading peer was not cut off")

        }
    }

    @Test func http2PeerThatNeverReadsIsClosedBySendTimeout() async throws {
        try await withServer(limits: Self.limits()) { server in
            let c = try RawConnection(port: server.plainPort)
            // Windows as large as they go (stream: SETTINGS_INITIAL_WINDOW_SIZE; connection:
            // WINDOW_UPDATE), so only the unread socket holds the server back.
            var bytes = H2.preface + H2.frame(type: 4, payload: [0x00, 0x04, 0x7f, 0xff, 0xff, 0xff])
            bytes += H2.frame(type: 8, payload: [0x7f, 0xff, 0x00, 0x00])
            for i in 0..<100 { bytes += H2.headers(stream: UInt32(2 * i + 1), path: "/big") }
            c.send(bytes)
            // Served until the peer's buffers filled (the data stays readable after the close) ...
            #expect(await eventually(timeout: 60) { Self.unreadBytes(c) > 100_000 }, "answers were sent: \(Self.unreadBytes(c)) bytes unread")
            // ... and then cut off.
            #expect(await eventually(timeout: 60) { server.openConnections == 0 }, "the non-reading HTTP/2 peer was not cut off")

        }
    }

    @Test func http2WindowThatNeverOpensIsClosedBySendTimeout() async throws {
        try await withServer(limits: Self.limits()) { server in
            let c = try RawConnection(port: server.plainPort)
            // SETTINGS_INITIAL_WINDOW_SIZE = 0: response headers can go, no DATA ever can.
            var bytes = H2.preface + H2.frame(type: 4, payload: [0x00, 0x04, 0, 0, 0, 0])
            for i in 0..<100 { bytes += H2.headers(stream: UInt32(2 * i + 1), path: "/medium") }
            c.send(bytes)
            // This peer reads everything it is sent (HEADERS, SETTINGS), and still gets cut off.
            let reply = await c.read(timeout: 60) { _ in false }
            let frames = H2.parse(reply.bytes)
            #expect(frames.filter { $0.type == 1 }.count == 100, "every response's HEADERS was sent")
            #expect(!frames.contains { $0.type == 0 && $0.payload.count > 0 }, "no DATA without a window")
            #expect(reply.closed, "the connection with a window that never opens is closed")
            #expect(await eventually { server.openConnections == 0 })
        }
    }

    @Test func steadyPipeliningReaderGetsEveryAnswerAndNo408() async throws {
        // The head timeout (1 s) is much shorter than the time the answers take to be read.
        try await withServer(limits: Self.limits(head: 1, send: 30)) { server in
            let c = try RawConnection(port: server.plainPort)
            let count = 1500
            c.send(String(repeating: "GET /medium HTTP/1.1\r\nHost: x\r\n\r\n", count: count))
            let statuses = try await offPool { () -> [String] in
                // Read about 2 MB/s, steadily, until every answer (12 KB body each) has arrived.
                var statuses: [String] = []
                var pending: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 32 * 1024)
                let deadline = Date().addingTimeInterval(120)
                while statuses.count < count, Date() < deadline {
                    var pfd = pollfd(fd: c.fd, events: Int16(POLLIN), revents: 0)
                    guard poll(&pfd, 1, 200) > 0 else { continue }
                    let n = buffer.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress!, $0.count, 0) }
                    if n <= 0 { break }
                    pending += buffer[0..<n]
                    // Split off complete answers: head up to the blank line, then Content-Length bytes.
                    while let end = pending.firstRange(of: Array("\r\n\r\n".utf8)) {
                        let head = String(decoding: pending[..<end.lowerBound], as: UTF8.self)
                        let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                        guard pending.count >= end.upperBound + length else { break }
                        statuses.append(String(head.dropFirst(9).prefix(3)))
                        pending.removeFirst(end.upperBound + length)
                    }
                    usleep(15_000)
                }
                return statuses
            }
            #expect(statuses.count == count, "answers received: \(statuses.count) of \(count)")
            #expect(statuses.allSatisfy { $0 == "200" }, "statuses other than 200: \(Set(statuses))")
        }
    }

    @Test func requestFollowedByFINIsAnsweredThenClosed() async throws {
        try await withServer { server in
            for attempt in 0..<20 {
                let c = try RawConnection(port: server.plainPort)
                let pipelined = attempt % 2 == 1
                c.send(String(repeating: "GET /small HTTP/1.1\r\nHost: x\r\n\r\n", count: pipelined ? 2 : 1))
                shutdown(c.fd, Int32(SHUT_WR))
                let reply = await c.readText(timeout: 20)
                let answers = reply.text.components(separatedBy: "HTTP/1.1 200 OK").count - 1
                #expect(answers == (pipelined ? 2 : 1), "attempt \(attempt): \(reply.text.debugDescription)")
                #expect(reply.text.hasSuffix(RealClientTests.smallBody), "attempt \(attempt): the whole body arrived")
                #expect(reply.closed, "attempt \(attempt): closed after answering")
            }
            // A head cut short by FIN gets no answer, just the close.
            let partial = try RawConnection(port: server.plainPort)
            partial.send("GET /small HTTP/1.1\r\nHost:")
            shutdown(partial.fd, Int32(SHUT_WR))
            let cut = await partial.read(timeout: 20)
            #expect(cut.closed && cut.bytes.isEmpty)
            // HTTP/2: the stream begun before FIN is answered, then GOAWAY and close.
            let h2 = try RawConnection(port: server.plainPort)
            h2.send(H2.preface + H2.settings + H2.headers(stream: 1))
            shutdown(h2.fd, Int32(SHUT_WR))
            let reply = await h2.read(timeout: 20)
            let frames = H2.parse(reply.bytes)
            #expect(frames.contains { $0.type == 0 && $0.stream == 1 && $0.flags & 1 != 0 }, "stream 1 answered to its end")
            #expect(frames.contains { $0.type == 7 }, "GOAWAY")
            #expect(reply.closed)
            #expect(await eventually { server.openConnections == 0 })
        }
    }

    @Test func serverSentResetsHaveABudgetMadeYouReset() async throws {
        try await withServer { server in
            let c = try RawConnection(port: server.plainPort)
            c.send(H2.preface + H2.settings)
            // Each request is followed by a WINDOW_UPDATE that overflows its stream's window
            // (65535 + 2^31-1): a stream error, so the server itself resets the stream
            // (FLOW_CONTROL_ERROR). Sent in rounds of 100 that wait for their resets, so nghttp2's
            // outbound-queue flood guard never sees more than 100 queued: libnghttp2 1.52 counts
            // only the resets it receives, and would answer all 3,000.
            var resets = 0
            var goaway: H2.Frame?
            var next: UInt32 = 1
            var pending: [UInt8] = []
            rounds: for _ in 0..<30 {
                var round: [UInt8] = []
                for _ in 0..<100 {
                    round += H2.headers(stream: next) + H2.frame(type: 8, stream: next, payload: [0x7f, 0xff, 0xff, 0xff])
                    next += 2
                }
                guard c.send(round) else { break }
                // `pending` holds at most an unfinished frame, so the 100 resets counted are this round's.
                let carried = pending
                let reply = await c.read(timeout: 20) { bytes in
                    let frames = H2.parse(carried + bytes)
                    return frames.contains { $0.type == 7 } || frames.filter { $0.type == 3 }.count >= 100
                }
                pending += reply.bytes
                let frames = H2.parse(pending)
                // Keep only an unfinished trailing frame for the next round.
                let consumed = frames.reduce(0) { $0 + 9 + $1.payload.count }
                pending.removeFirst(consumed)
                resets += frames.filter { $0.type == 3 && $0.payload == [0, 0, 0, 3] }.count
                if let g = frames.first(where: { $0.type == 7 }) {
                    goaway = g
                    break rounds
                }
                if reply.closed { break }
            }
            #expect(resets >= 1000, "the server reset streams itself (FLOW_CONTROL_ERROR): \(resets)")
            #expect(goaway != nil, "GOAWAY once the reset budget is spent (after \(resets) resets)")
            if let goaway {
                let code = goaway.payload[4..<8].reduce(0) { $0 << 8 | UInt32($1) }
                #expect(code == 11, "ENHANCE_YOUR_CALM, got \(code)")
            }
            // The bucket refills at 33/s, so a slow run sees a few more than 1000.
            #expect(resets < 3000, "GOAWAY before every stream was reset: \(resets)")
            #expect(await c.read(timeout: 20).closed, "the abusive connection is closed")
            #expect(await eventually { server.openConnections == 0 })
        }
    }
}
