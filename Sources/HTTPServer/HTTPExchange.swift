public import CoreMetrics

/// Per-connection request handling shared by HTTP/1.1 and HTTP/2: asks the responder,
/// picks the representation, evaluates `If-None-Match`, counts the answer.
final class HTTPExchange {
    struct Decision {
        let representation: HTTPRepresentation
        let notModified: Bool
    }

    let date = DateCache()
    let connection: ConnectionInfo
    let metrics: HTTPServerMetrics

    init(connection: ConnectionInfo, metrics: HTTPServerMetrics) {
        self.connection = connection
        self.metrics = metrics
    }

    func decide(
        target: UnsafeRawBufferPointer, version: HTTPVersion, acceptsGzip: Bool, acceptsHTML: Bool = false,
        ifNoneMatch: UnsafeRawBufferPointer?, responder: any HTTPResponder
    ) -> Decision {
        let resource = responder.respond(
            to: HTTPRequest(target: target, version: version, connection: connection, acceptsHTML: acceptsHTML))
        let representation = resource.select(acceptsGzip: acceptsGzip)
        let notModified = ifNoneMatch.map { representation.matches(ifNoneMatch: $0) } ?? false
        metrics.record(version: version, status: notModified ? 304 : representation.status.code)
        return Decision(representation: representation, notModified: notModified)
    }

    func error(_ status: HTTPStatus, version: HTTPVersion) -> Decision {
        metrics.record(version: version, status: status.code)
        return Decision(representation: ServerErrors.resource(for: status).identity, notModified: false)
    }
}

/// The answers the server gives on its own, without asking the responder.
enum ServerErrors {
    static let badRequest = HTTPResource.json(.badRequest, #"{"error":"bad request"}"# + "\n")
    static let methodNotAllowed = HTTPResource(
        status: .methodNotAllowed, contentType: "application/json",
        body: .init(string: #"{"error":"method not allowed"}"# + "\n"), etag: false,
        extraHeaders: [("Allow", "GET, HEAD")], compressionThreshold: nil)
    static let requestTimeout = HTTPResource.json(.requestTimeout, #"{"error":"request timeout"}"# + "\n")
    static let contentTooLarge = HTTPResource.json(.contentTooLarge, #"{"error":"request bodies are not accepted"}"# + "\n")
    static let uriTooLong = HTTPResource.json(.uriTooLong, #"{"error":"request target too long"}"# + "\n")
    static let headerFieldsTooLarge = HTTPResource.json(.headerFieldsTooLarge, #"{"error":"request header fields too large"}"# + "\n")
    static let notImplemented = HTTPResource.json(.notImplemented, #"{"error":"not implemented"}"# + "\n")
    static let versionNotSupported = HTTPResource.json(.versionNotSupported, #"{"error":"HTTP version not supported"}"# + "\n")
    static let internalError = HTTPResource.json(.internalServerError, #"{"error":"internal error"}"# + "\n")

    static func resource(for status: HTTPStatus) -> HTTPResource {
        switch status.code {
        case 400: badRequest
        case 405: methodNotAllowed
        case 408: requestTimeout
        case 413: contentTooLarge
        case 414: uriTooLong
        case 431: headerFieldsTooLarge
        case 501: notImplemented
        case 505: versionNotSupported
        default: internalError
        }
    }
}

/// Request and connection counters, created once so the hot path only increments.
public final class HTTPServerMetrics: Sendable {
    private static let statuses = [200, 304, 400, 404, 405, 408, 413, 414, 431, 500, 501, 503, 505]
    private let counters: [[Counter]]  // [version][status index], last column = other
    let connectionsOpened: Counter
    let connectionsRejected: Counter
    let activeConnections: Meter

    public init(factory: any MetricsFactory) {
        counters = [HTTPVersion.http1_0, .http1_1, .http2].map { version in
            (Self.statuses.map(String.init) + ["other"]).map { status in
                Counter(
                    label: "http_server_requests_total", dimensions: [("protocol", version.label), ("status", status)],
                    factory: factory)
            }
        }
        connectionsOpened = Counter(label: "http_server_connections_total", factory: factory)
        connectionsRejected = Counter(label: "http_server_connections_rejected_total", factory: factory)
        activeConnections = Meter(label: "http_server_active_connections", factory: factory)
    }

    @inline(__always)
    func record(version: HTTPVersion, status: Int) {
        let row: Int
        switch version {
        case .http1_0: row = 0
        case .http1_1: row = 1
        case .http2: row = 2
        }
        let column = Self.statuses.firstIndex(of: status) ?? Self.statuses.count
        counters[row][column].increment()
    }
}
