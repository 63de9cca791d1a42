/// A strict, allocation-free HTTP/1.x request-head parser (RFC 9112).
///
/// Strictness is the point: an intermediary and this server must never disagree about
/// where a request ends, so anything ambiguous (conflicting framing, obs-fold, bare CR or
/// LF, whitespace before a colon, control bytes) is rejected instead of guessed.
struct HTTP1RequestHead {
    enum Method { case get, head, other }

    var method: Method = .other
    var version: HTTPVersion = .http1_1
    /// Offsets into the parsed bytes.
    var target: Range<Int> = 0..<0
    var contentLength: Int?
    var hasTransferEncoding = false
    var connectionClose = false
    var connectionKeepAlive = false
    var connectionUpgrade = false
    var connectionHTTP2Settings = false
    var upgradeH2C = false
    var http2Settings: Range<Int>?
    var http2SettingsCount = 0
    var hostCount = 0
    var acceptsGzip = false
    /// `Accept` names `text/html`: a browser, which gets the HTML views.
    var acceptsHTML = false
    var ifNoneMatch: Range<Int>?
    var ifNoneMatchCount = 0
    /// Bytes the head occupies, final CRLF included.
    var length = 0

    var hasBody: Bool { hasTransferEncoding || (contentLength ?? 0) > 0 }

    var keepAlive: Bool {
        switch version {
        case .http1_1: !connectionClose
        default: connectionKeepAlive && !connectionClose
        }
    }
}

enum HTTP1ParseResult {
    case incomplete
    case complete(HTTP1RequestHead)
    case invalid(HTTPStatus, String)
}

enum HTTP1Parser {
    /// Parses one request head at the start of `bytes`. `scanFrom` lets a caller that
    /// already searched a prefix for the blank line resume there (slow senders would
    /// otherwise cost quadratic time).
    static func parse(_ bytes: UnsafeRawBufferPointer, scanFrom: Int, limits: HTTPServerLimits) -> HTTP1ParseResult {
        let n = bytes.count
        // RFC 9112 §2.2: ignore empty lines before the request line.
        var start = 0
        while start + 1 < n, bytes[start] == cr, bytes[start + 1] == lf { start += 2 }

        guard let end = findHeadEnd(bytes, from: max(start, scanFrom - 3)) else {
            if n - start > limits.maxRequestHeadBytes {
                return firstLineEnd(bytes, from: start) == nil && n - start > limits.maxRequestLineBytes
                    ? .invalid(.uriTooLong, "request line too long")
                    : .invalid(.headerFieldsTooLarge, "request head too large")
            }
            if n - start > limits.maxRequestLineBytes, firstLineEnd(bytes, from: start) == nil {
                return .invalid(.uriTooLong, "request line too long")
            }
            if let bad = firstForbiddenByte(bytes, from: max(start, scanFrom - 1)) { return .invalid(.badRequest, bad) }
            return .incomplete
        }
        if end - start > limits.maxRequestHeadBytes { return .invalid(.headerFieldsTooLarge, "request head too large") }

        var head = HTTP1RequestHead()
        head.length = end
        guard let lineEnd = firstLineEnd(bytes, from: start) else { return .invalid(.badRequest, "malformed request line") }
        if lineEnd - start > limits.maxRequestLineBytes { return .invalid(.uriTooLong, "request line too long") }
        if let error = parseRequestLine(bytes, start..<lineEnd, into: &head) { return error }

        var cursor = lineEnd + 2
        var fields = 0
        let headerEnd = end - 2
        while cursor < headerEnd {
            guard let eol = firstLineEnd(bytes, from: cursor), eol <= headerEnd else {
                return .invalid(.badRequest, "malformed header line")
            }
            fields += 1
            if fields > limits.maxHeaderFields { return .invalid(.headerFieldsTooLarge, "too many header fields") }
            if let error = parseField(bytes, cursor..<eol, into: &head) { return error }
            cursor = eol + 2
        }

        if head.contentLength != nil, head.hasTransferEncoding {
            return .invalid(.badRequest, "both Content-Length and Transfer-Encoding")
        }
        if head.version == .http1_1, head.hostCount != 1 {
            return .invalid(.badRequest, head.hostCount == 0 ? "missing Host" : "more than one Host")
        }
        return .complete(head)
    }

    // MARK: - pieces

    private static let cr = UInt8(ascii: "\r")
    private static let lf = UInt8(ascii: "\n")

    /// Index just past the `\r\n\r\n` that ends the head.
    private static func findHeadEnd(_ b: UnsafeRawBufferPointer, from: Int) -> Int? {
        var i = max(from, 0)
        let n = b.count
        while i + 3 < n {
            if b[i + 3] != lf { i += b[i + 3] == cr ? 1 : 4; continue }
            if b[i] == cr, b[i + 1] == lf, b[i + 2] == cr { return i + 4 }
            i += 1
        }
        return nil
    }

    /// Index of the CR of the first CRLF at or after `from`; a bare LF or CR is not a line end.
    private static func firstLineEnd(_ b: UnsafeRawBufferPointer, from: Int) -> Int? {
        var i = from
        while i + 1 < b.count {
            if b[i] == cr { return b[i + 1] == lf ? i : nil }
            if b[i] == lf { return nil }
            i += 1
        }
        return nil
    }

    /// Rejects a partial head early when it already contains bytes no request may carry.
    private static func firstForbiddenByte(_ b: UnsafeRawBufferPointer, from: Int) -> String? {
        var i = from
        while i < b.count {
            let c = b[i]
            if c == 0 { return "NUL byte in request head" }
            if c == lf, i == 0 || b[i - 1] != cr { return "bare LF in request head" }
            if c == cr, i + 1 < b.count, b[i + 1] != lf { return "bare CR in request head" }
            i += 1
        }
        return nil
    }

    private static func parseRequestLine(
        _ b: UnsafeRawBufferPointer, _ line: Range<Int>, into head: inout HTTP1RequestHead
    ) -> HTTP1ParseResult? {
        guard let sp1 = index(of: UInt8(ascii: " "), in: b, line) else { return .invalid(.badRequest, "malformed request line") }
        let method = line.lowerBound..<sp1
        guard !method.isEmpty, method.allSatisfy({ isTokenChar(b[$0]) }) else { return .invalid(.badRequest, "invalid method") }
        guard let sp2 = index(of: UInt8(ascii: " "), in: b, (sp1 + 1)..<line.upperBound) else {
            return .invalid(.badRequest, "malformed request line")
        }
        var target = (sp1 + 1)..<sp2
        guard !target.isEmpty, target.allSatisfy({ b[$0] > 0x20 && b[$0] < 0x7f }) else {
            return .invalid(.badRequest, "invalid request target")
        }
        let version = (sp2 + 1)..<line.upperBound
        guard version.count == 8, equals(b, version.prefix(5), "HTTP/"), b[version.lowerBound + 6] == UInt8(ascii: "."),
            isDigit(b[version.lowerBound + 5]), isDigit(b[version.lowerBound + 7])
        else { return .invalid(.badRequest, "malformed HTTP version") }
        switch (b[version.lowerBound + 5], b[version.lowerBound + 7]) {
        case (UInt8(ascii: "1"), UInt8(ascii: "1")): head.version = .http1_1
        case (UInt8(ascii: "1"), UInt8(ascii: "0")): head.version = .http1_0
        default: return .invalid(.versionNotSupported, "unsupported HTTP version")
        }
        if equals(b, method, "GET") {
            head.method = .get
        } else if equals(b, method, "HEAD") {
            head.method = .head
        }
        // absolute-form (RFC 9112 §3.2.2): keep only the path and query.
        if b[target.lowerBound] != UInt8(ascii: "/") {
            guard let path = absoluteFormPath(b, target) else {
                return head.method == .other ? nil : .invalid(.badRequest, "invalid request target")
            }
            target = path
        }
        head.target = target
        return nil
    }

    private static func absoluteFormPath(_ b: UnsafeRawBufferPointer, _ target: Range<Int>) -> Range<Int>? {
        let lo = target.lowerBound
        let authority: Int
        if target.count > 7, equalsIgnoringCase(b, lo..<(lo + 7), "http://") {
            authority = lo + 7
        } else if target.count > 8, equalsIgnoringCase(b, lo..<(lo + 8), "https://") {
            authority = lo + 8
        } else {
            return nil
        }
        guard let slash = index(of: UInt8(ascii: "/"), in: b, authority..<target.upperBound) else { return nil }
        return slash..<target.upperBound
    }

    private static func parseField(
        _ b: UnsafeRawBufferPointer, _ line: Range<Int>, into head: inout HTTP1RequestHead
    ) -> HTTP1ParseResult? {
        guard let colon = index(of: UInt8(ascii: ":"), in: b, line) else { return .invalid(.badRequest, "header field without colon") }
        let name = line.lowerBound..<colon
        // Whitespace before the colon or a leading space (obs-fold) is rejected (RFC 9112 §5.1, §5.2).
        guard !name.isEmpty, name.allSatisfy({ isTokenChar(b[$0]) }) else { return .invalid(.badRequest, "invalid header field name") }
        var lo = colon + 1
        var hi = line.upperBound
        while lo < hi, b[lo] == UInt8(ascii: " ") || b[lo] == UInt8(ascii: "\t") { lo += 1 }
        while hi > lo, b[hi - 1] == UInt8(ascii: " ") || b[hi - 1] == UInt8(ascii: "\t") { hi -= 1 }
        let value = lo..<hi
        for i in value {
            let c = b[i]
            if c < 0x20 && c != UInt8(ascii: "\t") || c == 0x7f { return .invalid(.badRequest, "invalid byte in header field value") }
        }

        switch name.count {
        case 4 where equalsIgnoringCase(b, name, "host"):
            head.hostCount += 1
        case 6 where equalsIgnoringCase(b, name, "accept"):
            if mentionsHTML(b, value) { head.acceptsHTML = true }
        case 7 where equalsIgnoringCase(b, name, "upgrade"):
            forEachToken(b, value) { token in
                if equalsIgnoringCase(b, token, "h2c") { head.upgradeH2C = true }
            }
        case 10 where equalsIgnoringCase(b, name, "connection"):
            forEachToken(b, value) { token in
                if equalsIgnoringCase(b, token, "close") {
                    head.connectionClose = true
                } else if equalsIgnoringCase(b, token, "keep-alive") {
                    head.connectionKeepAlive = true
                } else if equalsIgnoringCase(b, token, "upgrade") {
                    head.connectionUpgrade = true
                } else if equalsIgnoringCase(b, token, "http2-settings") {
                    head.connectionHTTP2Settings = true
                }
            }
        case 13 where equalsIgnoringCase(b, name, "if-none-match"):
            head.ifNoneMatch = value
            head.ifNoneMatchCount += 1
        case 14 where equalsIgnoringCase(b, name, "content-length"):
            var result: HTTP1ParseResult?
            forEachToken(b, value, allowEmpty: true) { token in
                guard result == nil else { return }
                guard let parsed = parseLength(b, token) else {
                    result = .invalid(.badRequest, "invalid Content-Length")
                    return
                }
                if let existing = head.contentLength, existing != parsed {
                    result = .invalid(.badRequest, "conflicting Content-Length")
                }
                head.contentLength = parsed
            }
            if let result { return result }
        case 14 where equalsIgnoringCase(b, name, "http2-settings"):
            head.http2Settings = value
            head.http2SettingsCount += 1
        case 15 where equalsIgnoringCase(b, name, "accept-encoding"):
            if acceptsGzip(b, value) { head.acceptsGzip = true }
        case 17 where equalsIgnoringCase(b, name, "transfer-encoding"):
            head.hasTransferEncoding = true
        default:
            break
        }
        return nil
    }

    /// Whether an Accept-Encoding value admits gzip (explicitly, or through `*`), honouring q=0.
    static func acceptsGzip(_ b: UnsafeRawBufferPointer, _ value: Range<Int>) -> Bool {
        var gzip: Bool?
        var star: Bool?
        forEachToken(b, value) { element in
            let semicolon = index(of: UInt8(ascii: ";"), in: b, element) ?? element.upperBound
            var coding = element.lowerBound..<semicolon
            while coding.count > 0, b[coding.upperBound - 1] == UInt8(ascii: " ") { coding = coding.lowerBound..<(coding.upperBound - 1) }
            let allowed = !qualityIsZero(b, semicolon..<element.upperBound)
            if equalsIgnoringCase(b, coding, "gzip") || equalsIgnoringCase(b, coding, "x-gzip") {
                gzip = allowed
            } else if coding.count == 1, b[coding.lowerBound] == UInt8(ascii: "*") {
                star = allowed
            }
        }
        return gzip ?? star ?? false
    }

    /// Whether an Accept value contains `text/html` (any case), the test upstream applies
    /// (`strings.Contains`) to choose its HTML views.
    static func mentionsHTML(_ b: UnsafeRawBufferPointer, _ value: Range<Int>) -> Bool {
        let n = 9  // "text/html"
        guard value.count >= n else { return false }
        for start in value.lowerBound...(value.upperBound - n) where equalsIgnoringCase(b, start..<(start + n), "text/html") {
            return true
        }
        return false
    }

    private static func qualityIsZero(_ b: UnsafeRawBufferPointer, _ params: Range<Int>) -> Bool {
        var i = params.lowerBound
        while i < params.upperBound {
            if b[i] == UInt8(ascii: "q") || b[i] == UInt8(ascii: "Q"), i + 1 < params.upperBound, b[i + 1] == UInt8(ascii: "=") {
                var j = i + 2
                guard j < params.upperBound, b[j] == UInt8(ascii: "0") else { return false }
                j += 1
                if j < params.upperBound, b[j] == UInt8(ascii: ".") {
                    j += 1
                    while j < params.upperBound, b[j] == UInt8(ascii: "0") { j += 1 }
                }
                return j >= params.upperBound || !isDigit(b[j])
            }
            i += 1
        }
        return false
    }

    private static func parseLength(_ b: UnsafeRawBufferPointer, _ r: Range<Int>) -> Int? {
        guard !r.isEmpty, r.count <= 18 else { return nil }
        var v = 0
        for i in r {
            guard isDigit(b[i]) else { return nil }
            v = v * 10 + Int(b[i] - UInt8(ascii: "0"))
        }
        return v
    }

    /// Calls `body` with each comma-separated element, trimmed of whitespace.
    private static func forEachToken(
        _ b: UnsafeRawBufferPointer, _ value: Range<Int>, allowEmpty: Bool = false, _ body: (Range<Int>) -> Void
    ) {
        var lo = value.lowerBound
        while lo <= value.upperBound {
            let comma = index(of: UInt8(ascii: ","), in: b, lo..<value.upperBound) ?? value.upperBound
            var s = lo
            var e = comma
            while s < e, b[s] == UInt8(ascii: " ") || b[s] == UInt8(ascii: "\t") { s += 1 }
            while e > s, b[e - 1] == UInt8(ascii: " ") || b[e - 1] == UInt8(ascii: "\t") { e -= 1 }
            if s < e { body(s..<e) } else if allowEmpty, value.isEmpty { body(s..<e) }
            lo = comma + 1
        }
    }

    private static func index(of byte: UInt8, in b: UnsafeRawBufferPointer, _ r: Range<Int>) -> Int? {
        var i = r.lowerBound
        while i < r.upperBound {
            if b[i] == byte { return i }
            i += 1
        }
        return nil
    }

    static func equals(_ b: UnsafeRawBufferPointer, _ r: Range<Int>, _ s: StaticString) -> Bool {
        guard r.count == s.utf8CodeUnitCount else { return false }
        let p = s.utf8Start
        for (k, i) in r.enumerated() where b[i] != p[k] { return false }
        return true
    }

    static func equalsIgnoringCase(_ b: UnsafeRawBufferPointer, _ r: Range<Int>, _ s: StaticString) -> Bool {
        guard r.count == s.utf8CodeUnitCount else { return false }
        let p = s.utf8Start
        for (k, i) in r.enumerated() where lower(b[i]) != p[k] { return false }
        return true
    }

    @inline(__always) private static func lower(_ c: UInt8) -> UInt8 {
        c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") ? c | 0x20 : c
    }

    @inline(__always) private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    /// RFC 9110 §5.6.2 tchar.
    @inline(__always) static func isTokenChar(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
            UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }
}
