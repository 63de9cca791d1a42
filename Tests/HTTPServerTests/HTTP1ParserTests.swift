import Testing
import TestSupport

@testable import HTTPServer

@Suite struct HTTP1ParserTests {
    let limits = HTTPServerLimits()

    func parse(_ text: String, limits: HTTPServerLimits? = nil) -> HTTP1ParseResult {
        Array(text.utf8).withUnsafeBytes { HTTP1Parser.parse($0, scanFrom: 0, limits: limits ?? self.limits) }
    }

    func head(_ text: String) throws -> HTTP1RequestHead {
        guard case .complete(let head) = parse(text) else {
            Issue.record("expected a complete head for \(text.debugDescription), got \(parse(text))")
            throw CancellationError()
        }
        return head
    }

    func status(_ text: String, limits: HTTPServerLimits? = nil) -> Int? {
        if case .invalid(let status, _) = parse(text, limits: limits) { return status.code }
        return nil
    }

    @Test func parsesAGetWithItsTargetAndLength() throws {
        let text = "GET /jobs/a%2Fb/targets?collector_id=c-0 HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip, br\r\n\r\nGET / HTTP/1.1\r\n"
        let h = try head(text)
        #expect(h.method == .get)
        #expect(h.version == .http1_1)
        let bytes = Array(text.utf8)
        #expect(String(decoding: bytes[h.target], as: UTF8.self) == "/jobs/a%2Fb/targets?collector_id=c-0")
        #expect(h.length == text.utf8.count - "GET / HTTP/1.1\r\n".utf8.count)
        #expect(h.acceptsGzip)
        #expect(h.keepAlive)
        #expect(!h.hasBody)
    }

    @Test func waitsForTheRestOfAHead() {
        guard case .incomplete = parse("GET / HTTP/1.1\r\nHost: x\r\n") else {
            Issue.record("a head without its blank line is incomplete")
            return
        }
    }

    @Test func skipsLeadingEmptyLines() throws {
        let h = try head("\r\n\r\nHEAD /x HTTP/1.0\r\n\r\n")
        #expect(h.method == .head)
        #expect(h.version == .http1_0)
        #expect(!h.keepAlive)
    }

    @Test func http10KeepAliveAndConnectionClose() throws {
        #expect(try head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keepAlive)
        #expect(try !head("GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, close\r\n\r\n").keepAlive)
    }

    @Test func rejectsRequestSmuggling() {
        // RFC 9112 §6.1: both framings at once is an attack, not a request.
        #expect(status("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 4\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHost: x\r\n Transfer-Encoding: chunked\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n folded\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\nHost: x\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHo\0st: x\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHost: x\u{01}\r\n\r\n") == 400)
    }

    @Test func identicalRepeatedContentLengthsAreOneLength() throws {
        let h = try head("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n")
        #expect(h.contentLength == 5)
        #expect(h.hasBody)
    }

    @Test func requiresExactlyOneHostOnHTTP11() {
        #expect(status("GET / HTTP/1.1\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == 400)
    }

    @Test func rejectsMalformedRequestLines() {
        #expect(status("GET  / HTTP/1.1\r\nHost: x\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1 \r\nHost: x\r\n\r\n") == 400)
        #expect(status("G(T / HTTP/1.1\r\nHost: x\r\n\r\n") == 400)
        #expect(status("GET /a\u{7f} HTTP/1.1\r\nHost: x\r\n\r\n") == 400)
        #expect(status("GET / HTTP/2.0\r\nHost: x\r\n\r\n") == 505)
        #expect(status("GET / HTTP/1.1x\r\nHost: x\r\n\r\n") == 400)
        #expect(status("GET / FTP/1.1\r\nHost: x\r\n\r\n") == 400)
    }

    @Test func enforcesSizeLimits() {
        var small = HTTPServerLimits()
        small.maxRequestLineBytes = 64
        small.maxRequestHeadBytes = 256
        small.maxHeaderFields = 3
        let longTarget = "/" + String(repeating: "a", count: 100)
        #expect(status("GET \(longTarget) HTTP/1.1\r\nHost: x\r\n\r\n", limits: small) == 414)
        #expect(status("GET \(longTarget)", limits: small) == 414)
        #expect(status("GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits: small) == 431)
        #expect(status("GET / HTTP/1.1\r\nHost: x\r\nA: \(String(repeating: "v", count: 300))\r\n\r\n", limits: small) == 431)
        #expect(status("GET / HTTP/1.1\r\nHost: x\r\nA: \(String(repeating: "v", count: 300))", limits: small) == 431)
    }

    @Test func acceptEncodingHonoursQualityZero() throws {
        #expect(try !head("GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip;q=0\r\n\r\n").acceptsGzip)
        #expect(try !head("GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: br, gzip; q=0.000\r\n\r\n").acceptsGzip)
        #expect(try head("GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip;q=0.5\r\n\r\n").acceptsGzip)
        #expect(try head("GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: *\r\n\r\n").acceptsGzip)
        #expect(try !head("GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: *, gzip;q=0\r\n\r\n").acceptsGzip)
        #expect(try !head("GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: identity\r\n\r\n").acceptsGzip)
    }

    @Test func recognisesAnH2CUpgrade() throws {
        let h = try head(
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
        #expect(h.upgradeH2C && h.connectionUpgrade && h.connectionHTTP2Settings && h.http2SettingsCount == 1)
    }

    @Test func absoluteFormKeepsPathAndQuery() throws {
        let text = "GET http://example.com:8080/jobs?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"
        let h = try head(text)
        #expect(String(decoding: Array(text.utf8)[h.target], as: UTF8.self) == "/jobs?x=1")
    }

    @Test func ifNoneMatchListsUseWeakComparison() {
        func matches(_ field: String, _ tag: String) -> Bool {
            Array(field.utf8).withUnsafeBytes { f in Array(tag.utf8).withUnsafeBytes { ETagList.contains(f, tag: $0) } }
        }
        #expect(matches(#""abc""#, #""abc""#))
        #expect(matches(#"W/"abc""#, #""abc""#))
        #expect(matches(#""x", "abc""#, #""abc""#))
        #expect(matches("*", #""abc""#))
        #expect(!matches(#""abcd""#, #""abc""#))
        #expect(!matches(#""ab"#, #""abc""#))
        #expect(!matches("", #""abc""#))
    }

    @Test func base64URLSettingsDecode() {
        let ok = Array("AAMAAABkAAQAAP__".utf8).withUnsafeBytes { Base64URL.decode($0) }
        #expect(ok == [0, 3, 0, 0, 0, 100, 0, 4, 0, 0, 255, 255])
        #expect(Array("AAMA*ABk".utf8).withUnsafeBytes { Base64URL.decode($0) } == nil)
        #expect(Array("AAMAAA".utf8).withUnsafeBytes { Base64URL.decode($0) } == nil)
    }
}
