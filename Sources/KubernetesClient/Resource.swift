/// Where a kind lives in the API: the facts needed to build its URL paths.
public struct ResourceType: Sendable, Hashable, CustomStringConvertible {
    /// Empty for the core group.
    public var group: String
    public var version: String
    /// Lowercase plural, as in the URL (`pods`, `endpointslices`).
    public var plural: String
    public var kind: String
    public var namespaced: Bool

    public init(group: String, version: String, plural: String, kind: String, namespaced: Bool) {
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
    }

    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

    /// `/api/v1` or `/apis/<group>/<version>`.
    public var groupVersionPath: String { group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)" }

    /// The collection path, across namespaces when `namespace` is nil.
    public func collectionPath(namespace: String?) -> String {
        if namespaced, let namespace { return "\(groupVersionPath)/namespaces/\(escape(namespace))/\(plural)" }
        return "\(groupVersionPath)/\(plural)"
    }

    public func objectPath(namespace: String?, name: String) -> String {
        collectionPath(namespace: namespace) + "/" + escape(name)
    }

    public var description: String { group.isEmpty ? plural : "\(plural).\(group)" }

    private func escape(_ segment: String) -> String {
        segment.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(.init(charactersIn: "/"))) ?? segment
    }
}

import Foundation

/// A typed object the client can read and write.
public protocol KubernetesObject: Codable, Sendable {
    static var resource: ResourceType { get }
    var metadata: ObjectMeta { get set }
}

extension KubernetesObject {
    public var name: String { metadata.name ?? "" }
    public var namespace: String? { metadata.namespace }
    public var resourceVersion: String? { metadata.resourceVersion }
    /// `namespace/name` (or `name`), the key informers index by.
    public var key: String { metadata.namespace.map { "\($0)/\(name)" } ?? name }
}
