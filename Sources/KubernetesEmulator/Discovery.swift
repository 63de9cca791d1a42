import JSON

/// Legacy discovery documents (plain `application/json`), enough for kubectl's RESTMapper.
enum Discovery {
    static func apiVersions(serverAddress: String) -> JSONValue {
        .object([
            JSONMember("kind", .string("APIVersions")), JSONMember("versions", .array([.string("v1")])),
            JSONMember(
                "serverAddressByClientCIDRs",
                .array([.object([JSONMember("clientCIDR", .string("0.0.0.0/0")), JSONMember("serverAddress", .string(serverAddress))])])),
        ])
    }

    static var groupNames: [String] {
        var names: [String] = []
        for r in ResourceDefinition.all where !r.group.isEmpty && !names.contains(r.group) { names.append(r.group) }
        return names
    }

    static func versions(of group: String) -> [String] {
        var versions: [String] = []
        for r in ResourceDefinition.all where r.group == group && !versions.contains(r.version) { versions.append(r.version) }
        return versions
    }

    static func group(_ name: String) -> JSONValue {
        let versions = versions(of: name).map { v in
            JSONValue.object([JSONMember("groupVersion", .string("\(name)/\(v)")), JSONMember("version", .string(v))])
        }
        return .object([
            JSONMember("kind", .string("APIGroup")), JSONMember("apiVersion", .string("v1")), JSONMember("name", .string(name)),
            JSONMember("versions", .array(versions)), JSONMember("preferredVersion", versions[0]),
        ])
    }

    static func groupList() -> JSONValue {
        .object([
            JSONMember("kind", .string("APIGroupList")), JSONMember("apiVersion", .string("v1")),
            JSONMember(
                "groups",
                .array(
                    groupNames.map { name in
                        var g = group(name).members ?? []
                        g.removeAll { $0.key == "kind" || $0.key == "apiVersion" }
                        return .object(g)
                    })),
        ])
    }

    static func resourceList(group: String, version: String) -> JSONValue? {
        let defs = ResourceDefinition.all.filter { $0.group == group && $0.version == version }
        guard !defs.isEmpty else { return nil }
        var resources: [JSONValue] = []
        let verbs: [JSONValue] = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"].map { .string($0) }
        for r in defs {
            var m: [JSONMember] = [
                JSONMember("name", .string(r.plural)), JSONMember("singularName", .string(r.singular)),
                JSONMember("namespaced", .bool(r.namespaced)), JSONMember("kind", .string(r.kind)), JSONMember("verbs", .array(verbs)),
            ]
            if !r.shortNames.isEmpty { m.append(JSONMember("shortNames", .array(r.shortNames.map { .string($0) }))) }
            if !r.categories.isEmpty { m.append(JSONMember("categories", .array(r.categories.map { .string($0) }))) }
            resources.append(.object(m))
            if r.hasStatus {
                resources.append(
                    .object([
                        JSONMember("name", .string("\(r.plural)/status")), JSONMember("singularName", .string("")),
                        JSONMember("namespaced", .bool(r.namespaced)), JSONMember("kind", .string(r.kind)),
                        JSONMember("verbs", .array(["get", "patch", "update"].map { .string($0) })),
                    ]))
            }
        }
        return .object([
            JSONMember("kind", .string("APIResourceList")), JSONMember("apiVersion", .string("v1")),
            JSONMember("groupVersion", .string(group.isEmpty ? version : "\(group)/\(version)")), JSONMember("resources", .array(resources)),
        ])
    }

    static let version: JSONValue = .object([
        JSONMember("major", .string("1")), JSONMember("minor", .string("33")), JSONMember("gitVersion", .string("v1.33.0-emulator")),
        JSONMember("gitCommit", .string("0000000000000000000000000000000000000000")), JSONMember("gitTreeState", .string("clean")),
        JSONMember("buildDate", .string("2026-01-01T00:00:00Z")), JSONMember("goVersion", .string("go1.24.0")),
        JSONMember("compiler", .string("gc")), JSONMember("platform", .string("linux/amd64")),
    ])
}
