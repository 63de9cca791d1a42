import JSON

/// PATCH bodies: JSON merge patch (RFC 7386), a strategic merge patch good for what kubectl
/// apply sends, and JSON patch (RFC 6902).
enum Patch {
    static func merge(_ target: JSONValue, _ patch: JSONValue) -> JSONValue {
        guard let patchMembers = patch.members else { return patch }
        var result = target.isObject ? target : .object([])
        for m in patchMembers {
            if m.value.isNull {
                result.set(m.key, nil)
            } else {
                result.set(m.key, merge(result[m.key] ?? .null, m.value))
            }
        }
        return result
    }

    /// Merge keys of lists that strategic merge patch merges by element (Go struct tags).
    static func mergeKey(field: String, items: [JSONValue]) -> String? {
        switch field {
        case "containers", "initContainers", "ephemeralContainers", "env", "volumes", "imagePullSecrets", "hostAliases", "readinessGates":
            return field == "hostAliases" ? "ip" : (field == "readinessGates" ? "conditionType" : "name")
        case "volumeMounts": return "mountPath"
        case "conditions": return "type"
        case "ports":
            return items.contains { $0["containerPort"] != nil } ? "containerPort" : "port"
        default: return nil
        }
    }

    static func strategic(_ target: JSONValue, _ patch: JSONValue) throws(APIError) -> JSONValue {
        guard let patchMembers = patch.members else { return patch }
        if patch["$patch"]?.stringValue == "replace" {
            return .object(patchMembers.filter { $0.key != "$patch" })
        }
        if patch["$patch"]?.stringValue == "delete" { return .null }
        var result = target.isObject ? target : .object([])
        for m in patchMembers {
            if m.key.hasPrefix("$setElementOrder/") || m.key == "$retainKeys" || m.key == "$patch" { continue }
            if m.key.hasPrefix("$deleteFromPrimitiveList/") {
                let field = String(m.key.dropFirst("$deleteFromPrimitiveList/".count))
                let remove = m.value.arrayValue ?? []
                if let current = result[field]?.arrayValue { result.set(field, .array(current.filter { !remove.contains($0) })) }
                continue
            }
            if m.value.isNull {
                result.set(m.key, nil)
                continue
            }
            if case .array(let patchItems) = m.value, case .array(let currentItems)? = result[m.key],
                let key = mergeKey(field: m.key, items: patchItems + currentItems),
                patchItems.allSatisfy({ $0.isObject })
            {
                var merged = currentItems
                for item in patchItems {
                    let id = item[key]
                    let index = merged.firstIndex { $0[key] == id }
                    if item["$patch"]?.stringValue == "delete" {
                        if let index { merged.remove(at: index) }
                    } else if let index {
                        merged[index] = try strategic(merged[index], item)
                    } else {
                        merged.append(try strategic(.object([]), item))
                    }
                }
                result.set(m.key, .array(merged))
                continue
            }
            if m.value.isObject {
                let merged = try strategic(result[m.key] ?? .null, m.value)
                result.set(m.key, merged.isNull ? nil : merged)
            } else {
                result.set(m.key, m.value)
            }
        }
        return result
    }

    static func json(_ target: JSONValue, _ operations: JSONValue) throws(APIError) -> JSONValue {
        guard let ops = operations.arrayValue else { throw APIError.badRequest("json patch must be an array of operations") }
        var doc = target
        for op in ops {
            guard let name = op["op"]?.stringValue, let path = op["path"]?.stringValue else {
                throw APIError.badRequest("json patch operation needs \"op\" and \"path\"")
            }
            let pointer = try parsePointer(path)
            switch name {
            case "add": doc = try apply(doc, pointer, .add(try value(op)))
            case "replace": doc = try apply(doc, pointer, .replace(try value(op)))
            case "remove": doc = try apply(doc, pointer, .remove)
            case "test":
                guard try get(doc, pointer) == (try value(op)) else { throw APIError(code: 422, reason: "Invalid", message: "testing value \(path) failed") }
            case "move", "copy":
                guard let from = op["from"]?.stringValue else { throw APIError.badRequest("json patch \(name) needs \"from\"") }
                let fromPointer = try parsePointer(from)
                let v = try get(doc, fromPointer)
                if name == "move" { doc = try apply(doc, fromPointer, .remove) }
                doc = try apply(doc, pointer, .add(v))
            default:
                throw APIError.badRequest("unexpected json patch operation \"\(name)\"")
            }
        }
        return doc
    }

    private enum Edit { case add(JSONValue), replace(JSONValue), remove }

    private static func value(_ op: JSONValue) throws(APIError) -> JSONValue {
        guard let v = op["value"] else { throw APIError.badRequest("json patch operation needs \"value\"") }
        return v
    }

    private static func parsePointer(_ path: String) throws(APIError) -> [String] {
        if path.isEmpty { return [] }
        guard path.hasPrefix("/") else { throw APIError.badRequest("invalid json pointer \"\(path)\"") }
        return path.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    private static func get(_ doc: JSONValue, _ pointer: [String]) throws(APIError) -> JSONValue {
        var current = doc
        for token in pointer {
            if let items = current.arrayValue, let i = Int(token), items.indices.contains(i) {
                current = items[i]
            } else if let v = current[token] {
                current = v
            } else {
                throw APIError(code: 422, reason: "Invalid", message: "doc is missing path: \"/\(pointer.joined(separator: "/"))\"")
            }
        }
        return current
    }

    private static func apply(_ doc: JSONValue, _ pointer: [String], _ edit: Edit) throws(APIError) -> JSONValue {
        guard let token = pointer.first else {
            switch edit {
            case .add(let v), .replace(let v): return v
            case .remove: return .null
            }
        }
        let rest = Array(pointer.dropFirst())
        if case .array(var items) = doc {
            if rest.isEmpty {
                switch edit {
                case .add(let v):
                    if token == "-" { items.append(v) } else if let i = Int(token), i >= 0, i <= items.count { items.insert(v, at: i) } else { throw missing(pointer) }
                case .replace(let v):
                    guard let i = Int(token), items.indices.contains(i) else { throw missing(pointer) }
                    items[i] = v
                case .remove:
                    guard let i = Int(token), items.indices.contains(i) else { throw missing(pointer) }
                    items.remove(at: i)
                }
            } else {
                guard let i = Int(token), items.indices.contains(i) else { throw missing(pointer) }
                items[i] = try apply(items[i], rest, edit)
            }
            return .array(items)
        }
        guard doc.isObject else { throw missing(pointer) }
        var object = doc
        if rest.isEmpty {
            switch edit {
            case .add(let v): object.set(token, v)
            case .replace(let v):
                guard object[token] != nil else { throw missing(pointer) }
                object.set(token, v)
            case .remove:
                guard object[token] != nil else { throw missing(pointer) }
                object.set(token, nil)
            }
        } else {
            guard let child = object[token] else { throw missing(pointer) }
            object.set(token, try apply(child, rest, edit))
        }
        return object
    }

    private static func missing(_ pointer: [String]) -> APIError {
        APIError(code: 422, reason: "Invalid", message: "doc is missing path: \"/\(pointer.joined(separator: "/"))\": missing value")
    }
}
