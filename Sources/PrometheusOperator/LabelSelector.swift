public import JSON

/// A Kubernetes `metav1.LabelSelector` (`matchLabels` and `matchExpressions`). An empty selector
/// matches everything; whether a *missing* selector matches nothing is up to the caller.
public struct LabelSelectorSpec: Sendable, Hashable {
    public enum Operator: String, Sendable, Hashable {
        case `in` = "In"
        case notIn = "NotIn"
        case exists = "Exists"
        case doesNotExist = "DoesNotExist"
    }

    public struct Requirement: Sendable, Hashable {
        public var key: String
        public var `operator`: Operator
        public var values: [String]

        public init(key: String, operator: Operator, values: [String] = []) {
            self.key = key
            self.operator = `operator`
            self.values = values
        }
    }

    /// Key/value pairs in the order given (matching order does not matter).
    public var matchLabels: [String: String]
    public var matchExpressions: [Requirement]

    public init(matchLabels: [String: String] = [:], matchExpressions: [Requirement] = []) {
        self.matchLabels = matchLabels
        self.matchExpressions = matchExpressions
    }

    /// The empty selector, which selects everything.
    public static let everything = LabelSelectorSpec()

    public var isEmpty: Bool { matchLabels.isEmpty && matchExpressions.isEmpty }

    /// Parses and validates a selector the way `metav1.LabelSelectorAsSelector` does. Returns nil
    /// with no problem for JSON null. Accepts the lower-case spellings (`matchlabels`) the upstream
    /// allocator's configuration loader also accepts.
    public init?(json: JSONValue) {
        guard case .ok(let s)? = Self.parse(json) else { return nil }
        self = s
    }

    enum ParseResult {
        case ok(LabelSelectorSpec)
        case invalid(String)
    }

    /// nil for JSON null.
    static func parse(_ json: JSONValue) -> ParseResult? {
        if case .null = json { return nil }
        do throws(ResourceError) {
            return .ok(try parse(Field(json, path: "")))
        } catch {
            return .invalid(error.text)
        }
    }

    static func parse(_ field: Field) throws(ResourceError) -> LabelSelectorSpec {
        guard let members = try field.object() else { return LabelSelectorSpec() }
        var spec = LabelSelectorSpec()
        for member in members {
            let child = field[member.key]
            switch member.key {
            case "matchLabels", "matchlabels":
                for (k, v) in try child.stringMap() ?? [] {
                    try validateKey(k, child)
                    try validateValue(v, child)
                    spec.matchLabels[k] = v
                }
            case "matchExpressions", "matchexpressions":
                for item in try child.array() ?? [] {
                    let key = try item["key"].string() ?? ""
                    try validateKey(key, item)
                    let opText = try item["operator"].string() ?? ""
                    guard let op = Operator(rawValue: opText) else {
                        throw item.fail("\"\(opText)\" is not a valid label selector operator")
                    }
                    let values = try item["values"].stringArray() ?? []
                    switch op {
                    case .in, .notIn:
                        if values.isEmpty { throw item.fail("for 'in', 'notin' operators, values set can't be empty") }
                    case .exists, .doesNotExist:
                        if !values.isEmpty { throw item.fail("values set must be empty for exists and does not exist") }
                    }
                    for v in values { try validateValue(v, item) }
                    spec.matchExpressions.append(Requirement(key: key, operator: op, values: values))
                }
            default:
                throw child.fail("unknown label selector field")
            }
        }
        return spec
    }

    /// Whether a set of labels satisfies every requirement.
    public func matches(_ labels: [String: String]) -> Bool {
        for (k, v) in matchLabels where labels[k] != v { return false }
        for r in matchExpressions {
            let value = labels[r.key]
            switch r.operator {
            case .in: guard let value, r.values.contains(value) else { return false }
            case .notIn: if let value, r.values.contains(value) { return false }
            case .exists: if value == nil { return false }
            case .doesNotExist: if value != nil { return false }
            }
        }
        return true
    }

    /// The string form apimachinery's `Selector.String()` produces (requirements sorted by key,
    /// `in`/`notin` values sorted): `app=x,env in (a,b),!legacy`.
    public var selectorString: String {
        var reqs: [(key: String, text: String)] = []
        for (k, v) in matchLabels { reqs.append((k, "\(k)=\(v)")) }
        for r in matchExpressions {
            let values = r.values.sorted(by: goLess).joined(separator: ",")
            switch r.operator {
            case .in: reqs.append((r.key, "\(r.key) in (\(values))"))
            case .notIn: reqs.append((r.key, "\(r.key) notin (\(values))"))
            case .exists: reqs.append((r.key, r.key))
            case .doesNotExist: reqs.append((r.key, "!\(r.key)"))
            }
        }
        return reqs.enumerated()
            .sorted { $0.element.key == $1.element.key ? $0.offset < $1.offset : goLess($0.element.key, $1.element.key) }
            .map(\.element.text).joined(separator: ",")
    }

    // MARK: validation (apimachinery qualified names and label values)

    private static func isNameChar(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x2d || c == 0x5f || c == 0x2e
    }

    private static func isAlnum(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
    }

    /// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, at most 63 bytes.
    static func isQualifiedNamePart(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard !b.isEmpty, b.count <= 63, isAlnum(b[0]), isAlnum(b[b.count - 1]) else { return false }
        return b.allSatisfy(isNameChar)
    }

    static func isDNSSubdomain(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard !b.isEmpty, b.count <= 253 else { return false }
        return s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { part in
            let p = Array(part.utf8)
            guard !p.isEmpty, isLowerAlnum(p[0]), isLowerAlnum(p[p.count - 1]) else { return false }
            return p.allSatisfy { isLowerAlnum($0) || $0 == 0x2d }
        }
    }

    private static func isLowerAlnum(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) }

    static func isValidKey(_ key: String) -> Bool {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        switch parts.count {
        case 1: return isQualifiedNamePart(key)
        case 2: return isDNSSubdomain(String(parts[0])) && isQualifiedNamePart(String(parts[1]))
        default: return false
        }
    }

    static func isValidValue(_ value: String) -> Bool { value.isEmpty || isQualifiedNamePart(value) }

    private static func validateKey(_ key: String, _ field: Field) throws(ResourceError) {
        if !isValidKey(key) { throw field.fail("invalid label key \"\(key)\"") }
    }

    private static func validateValue(_ value: String, _ field: Field) throws(ResourceError) {
        if !isValidValue(value) { throw field.fail("invalid label value \"\(value)\"") }
    }
}
