/// The server's only view of the application: a pure function from request to rendered resource.
///
/// It is called on an event loop for every request, so it must not block and should not
/// allocate on its common paths (return pre-rendered resources).
public protocol HTTPResponder: Sendable {
    func respond(to request: HTTPRequest) -> HTTPResource
}

/// A request as the responder sees it. Only GET and HEAD reach a responder: the server
/// answers every other method with 405 itself.
///
/// `target` points into the connection's receive buffer and is valid only during
/// `respond(to:)`; copy what must outlive the call.
public struct HTTPRequest {
    /// The raw request target (`/path?query`), still percent-encoded.
    public let target: UnsafeRawBufferPointer
    public let version: HTTPVersion
    public let connection: ConnectionInfo
    /// The `Accept` field names `text/html` (a browser): HTML views instead of JSON, as upstream.
    public let acceptsHTML: Bool

    public init(target: UnsafeRawBufferPointer, version: HTTPVersion, connection: ConnectionInfo, acceptsHTML: Bool = false) {
        self.target = target
        self.version = version
        self.connection = connection
        self.acceptsHTML = acceptsHTML
    }

    /// The path part of the target (before `?`).
    public var path: UnsafeRawBufferPointer {
        guard let q = target.firstIndex(of: UInt8(ascii: "?")) else { return target }
        return UnsafeRawBufferPointer(rebasing: target[..<q])
    }

    /// The query part of the target (after `?`), empty when there is none.
    public var query: UnsafeRawBufferPointer {
        guard let q = target.firstIndex(of: UInt8(ascii: "?")) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(rebasing: target[(q + 1)...])
    }

    /// The target as a String (allocates; for slow paths only).
    public var targetString: String { String(decoding: target, as: UTF8.self) }
}

public enum HTTPVersion: Sendable, Hashable {
    case http1_0, http1_1, http2

    public var label: String {
        switch self {
        case .http1_0: "HTTP/1.0"
        case .http1_1: "HTTP/1.1"
        case .http2: "HTTP/2"
        }
    }
}

/// Per-connection facts a responder may need (for example, secrets are only served to
/// clients that presented a verified certificate).
public struct ConnectionInfo: Sendable, Hashable {
    public var isTLS: Bool
    public var clientCertificateVerified: Bool

    public init(isTLS: Bool, clientCertificateVerified: Bool) {
        self.isTLS = isTLS
        self.clientCertificateVerified = clientCertificateVerified
    }
}
