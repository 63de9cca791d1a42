import NIOCore
import NIOConcurrencyHelpers

/// How a partitioned identity's requests fail.
public enum PartitionMode: Sendable {
    /// The connection is closed without an answer (connection reset).
    case refuse
    /// No answer at all until the partition heals (then the connection is closed): a black hole.
    case hang
}

/// An error answer injected for an identity's requests.
public struct InjectedFailure: Sendable {
    public var error: APIError
    /// How many requests fail (nil = until cleared).
    public var remaining: Int?
    /// Only these verbs fail (get, list, watch, create, update, patch, delete); nil = all.
    public var verbs: Set<String>?
    /// Only this resource (plural, e.g. "leases"); nil = all.
    public var resource: String?

    public init(error: APIError, count: Int? = nil, verbs: Set<String>? = nil, resource: String? = nil) {
        self.error = error
        self.remaining = count
        self.verbs = verbs
        self.resource = resource
    }

    /// `code` with the reason the real server uses for it; 429 carries Retry-After.
    public init(code: Int, retryAfterSeconds: Int? = nil, count: Int? = nil, verbs: Set<String>? = nil, resource: String? = nil) {
        let (reason, message): (String, String) =
            switch code {
            case 429: ("TooManyRequests", "Too many requests, please try again later.")
            case 500: ("InternalError", "Internal error occurred: injected fault")
            case 503: ("ServiceUnavailable", "the server is currently unable to handle the request")
            case 504: ("Timeout", "Timeout: request did not complete within the allotted timeout")
            case 403: ("Forbidden", "forbidden: injected fault")
            case 401: ("Unauthorized", "Unauthorized")
            default: ("", "injected fault")
            }
        var e = APIError(code: code, reason: reason, message: message, retryAfterSeconds: retryAfterSeconds)
        if retryAfterSeconds != nil { e.details = APIError.Details() }
        self.init(error: e, count: count, verbs: verbs, resource: resource)
    }
}

/// Faults per identity ("*" applies to everyone).
final class FaultTable: Sendable {
    private struct State {
        var partitions: [String: PartitionMode] = [:]
        var failures: [String: InjectedFailure] = [:]
        var latency: [String: TimeAmount] = [:]
        var held: [String: [any Channel]] = [:]
    }
    private let state = NIOLockedValueBox(State())

    enum Action {
        case proceed
        case refuse
        case hang
        case fail(APIError)
    }

    func latency(for identity: String) -> TimeAmount? {
        state.withLockedValue { $0.latency[identity] ?? $0.latency["*"] }
    }

    func action(for identity: String, verb: String, resource: String?) -> Action {
        state.withLockedValue { s in
            if let p = s.partitions[identity] ?? s.partitions["*"] { return p == .refuse ? .refuse : .hang }
            for key in [identity, "*"] {
                guard var f = s.failures[key] else { continue }
                if let verbs = f.verbs, !verbs.contains(verb) { continue }
                if let r = f.resource, r != resource { continue }
                if let n = f.remaining {
                    if n <= 1 { s.failures[key] = nil } else { f.remaining = n - 1; s.failures[key] = f }
                }
                return .fail(f.error)
            }
            return .proceed
        }
    }

    func hold(_ channel: any Channel, identity: String) {
        state.withLockedValue { $0.held[identity, default: []].append(channel) }
    }

    func partition(_ identity: String, mode: PartitionMode) {
        state.withLockedValue { $0.partitions[identity] = mode }
    }

    /// Lifts the partition; held connections are closed (their requests never reached the server).
    func heal(_ identity: String) -> [any Channel] {
        state.withLockedValue { s in
            s.partitions[identity] = nil
            if identity == "*" {
                defer { s.held = [:] }
                return s.held.values.flatMap { $0 }
            }
            return s.held.removeValue(forKey: identity) ?? []
        }
    }

    func inject(_ identity: String, _ failure: InjectedFailure?) {
        state.withLockedValue { $0.failures[identity] = failure }
    }

    func setLatency(_ identity: String, _ latency: TimeAmount?) {
        state.withLockedValue { $0.latency[identity] = latency }
    }

    func clearAll() -> [any Channel] {
        state.withLockedValue { s in
            defer { s = State() }
            return s.held.values.flatMap { $0 }
        }
    }
}
