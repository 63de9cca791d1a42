import JSON

/// Why a custom resource could not be turned into a scrape config. `path` names the offending
/// field the way the CRD spells it (`endpoints[0].relabelings[1]`).
struct ResourceError: Error {
    var path: String
    var message: String

    var text: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// A read-only view of one field of a custom resource that remembers where it came from, so every
/// type error names its field.
struct Field {
    let value: JSONValue?
    let path: String

    init(_ value: JSONValue?, path: String) {
        // An explicit JSON null means "unset", as for the apiserver.
        if case .null? = value { self.value = nil } else { self.value = value }
        self.path = path
    }

    var isSet: Bool { value != nil }

    subscript(key: String) -> Field {
        Field(value?[key], path: path.isEmpty ? key : "\(path).\(key)")
    }

    func fail(_ message: String) -> ResourceError { ResourceError(path: path, message: message) }

    func string() throws(ResourceError) -> String? {
        guard let value else { return nil }
        guard case .string(let s) = value else { throw fail("expected a string") }
        return s
    }

    /// A string that must be present and non-empty.
    func requiredString() throws(ResourceError) -> String {
        guard let s = try string(), !s.isEmpty else { throw fail("required field is missing") }
        return s
    }

    func bool() throws(ResourceError) -> Bool? {
        guard let value else { return nil }
        guard case .bool(let b) = value else { throw fail("expected a boolean") }
        return b
    }

    func int() throws(ResourceError) -> Int64? {
        guard let value else { return nil }
        guard case .number(let n) = value, let i = Int64(n) else { throw fail("expected an integer") }
        return i
    }

    func object() throws(ResourceError) -> [JSONMember]? {
        guard let value else { return nil }
        guard case .object(let members) = value else { throw fail("expected an object") }
        return members
    }

    func array() throws(ResourceError) -> [Field]? {
        guard let value else { return nil }
        guard case .array(let items) = value else { throw fail("expected an array") }
        return items.enumerated().map { Field($0.element, path: "\(path)[\($0.offset)]") }
    }

    func stringArray() throws(ResourceError) -> [String]? {
        guard let items = try array() else { return nil }
        var out: [String] = []
        for item in items {
            guard let s = try item.string() else { throw item.fail("expected a string") }
            out.append(s)
        }
        return out
    }

    /// A `map[string]string`, keys sorted the way Go's YAML encoder sorts them.
    func stringMap() throws(ResourceError) -> [(String, String)]? {
        guard let members = try object() else { return nil }
        var out: [(String, String)] = []
        for m in members {
            guard case .string(let s) = m.value else { throw self[m.key].fail("expected a string") }
            out.append((m.key, s))
        }
        return out.sorted { goLess($0.0, $1.0) }
    }

    /// A `map[string][]string`, keys sorted.
    func stringListMap() throws(ResourceError) -> [(String, [String])]? {
        guard let members = try object() else { return nil }
        var out: [(String, [String])] = []
        for m in members {
            out.append((m.key, try self[m.key].stringArray() ?? []))
        }
        return out.sorted { goLess($0.0, $1.0) }
    }

    /// An `IntOrString` (Kubernetes `intstr`).
    func intOrString() throws(ResourceError) -> IntOrString? {
        guard let value else { return nil }
        switch value {
        case .string(let s): return .string(s)
        case .number(let n):
            guard let i = Int64(n) else { throw fail("expected an integer or a string") }
            return .int(i)
        default: throw fail("expected an integer or a string")
        }
    }
}

enum IntOrString: Equatable {
    case int(Int64)
    case string(String)

    /// `intstr.IntOrString.String()`.
    var text: String {
        switch self {
        case .int(let i): return String(i)
        case .string(let s): return s
        }
    }
}

/// Byte-wise string order, as Go's `sort.Strings` and `slices.Sort` use.
func goLess(_ a: String, _ b: String) -> Bool {
    a.utf8.lexicographicallyPrecedes(b.utf8)
}

/// An ordered object under construction.
struct ObjectBuilder {
    var members: [JSONMember] = []

    mutating func set(_ key: String, _ value: JSONValue) {
        members.append(JSONMember(key, value))
    }

    mutating func set(_ key: String, _ value: String) { set(key, .string(value)) }
    mutating func set(_ key: String, _ value: Bool) { set(key, .bool(value)) }
    mutating func set(_ key: String, _ value: Int64) { set(key, .number(String(value))) }
    mutating func set(_ key: String, strings: [String]) { set(key, .array(strings.map(JSONValue.string))) }

    var value: JSONValue { .object(members) }
    var isEmpty: Bool { members.isEmpty }
}

extension JSONValue {
    static func strings(_ items: [String]) -> JSONValue { .array(items.map(JSONValue.string)) }

    static func stringMap(_ pairs: [(String, String)]) -> JSONValue {
        .object(pairs.map { JSONMember($0.0, .string($0.1)) })
    }
}
