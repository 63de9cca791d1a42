import Foundation
import JSON
import NIOCore
import NIOHTTP1

struct Route {
    enum Special { case root, version, api, apis, group(String), resourceList(String, String), health, admin, notFound }
    var verb = "get"
    var special: Special?
    var definition: ResourceDefinition?
    var namespace: String?
    var name: String?
    var subresource: String?
    var resource: String? { definition?.plural }
}

/// Maps requests to store operations and renders the answers.
struct Router {
    let core: EmulatorCore

    static func classify(_ request: APIRequest) -> Route {
        let s = request.segments
        var route = Route()
        switch s.first {
        case nil: route.special = .root
        case "version": route.special = .version
        case "healthz", "readyz", "livez": route.special = .health
        case AdminRoutes.prefix: route.special = .admin
        case "api":
            if s.count == 1 { route.special = .api } else if s.count == 2 { route.special = s[1] == "v1" ? .resourceList("", "v1") : .notFound } else {
                resolve(&route, group: "", version: s[1], rest: Array(s.dropFirst(2)), request)
            }
        case "apis":
            if s.count == 1 {
                route.special = .apis
            } else if s.count == 2 {
                route.special = .group(s[1])
            } else if s.count == 3 {
                route.special = .resourceList(s[1], s[2])
            } else {
                resolve(&route, group: s[1], version: s[2], rest: Array(s.dropFirst(3)), request)
            }
        default: route.special = .notFound
        }
        return route
    }

    private static func resolve(_ route: inout Route, group: String, version: String, rest: [String], _ request: APIRequest) {
        var namespace: String?
        var tail = rest
        if rest.count >= 3, rest[0] == "namespaces", !(rest.count == 3 && (rest[2] == "status" || rest[2] == "finalize")) {
            namespace = rest[1]
            tail = Array(rest.dropFirst(2))
        }
        guard tail.count >= 1, tail.count <= 3, let def = ResourceDefinition.find(group: group, version: version, plural: tail[0]) else {
            route.special = .notFound
            return
        }
        if namespace != nil, !def.namespaced {
            route.special = .notFound
            return
        }
        if namespace == nil, def.namespaced, tail.count > 1 {
            route.special = .notFound
            return
        }
        route.definition = def
        route.namespace = namespace
        route.name = tail.count > 1 ? tail[1] : nil
        route.subresource = tail.count > 2 ? tail[2] : nil
        if let sub = route.subresource, !(sub == "status" && def.hasStatus) {
            route.special = .notFound
            return
        }
        switch request.method {
        case .GET: route.verb = route.name != nil ? "get" : (request.flag("watch") ? "watch" : "list")
        case .POST: route.verb = "create"
        case .PUT: route.verb = "update"
        case .PATCH: route.verb = "patch"
        case .DELETE: route.verb = route.name != nil ? "delete" : "deletecollection"
        default: route.verb = "unsupported"
        }
    }

    func handle(_ request: APIRequest, route: Route) throws(APIError) -> APIResponse {
        if let special = route.special {
            switch special {
            case .root:
                let paths: [JSONValue] =
                    ["/api", "/api/v1", "/apis", "/version"].map { .string($0) }
                    + Discovery.groupNames.flatMap { g in Discovery.versions(of: g).map { JSONValue.string("/apis/\(g)/\($0)") } }
                return .json(.object([JSONMember("paths", .array(paths))]))
            case .version: return .json(Discovery.version)
            case .health: return APIResponse(status: .ok, body: Array("ok".utf8), contentType: "text/plain; charset=utf-8")
            case .api: return .json(Discovery.apiVersions(serverAddress: core.address))
            case .apis: return .json(Discovery.groupList())
            case .group(let g):
                guard Discovery.groupNames.contains(g) else { throw APIError.notFoundPath() }
                return .json(Discovery.group(g))
            case .resourceList(let g, let v):
                guard let list = Discovery.resourceList(group: g, version: v) else { throw APIError.notFoundPath() }
                return .json(list)
            case .admin:
                guard core.configuration.adminAPI else { throw APIError.notFoundPath() }
                return try AdminRoutes(core: core).handle(request)
            case .notFound:
                throw APIError.notFoundPath()
            }
        }
        guard let r = route.definition else { throw APIError.notFoundPath() }
        let store = core.store
        let dryRun = request.query["dryRun"] == "All"
        switch route.verb {
        case "get":
            return .raw(try store.get(r, namespace: route.namespace, name: route.name!).bytes)
        case "list":
            return try list(request, r, namespace: route.namespace)
        case "create":
            guard route.name == nil, !(r.namespaced && route.namespace == nil) else { throw APIError.methodNotAllowed("POST") }
            let stored = try store.create(r, namespace: route.namespace, body: try parseBody(request, r), identity: request.identity, dryRun: dryRun)
            return .raw(stored.bytes, status: .created)
        case "update":
            let (stored, created) = try store.update(
                r, namespace: route.namespace, name: route.name!, body: try parseBody(request, r), subresource: route.subresource,
                identity: request.identity, dryRun: dryRun)
            return .raw(stored.bytes, status: created ? .created : .ok)
        case "patch":
            let contentType = (request.headers.first(name: "Content-Type") ?? "").split(separator: ";").first.map { $0.trimmingSpaces } ?? ""
            let kind: Store.PatchKind
            var accepted = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]
            if !r.custom { accepted.insert("application/strategic-merge-patch+json", at: 2) }
            switch contentType {
            case "application/merge-patch+json": kind = .merge
            case "application/json-patch+json": kind = .json
            case "application/strategic-merge-patch+json" where !r.custom: kind = .strategic
            default: throw APIError.unsupportedMediaType(contentType, accepted: accepted)
            }
            let patch = try parseJSON(request.body, r)
            let stored = try store.patch(
                r, namespace: route.namespace, name: route.name!, kind: kind, patch: patch, subresource: route.subresource,
                identity: request.identity, dryRun: dryRun)
            return .raw(stored.bytes)
        case "delete":
            var preconditions = Store.Preconditions()
            if request.body.readableBytes > 0 {
                let options = try parseJSON(request.body, r)
                preconditions.uid = options.at("preconditions", "uid")?.stringValue
                preconditions.resourceVersion = options.at("preconditions", "resourceVersion")?.stringValue
            }
            let deleted = try store.delete(
                r, namespace: route.namespace, name: route.name!, preconditions: preconditions, identity: request.identity, dryRun: dryRun)
            if r.returnsDeletedObject { return .raw(deleted.bytes) }
            var details: [JSONMember] = [JSONMember("name", .string(deleted.name))]
            if !r.group.isEmpty { details.append(JSONMember("group", .string(r.group))) }
            details.append(JSONMember("kind", .string(r.plural)))
            details.append(JSONMember("uid", .string(deleted.uid)))
            return .json(
                .object([
                    JSONMember("kind", .string("Status")), JSONMember("apiVersion", .string("v1")), JSONMember("metadata", .object([])),
                    JSONMember("status", .string("Success")), JSONMember("details", .object(details)),
                ]))
        case "deletecollection":
            let labels = try LabelSelector(parsing: request.query["labelSelector"] ?? "")
            let fields = try FieldSelector(parsing: request.query["fieldSelector"] ?? "", resource: r)
            let doomed = try store.list(r, namespace: route.namespace, labels: labels, fields: fields, limit: nil, continueToken: nil)
            for o in doomed.items {
                _ = try? store.delete(r, namespace: o.namespace, name: o.name, preconditions: .init(), identity: request.identity, dryRun: dryRun)
            }
            return .json(
                .object([
                    JSONMember("kind", .string("Status")), JSONMember("apiVersion", .string("v1")), JSONMember("metadata", .object([])),
                    JSONMember("status", .string("Success")),
                ]))
        default:
            throw APIError.methodNotAllowed(String(describing: request.method))
        }
    }

    private func parseJSON(_ body: ByteBuffer, _ r: ResourceDefinition) throws(APIError) -> JSONValue {
        do {
            return try JSONValue.parse(body.readableBytesView)
        } catch {
            throw APIError.badRequest("\(r.kind) in version \"\(r.version)\" cannot be handled as a \(r.kind): \(error)")
        }
    }

    private func parseBody(_ request: APIRequest, _ r: ResourceDefinition) throws(APIError) -> JSONValue {
        let contentType = request.headers.first(name: "Content-Type") ?? "application/json"
        if !contentType.hasPrefix("application/json") && !contentType.hasPrefix("*/*") {
            throw APIError.unsupportedMediaType(contentType, accepted: ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"])
        }
        let value = try parseJSON(request.body, r)
        guard value.isObject else {
            throw APIError.badRequest("\(r.kind) in version \"\(r.version)\" cannot be handled as a \(r.kind): the object is not a JSON object")
        }
        return value
    }

    private func list(_ request: APIRequest, _ r: ResourceDefinition, namespace: String?) throws(APIError) -> APIResponse {
        let q = request.query
        if q["sendInitialEvents"] != nil {
            throw APIError(code: 422, reason: "Invalid", message: "ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list")
        }
        if let c = q["continue"], !c.isEmpty, let rv = q["resourceVersion"], !rv.isEmpty {
            throw APIError.badRequest("specifying resource version is not allowed when using continue")
        }
        if let match = q["resourceVersionMatch"], !match.isEmpty, (q["resourceVersion"] ?? "").isEmpty {
            throw APIError(code: 422, reason: "Invalid", message: "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided")
        }
        let labels = try LabelSelector(parsing: q["labelSelector"] ?? "")
        let fields = try FieldSelector(parsing: q["fieldSelector"] ?? "", resource: r)
        var limit: Int?
        if let l = q["limit"], !l.isEmpty {
            guard let n = Int(l), n >= 0 else { throw APIError.badRequest("limit: Invalid value: \"\(l)\"") }
            limit = n
        }
        let result = try core.store.list(r, namespace: namespace, labels: labels, fields: fields, limit: limit, continueToken: q["continue"])
        var out: [UInt8] = []
        out.reserveCapacity(result.items.reduce(128) { $0 + $1.bytes.count + 1 })
        out.append("{\"kind\":\"\(r.listKind)\",\"apiVersion\":\"\(r.apiVersion)\",\"metadata\":{\"resourceVersion\":\"\(result.resourceVersion)\"")
        if let token = result.continueToken {
            out.append(",\"continue\":")
            JSONWriter.string(token, into: &out)
            if let remaining = result.remaining { out.append(",\"remainingItemCount\":\(remaining)") }
        }
        out.append("},\"items\":[")
        for (i, item) in result.items.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            item.writeItem(into: &out, custom: r.custom)
        }
        out.append("]}\n")
        return APIResponse(status: .ok, body: out)
    }

    static func watchRequest(_ request: APIRequest, resource r: ResourceDefinition, namespace: String?) throws(APIError) -> Store.WatchRequest {
        let q = request.query
        let labels = try LabelSelector(parsing: q["labelSelector"] ?? "")
        let fields = try FieldSelector(parsing: q["fieldSelector"] ?? "", resource: r)
        let rv = q["resourceVersion"]
        if let rv, !rv.isEmpty, rv != "0", Int64(rv) == nil {
            throw APIError.badRequest("resourceVersion: Invalid value: \"\(rv)\": must be a valid resource version")
        }
        var sendInitialEvents: Bool?
        if let s = q["sendInitialEvents"] {
            sendInitialEvents = s == "true" || s == "1"
            if sendInitialEvents == true {
                var problems: [String] = []
                if q["resourceVersionMatch"] != "NotOlderThan" {
                    problems.append("resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")
                }
                if !request.flag("allowWatchBookmarks") {
                    problems.append("allowWatchBookmarks: Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true")
                }
                if !problems.isEmpty {
                    let summary = problems.count == 1 ? problems[0] : "[" + problems.joined(separator: ", ") + "]"
                    throw APIError(code: 422, reason: "Invalid", message: "ListOptions.meta.k8s.io \"\" is invalid: \(summary)")
                }
            }
        } else if let match = q["resourceVersionMatch"], !match.isEmpty {
            throw APIError(code: 422, reason: "Invalid", message: "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided")
        }
        return Store.WatchRequest(
            resource: r, namespace: namespace, labels: labels, fields: fields, resourceVersion: rv, sendInitialEvents: sendInitialEvents,
            bookmarks: request.flag("allowWatchBookmarks"), identity: request.identity)
    }
}
