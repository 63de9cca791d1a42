import CNGHTTP2
import CompressNIO
import NIOConcurrencyHelpers
public import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// What a responder hands back: every representation of one answer, rendered once.
///
/// Rendering happens when content changes (a new snapshot), never per request, so the
/// hot path only selects a representation and copies bytes. The server picks gzip when
/// the client asks for it and answers `If-None-Match` with 304 from the same object.
public final class HTTPResource: Sendable {
    private let eagerIdentity: HTTPRepresentation?
    private let lazyIdentity: LazyRepresentation?
    public let gzip: HTTPRepresentation?

    /// The uncompressed representation (made on first use when the resource was built from a
    /// gzip body: see `init(status:contentType:gzipBody:etag:identity:)`).
    public var identity: HTTPRepresentation { eagerIdentity ?? lazyIdentity!.value }

    /// Renders a resource. Bodies of at least `compressionThreshold` bytes also get a
    /// gzip representation with its own strong ETag (strong validators are per representation).
    public init(
        status: HTTPStatus,
        contentType: String?,
        body: ByteBuffer,
        etag: Bool = true,
        extraHeaders: [(String, String)] = [],
        compressionThreshold: Int? = 1024
    ) {
        let tag = etag ? Self.strongETag(for: body, status: status) : nil
        var compressed: ByteBuffer?
        if let threshold = compressionThreshold, body.readableBytes >= threshold {
            compressed = Self.gzipped(body)
        }
        let vary = compressed != nil ? [("Vary", "Accept-Encoding")] : []
        eagerIdentity = HTTPRepresentation(
            status: status, contentType: contentType, contentEncoding: nil, body: body,
            etag: tag, headers: vary + extraHeaders)
        lazyIdentity = nil
        gzip = compressed.map {
            HTTPRepresentation(
                status: status, contentType: contentType, contentEncoding: "gzip", body: $0,
                etag: tag.map { String($0.dropLast()) + "-gz\"" }, headers: vary + extraHeaders)
        }
    }

    /// A large answer kept compressed: the gzip body is given, and the identity body is made by
    /// `identity` when a client first asks for it (clients that poll service discovery ask for
    /// gzip; keeping megabytes of uncompressed answers for the rare one that does not would cost
    /// a replica most of its memory). `etag` is the identity's strong validator (the content's,
    /// the same on every replica); the gzip one is derived from it.
    public init(
        status: HTTPStatus, contentType: String?, gzipBody: ByteBuffer, etag: String,
        identity: @escaping @Sendable () -> ByteBuffer
    ) {
        let vary = [("Vary", "Accept-Encoding")]
        eagerIdentity = nil
        lazyIdentity = LazyRepresentation {
            HTTPRepresentation(status: status, contentType: contentType, contentEncoding: nil, body: identity(), etag: etag, headers: vary)
        }
        gzip = HTTPRepresentation(
            status: status, contentType: contentType, contentEncoding: "gzip", body: gzipBody,
            etag: String(etag.dropLast()) + "-gz\"", headers: vary)
    }

    /// A strong ETag for content identified by a 64-bit hash of it (same content, same tag on
    /// every replica), in the form `strongETag(for:status:)` gives.
    public static func strongETag(contentHash: UInt64) -> String {
        "\"" + hex16(contentHash) + "\""
    }

    /// A small JSON answer such as an error, without validators or compression.
    public static func json(_ status: HTTPStatus, _ body: String) -> HTTPResource {
        HTTPResource(
            status: status, contentType: "application/json", body: ByteBuffer(string: body),
            etag: false, compressionThreshold: nil)
    }

    /// A plain-text answer without validators or compression.
    public static func text(_ status: HTTPStatus, _ body: String, extraHeaders: [(String, String)] = []) -> HTTPResource {
        HTTPResource(
            status: status, contentType: "text/plain; charset=utf-8", body: ByteBuffer(string: body),
            etag: false, extraHeaders: extraHeaders, compressionThreshold: nil)
    }

    /// Chooses the representation for a request and whether it is a 304.
    @inlinable
    func select(acceptsGzip: Bool) -> HTTPRepresentation {
        if acceptsGzip, let gzip { return gzip }
        return identity
    }

    static func strongETag(for body: ByteBuffer, status: HTTPStatus) -> String {
        var hash = FNV1a64()
        hash.combine(UInt64(status.code))
        body.withUnsafeReadableBytes { hash.combine(bytes: $0) }
        return "\"" + hex16(hash.value) + "\""
    }

    static func gzipped(_ body: ByteBuffer) -> ByteBuffer? {
        var input = body
        return try? input.compress(with: .gzip())
    }
}

/// A representation made once, on first use.
final class LazyRepresentation: Sendable {
    private let made = NIOLockedValueBox<HTTPRepresentation?>(nil)
    private let make: @Sendable () -> HTTPRepresentation

    init(_ make: @escaping @Sendable () -> HTTPRepresentation) { self.make = make }

    var value: HTTPRepresentation {
        made.withLockedValue { made in
            if let made { return made }
            let value = make()
            made = value
            return value
        }
    }
}

/// A fixed, process-independent 64-bit FNV-1a hash: replicas must derive identical ETags.
struct FNV1a64 {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func combine(bytes: UnsafeRawBufferPointer) {
        for byte in bytes {
            value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
    }

    mutating func combine(_ word: UInt64) {
        withUnsafeBytes(of: word.littleEndian) { combine(bytes: $0) }
    }
}

func hex16(_ value: UInt64) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8](repeating: 0, count: 16)
    for i in 0..<16 {
        out[15 - i] = digits[Int((value >> (UInt64(i) * 4)) & 0xf)]
    }
    return String(decoding: out, as: UTF8.self)
}

/// One encoding of one answer, with its HTTP/1.1 header block and HTTP/2 header list
/// pre-rendered, including the matching 304.
///
/// `@unchecked Sendable`: every stored property is immutable after `init`; the raw
/// `nghttp2_nv` arrays point into `storage`, which this object owns, never mutates and
/// frees only in `deinit`, so concurrent readers on several event loops are safe.
public final class HTTPRepresentation: @unchecked Sendable {
    public let status: HTTPStatus
    public let body: ByteBuffer
    public let etag: String?
    public let contentEncoding: String?

    /// `HTTP/1.1 200 OK\r\n`
    let h1StatusLine: [UInt8]
    /// Header lines after `Date`, each ending in CRLF, without `Connection` and the final CRLF.
    let h1Headers: [UInt8]
    let h1NotModifiedHeaders: [UInt8]

    /// HTTP/2 header lists (`:status` first). Pointers stay valid for the object's lifetime.
    let h2Headers: UnsafeMutableBufferPointer<nghttp2_nv>
    let h2NotModifiedHeaders: UnsafeMutableBufferPointer<nghttp2_nv>
    private let storage: UnsafeMutableRawBufferPointer

    init(
        status: HTTPStatus, contentType: String?, contentEncoding: String?, body: ByteBuffer,
        etag: String?, headers: [(String, String)]
    ) {
        self.status = status
        self.body = body
        self.etag = etag
        self.contentEncoding = contentEncoding

        // Headers shared by 200 and 304 (RFC 9110 §15.4.5: a 304 repeats ETag, Vary, Cache-Control).
        var validators: [(String, String)] = []
        if let etag { validators.append(("ETag", etag)) }
        validators += headers.filter { $0.0.lowercased() == "vary" || $0.0.lowercased() == "cache-control" }
        var full: [(String, String)] = []
        if let contentType { full.append(("Content-Type", contentType)) }
        if let contentEncoding { full.append(("Content-Encoding", contentEncoding)) }
        full.append(("Content-Length", String(body.readableBytes)))
        full += validators
        full += headers.filter { $0.0.lowercased() != "vary" && $0.0.lowercased() != "cache-control" }

        h1StatusLine = Array("HTTP/1.1 \(status.code) \(status.reason)\r\n".utf8)
        h1Headers = Array(full.map { "\($0.0): \($0.1)\r\n" }.joined().utf8)
        h1NotModifiedHeaders = Array(validators.map { "\($0.0): \($0.1)\r\n" }.joined().utf8)

        let h2Full = [(":status", String(status.code))] + full.map { ($0.0.lowercased(), $0.1) }
        let h2NotModified = [(":status", "304")] + validators.map { ($0.0.lowercased(), $0.1) }
        let byteCount = (h2Full + h2NotModified).reduce(0) { $0 + $1.0.utf8.count + $1.1.utf8.count }
        storage = .allocate(byteCount: max(byteCount, 1), alignment: 1)
        h2Headers = .allocate(capacity: h2Full.count)
        h2NotModifiedHeaders = .allocate(capacity: h2NotModified.count)
        var offset = 0
        func place(_ string: String) -> (UnsafeMutablePointer<UInt8>, Int) {
            let bytes = Array(string.utf8)
            let base = storage.baseAddress!.advanced(by: offset).assumingMemoryBound(to: UInt8.self)
            bytes.withUnsafeBytes { base.update(from: $0.bindMemory(to: UInt8.self).baseAddress!, count: bytes.count) }
            offset += bytes.count
            return (base, bytes.count)
        }
        let flags = UInt8(NGHTTP2_NV_FLAG_NO_COPY_NAME.rawValue | NGHTTP2_NV_FLAG_NO_COPY_VALUE.rawValue)
        for (list, target) in [(h2Full, h2Headers), (h2NotModified, h2NotModifiedHeaders)] {
            for (i, (name, value)) in list.enumerated() {
                let n = place(name)
                let v = place(value)
                target[i] = nghttp2_nv(name: n.0, value: v.0, namelen: n.1, valuelen: v.1, flags: flags)
            }
        }
    }

    deinit {
        h2Headers.deallocate()
        h2NotModifiedHeaders.deallocate()
        storage.deallocate()
    }

    /// Whether an `If-None-Match` field value matches this representation (weak comparison,
    /// RFC 9110 §13.1.2), scanning the raw bytes without allocating.
    func matches(ifNoneMatch field: UnsafeRawBufferPointer) -> Bool {
        guard let etag else { return false }
        return etag.utf8.withContiguousStorageIfAvailable { tag in
            ETagList.contains(field, tag: UnsafeRawBufferPointer(tag))
        } ?? false
    }
}

/// Parses `If-None-Match` lists in place.
enum ETagList {
    static func contains(_ field: UnsafeRawBufferPointer, tag: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        let n = field.count
        while i < n {
            // skip separators
            while i < n, field[i] == UInt8(ascii: " ") || field[i] == UInt8(ascii: "\t") || field[i] == UInt8(ascii: ",") {
                i += 1
            }
            if i >= n { break }
            if field[i] == UInt8(ascii: "*") { return true }
            var start = i
            if field[i] == UInt8(ascii: "W"), i + 1 < n, field[i + 1] == UInt8(ascii: "/") { start = i + 2 }
            guard start < n, field[start] == UInt8(ascii: "\"") else { return false }
            var end = start + 1
            while end < n, field[end] != UInt8(ascii: "\"") { end += 1 }
            guard end < n else { return false }
            let length = end - start + 1
            if length == tag.count, memcmp(field.baseAddress! + start, tag.baseAddress!, length) == 0 {
                return true
            }
            i = end + 1
        }
        return false
    }
}

/// A status code with its reason phrase.
public struct HTTPStatus: Sendable, Hashable {
    public let code: Int
    public let reason: String

    public init(code: Int, reason: String) {
        self.code = code
        self.reason = reason
    }

    public static let ok = HTTPStatus(code: 200, reason: "OK")
    public static let switchingProtocols = HTTPStatus(code: 101, reason: "Switching Protocols")
    public static let notModified = HTTPStatus(code: 304, reason: "Not Modified")
    public static let badRequest = HTTPStatus(code: 400, reason: "Bad Request")
    public static let notFound = HTTPStatus(code: 404, reason: "Not Found")
    public static let methodNotAllowed = HTTPStatus(code: 405, reason: "Method Not Allowed")
    public static let requestTimeout = HTTPStatus(code: 408, reason: "Request Timeout")
    public static let contentTooLarge = HTTPStatus(code: 413, reason: "Content Too Large")
    public static let uriTooLong = HTTPStatus(code: 414, reason: "URI Too Long")
    public static let headerFieldsTooLarge = HTTPStatus(code: 431, reason: "Request Header Fields Too Large")
    public static let internalServerError = HTTPStatus(code: 500, reason: "Internal Server Error")
    public static let notImplemented = HTTPStatus(code: 501, reason: "Not Implemented")
    public static let serviceUnavailable = HTTPStatus(code: 503, reason: "Service Unavailable")
    public static let versionNotSupported = HTTPStatus(code: 505, reason: "HTTP Version Not Supported")
}
