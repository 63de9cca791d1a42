import NIOConcurrencyHelpers

/// The authorization attributes of one resource request, as the real API server's RBAC
/// authorizer sees them (the object name aside): who, which verb, which resource, where.
public struct RequestRecord: Sendable, Hashable, CustomStringConvertible {
    public var identity: String
    /// get, list, watch, create, update, patch, delete or deletecollection.
    public var verb: String
    /// "" for the core group.
    public var group: String
    public var resource: String
    public var subresource: String?
    /// nil: a cluster-scoped resource, or a namespaced one across all namespaces.
    public var namespace: String?

    public init(identity: String, verb: String, group: String, resource: String, subresource: String? = nil, namespace: String?) {
        self.identity = identity
        self.verb = verb
        self.group = group
        self.resource = resource
        self.subresource = subresource
        self.namespace = namespace
    }

    public var description: String {
        let r = (group.isEmpty ? resource : "\(resource).\(group)") + (subresource.map { "/\($0)" } ?? "")
        return "\(identity) \(verb) \(r) \(namespace.map { "in \($0)" } ?? "cluster-wide")"
    }
}

/// Every distinct resource request (reads included), with how often it was made. Kept as a
/// set so it stays small however long the emulator runs.
final class RequestLog: Sendable {
    private let state = NIOLockedValueBox<(order: [RequestRecord], counts: [RequestRecord: Int])>(([], [:]))

    func record(_ r: RequestRecord) {
        state.withLockedValue { s in
            if let n = s.counts[r] {
                s.counts[r] = n + 1
            } else {
                s.counts[r] = 1
                s.order.append(r)
            }
        }
    }

    var records: [RequestRecord] { state.withLockedValue { $0.order } }
    var counts: [RequestRecord: Int] { state.withLockedValue { $0.counts } }
}
