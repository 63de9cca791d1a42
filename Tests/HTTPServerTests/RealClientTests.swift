import Foundation
import NIOCore
import Testing
import TestSupport

@testable import HTTPServer

/// The server against the real clients collectors and operators use.
@Suite struct RealClientTests {
    static let smallBody = String(buffer: TestResponder.small.identity.body)
    static let bigBody = String(buffer: TestResponder.big.identity.body)

    @Test func curlHTTP11KeepAliveServesTheBodyTwice() async throws {
        try await withServer { server in
            let url = "http://127.0.0.1:\(server.plainPort)/small"
            let r = try await runTool("curl", ["-sS", "--http1.1", "-v", url, url])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout == Self.smallBody + Self.smallBody)
            #expect(r.stderr.contains("Re-using existing connection"), "keep-alive: \(r.stderr)")
            #expect(r.stderr.contains("< HTTP/1.1 200 OK"))
            #expect(r.stderr.contains("< Date: "))
            #expect(r.stderr.contains("< ETag: \""))
        }
    }

    @Test func curlHTTP2PriorKnowledge() async throws {
        try await withServer { server in
            let r = try await runTool("curl", ["-sS", "-v", "--http2-prior-knowledge", "http://127.0.0.1:\(server.plainPort)/small"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout == Self.smallBody)
            #expect(r.stderr.contains("< HTTP/2 200"))
        }
    }

    @Test func curlH2CUpgradeSwitchesToHTTP2() async throws {
        try await withServer { server in
            let r = try await runTool("curl", ["-sS", "-v", "--http2", "http://127.0.0.1:\(server.plainPort)/big"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stderr.contains("< HTTP/1.1 101 Switching Protocols"), "\(r.stderr)")
            #expect(r.stderr.contains("< HTTP/2 200"))
            #expect(r.stdout.utf8.count == Self.bigBody.utf8.count)
            #expect(r.stdout == Self.bigBody, "body differs")
        }
    }

    @Test func bigBodiesCrossHTTP2FlowControl() async throws {
        // 700 KB exceeds the 64 KiB default window: the body must resume after WINDOW_UPDATEs.
        try await withServer { server in
            let url = "http://127.0.0.1:\(server.plainPort)/big"
            // (curl 7.88 cannot reuse an h2c connection for a second request, so one URL per run.)
            let r = try await runTool("curl", ["-sS", "--http2-prior-knowledge", url])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.utf8.count == Self.bigBody.utf8.count)
            #expect(r.stdout == Self.bigBody, "body differs")
            // h2load with a 2^16-1 stream window and 100 concurrent streams on one connection.
            let load = try await runTool("h2load", ["-n", "300", "-c", "1", "-m", "100", "-w", "16", "-W", "16", url])
            #expect(load.stdout.contains("300 succeeded"), "\(load.stdout)\(load.stderr)")
        }
    }

    @Test func nghttpSeesSettingsAndAnswers() async throws {
        try await withServer { server in
            let r = try await runTool("nghttp", ["-nv", "http://127.0.0.1:\(server.plainPort)/small"])
            #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
            #expect(r.stdout.contains("SETTINGS_MAX_CONCURRENT_STREAMS(0x03):100"))
            #expect(r.stdout.contains("SETTINGS_NO_RFC7540_PRIORITIES(0x09):1"))
            #expect(r.stdout.contains(":status: 200"))
            #expect(r.stdout.contains("date: "))
        }
    }

    @Test(arguments: ["--http1.1", "--http2-prior-knowledge"])
    func conditionalRequestsGet304(_ flag: String) async throws {
        try await withServer { server in
            let url = "http://127.0.0.1:\(server.plainPort)/big"
            let first = try await runTool("curl", ["-sS", flag, "-D", "-", "-o", "/dev/null", url])
            let etag = try #require(
                first.stdout.split(separator: "\r\n").first { $0.lowercased().hasPrefix("etag:") }?.split(separator: " ").last)
            let again = try await runTool("curl", ["-sS", flag, "-D", "-", "-H", "If-None-Match: W/\"zz\", \(etag)", url])
            #expect(again.stdout.hasPrefix(flag == "--http1.1" ? "HTTP/1.1 304" : "HTTP/2 304"), "\(again.stdout)")
            #expect(again.stdout.lowercased().contains("etag: \(etag)".lowercased()))
            #expect(again.stdout.hasSuffix("\r\n\r\n"), "a 304 has no body")
            let other = try await runTool("curl", ["-sS", flag, "-o", "/dev/null", "-w", "%{http_code}", "-H", "If-None-Match: \"nope\"", url])
            #expect(other.stdout == "200")
        }
    }

    @Test(arguments: ["--http1.1", "--http2-prior-knowledge"])
    func gzipWhenAskedWithItsOwnETag(_ flag: String) async throws {
        try await withServer { server in
            let url = "http://127.0.0.1:\(server.plainPort)/big"
            let zipped = try await runTool("curl", ["-sS", flag, "--compressed", "-D", "/dev/stderr", url])
            #expect(zipped.stdout == Self.bigBody, "decompressed body differs")
            #expect(zipped.stderr.lowercased().contains("content-encoding: gzip"))
            #expect(zipped.stderr.lowercased().contains("vary: accept-encoding"))
            let plain = try await runTool("curl", ["-sS", flag, "-D", "/dev/stderr", "-o", "/dev/null", url])
            #expect(!plain.stderr.lowercased().contains("content-encoding"))
            func etag(_ headers: String) -> String? {
                headers.split(separator: "\r\n").first { $0.lowercased().hasPrefix("etag:") }.map(String.init)
            }
            #expect(etag(zipped.stderr) != nil && etag(zipped.stderr) != etag(plain.stderr))
            // Small bodies are never compressed.
            let small = try await runTool("curl", ["-sS", flag, "--compressed", "-D", "/dev/stderr", "http://127.0.0.1:\(server.plainPort)/small"])
            #expect(!small.stderr.lowercased().contains("content-encoding"))
            #expect(small.stdout == Self.smallBody)
        }
    }

    @Test(arguments: ["--http1.1", "--http2-prior-knowledge"])
    func headHasLengthButNoBody(_ flag: String) async throws {
        try await withServer { server in
            let r = try await runTool("curl", ["-sS", flag, "-I", "http://127.0.0.1:\(server.plainPort)/big"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.lowercased().contains("content-length: \(TestResponder.big.identity.body.readableBytes)"))
        }
    }

    @Test(arguments: ["--http1.1", "--http2-prior-knowledge"])
    func otherMethodsGet405WithAllow(_ flag: String) async throws {
        try await withServer { server in
            let r = try await runTool("curl", ["-sS", flag, "-X", "DELETE", "-D", "-", "http://127.0.0.1:\(server.plainPort)/small"])
            #expect(r.stdout.contains(" 405"), "\(r.stdout)")
            #expect(r.stdout.lowercased().contains("allow: get, head"))
            let post = try await runTool("curl", ["-sS", flag, "-d", "x=1", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(server.plainPort)/small"])
            #expect(post.stdout == "405")
        }
    }

    @Test func emptyBodiesEndTheStreamWithHeaders() async throws {
        try await withServer { server in
            for flag in ["--http1.1", "--http2-prior-knowledge"] {
                let r = try await runTool("curl", ["-sS", flag, "-w", "%{http_code}:%{size_download}", "http://127.0.0.1:\(server.plainPort)/empty"])
                #expect(r.stdout == "200:0", "\(flag): \(r.stdout) \(r.stderr)")
            }
        }
    }
}
