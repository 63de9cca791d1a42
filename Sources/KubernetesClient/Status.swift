import Foundation

/// The API server's error body (`metav1.Status`). Callers decide by `reason` and `code`,
/// as client-go does, never by message text.
public struct Status: Codable, Sendable, Hashable {
    public var kind: String?
    public var apiVersion: String?
    public var status: String?
    public var message: String?
    public var reason: String?
    public var details: Details?
    public var code: Int?

    public struct Details: Codable, Sendable, Hashable {
        public var name: String?
        public var group: String?
        public var kind: String?
        public var causes: [Cause]?
        public var retryAfterSeconds: Int?
    }

    public struct Cause: Codable, Sendable, Hashable {
        public var reason: String?
        public var message: String?
        public var field: String?
    }

    public init(code: Int, reason: String?, message: String?) {
        self.kind = "Status"
        self.apiVersion = "v1"
        self.status = "Failure"
        self.code = code
        self.reason = reason
        self.message = message
    }
}

/// Every failure of a Kubernetes call, classified so callers can react (retry, relist, give up).
public enum KubernetesError: Error, CustomStringConvertible, Sendable {
    /// The server answered with an error status.
    case status(Status, retryAfter: Double?)
    /// No answer: connection refused, reset, TLS failure, timeout.
    case transport(String)
    /// The answer could not be decoded.
    case decoding(String)
    /// The configuration cannot be used (missing file, bad kubeconfig).
    case configuration(String)

    public var code: Int? {
        if case .status(let s, _) = self { return s.code }
        return nil
    }

    public var reason: String? {
        if case .status(let s, _) = self { return s.reason }
        return nil
    }

    public var isNotFound: Bool { reason == "NotFound" || (reason == nil && code == 404) }
    public var isAlreadyExists: Bool { reason == "AlreadyExists" }
    public var isConflict: Bool { reason == "Conflict" || (reason == nil && code == 409) }
    public var isInvalid: Bool { reason == "Invalid" || code == 422 }
    /// 410: the resourceVersion is too old; informers relist.
    public var isGone: Bool { reason == "Expired" || reason == "Gone" || code == 410 }
    public var isTooManyRequests: Bool { reason == "TooManyRequests" || code == 429 }
    public var isUnauthorized: Bool { code == 401 }
    public var isServerError: Bool { (code ?? 0) >= 500 }

    /// Seconds the server asked us to wait (Retry-After or details.retryAfterSeconds).
    public var retryAfter: Double? {
        if case .status(let s, let retryAfter) = self { return retryAfter ?? s.details?.retryAfterSeconds.map(Double.init) }
        return nil
    }

    public var description: String {
        switch self {
        case .status(let s, _): "Kubernetes API \(s.code ?? 0) \(s.reason ?? ""): \(s.message ?? "")"
        case .transport(let m): "Kubernetes API unreachable: \(m)"
        case .decoding(let m): "Kubernetes API answer not understood: \(m)"
        case .configuration(let m): "Kubernetes client configuration: \(m)"
        }
    }
}

extension KubernetesError {
    /// Builds an error from a non-2xx answer; bodies that are not a Status still classify by code.
    static func from(code: Int, body: Data, retryAfter: String?) -> KubernetesError {
        var status = (try? JSONDecoder().decode(Status.self, from: body)) ?? Status(code: code, reason: nil, message: nil)
        if status.kind != "Status" {
            status = Status(code: code, reason: nil, message: String(decoding: body.prefix(512), as: UTF8.self))
        }
        if status.code == nil { status.code = code }
        return .status(status, retryAfter: retryAfter.flatMap(Double.init))
    }
}
