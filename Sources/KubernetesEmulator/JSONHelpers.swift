public import JSON

extension JSONValue {
    /// Object members, or nil for other values.
    var members: [JSONMember]? {
        if case .object(let m) = self { return m }
        return nil
    }

    var isObject: Bool { members != nil }

    /// The elements, or nil for other values.
    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The value at a path of member names.
    public func at(_ path: String...) -> JSONValue? {
        var current: JSONValue? = self
        for key in path { current = current?[key] }
        return current
    }

    /// Sets (or, with nil, removes) a member; a non-object becomes an object.
    mutating func set(_ key: String, _ value: JSONValue?) {
        var m = members ?? []
        if let i = m.firstIndex(where: { $0.key == key }) {
            if let value { m[i].value = value } else { m.remove(at: i) }
        } else if let value {
            m.append(JSONMember(key, value))
        }
        self = .object(m)
    }

    /// Sets a member inside a nested object, creating intermediate objects.
    mutating func set(path: [String], _ value: JSONValue?) {
        guard let first = path.first else { return }
        if path.count == 1 {
            set(first, value)
            return
        }
        var child = self[first] ?? .object([])
        if !child.isObject { child = .object([]) }
        child.set(path: Array(path.dropFirst()), value)
        set(first, child)
    }

    /// A string map (labels, annotations, ConfigMap data), or nil if not an object of strings.
    var stringMap: [String: String]? {
        guard let m = members else { return nil }
        var out: [String: String] = [:]
        for member in m {
            guard case .string(let s) = member.value else { return nil }
            out[member.key] = s
        }
        return out
    }

    static func string(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
    static func int(_ i: Int64) -> JSONValue { .number(String(i)) }
    static func int(_ i: Int) -> JSONValue { .number(String(i)) }

    var bytes: [UInt8] {
        var out: [UInt8] = []
        write(into: &out)
        return out
    }

    /// A short rendering of a value for error messages, like Go's `%#v` of simple values.
    var goDescription: String {
        switch self {
        case .string(let s): return "\"" + s + "\""
        case .number(let n): return n
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        default: return serialized
        }
    }
}

extension Array where Element == UInt8 {
    mutating func append(_ s: String) { append(contentsOf: s.utf8) }
}
