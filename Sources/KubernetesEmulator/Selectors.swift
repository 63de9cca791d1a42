import JSON

/// A parsed `labelSelector` (apimachinery `labels.Parse` grammar).
struct LabelSelector: Sendable {
    enum Op: Sendable { case equals, notEquals, `in`, notIn, exists, doesNotExist, greater, less }
    struct Requirement: Sendable {
        var key: String
        var op: Op
        var values: [String]
    }
    var requirements: [Requirement] = []

    var isEmpty: Bool { requirements.isEmpty }

    init() {}

    init(parsing text: String) throws(APIError) {
        for part in Self.splitTopLevel(text) {
            let term = part.trimmingSpaces
            if term.isEmpty { continue }
            requirements.append(try Self.requirement(term))
        }
    }

    func matches(_ labels: [String: String]) -> Bool {
        for r in requirements {
            let value = labels[r.key]
            switch r.op {
            case .equals, .in: guard let value, r.values.contains(value) else { return false }
            case .notEquals, .notIn: if let value, r.values.contains(value) { return false }
            case .exists: if value == nil { return false }
            case .doesNotExist: if value != nil { return false }
            case .greater, .less:
                guard let value, let v = Int64(value), let bound = Int64(r.values.first ?? "") else { return false }
                if r.op == .greater ? !(v > bound) : !(v < bound) { return false }
            }
        }
        return true
    }

    private static func splitTopLevel(_ text: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var depth = 0
        for c in text {
            if c == "(" { depth += 1 }
            if c == ")" { depth -= 1 }
            if c == ",", depth == 0 {
                parts.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        parts.append(current)
        return parts
    }

    private static func fail(_ text: String, _ why: String) -> APIError {
        APIError.badRequest("unable to parse requirement: \(why) in \"\(text)\"")
    }

    private static func requirement(_ term: String) throws(APIError) -> Requirement {
        if term.hasPrefix("!") {
            let key = String(term.dropFirst()).trimmingSpaces
            try validateKey(key, term)
            return Requirement(key: key, op: .doesNotExist, values: [])
        }
        let chars = Array(term)
        var i = 0
        while i < chars.count, !" =!<>(".contains(chars[i]) { i += 1 }
        let key = String(chars[0..<i])
        try validateKey(key, term)
        while i < chars.count, chars[i] == " " { i += 1 }
        if i == chars.count { return Requirement(key: key, op: .exists, values: []) }
        let rest = String(chars[i...])
        func single(_ opLength: Int, _ op: Op) throws(APIError) -> Requirement {
            let value = String(rest.dropFirst(opLength)).trimmingSpaces
            try validateValue(value, term)
            if op == .greater || op == .less, Int64(value) == nil { throw fail(term, "for 'Gt', 'Lt' operators, the value must be an integer") }
            return Requirement(key: key, op: op, values: [value])
        }
        if rest.hasPrefix("==") { return try single(2, .equals) }
        if rest.hasPrefix("!=") { return try single(2, .notEquals) }
        if rest.hasPrefix("=") { return try single(1, .equals) }
        if rest.hasPrefix(">") { return try single(1, .greater) }
        if rest.hasPrefix("<") { return try single(1, .less) }
        let op: Op
        let afterOp: Substring
        if rest.hasPrefix("notin") {
            op = .notIn
            afterOp = rest.dropFirst(5)
        } else if rest.hasPrefix("in") {
            op = .in
            afterOp = rest.dropFirst(2)
        } else {
            throw fail(term, "found '\(rest)', expected: '=', '!=', '==', 'in', notin'")
        }
        let list = String(afterOp).trimmingSpaces
        guard list.hasPrefix("("), list.hasSuffix(")") else { throw fail(term, "found '\(list)', expected: '('") }
        let values = list.dropFirst().dropLast().split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingSpaces }
        for v in values { try validateValue(v, term) }
        return Requirement(key: key, op: op, values: values)
    }

    private static func validateKey(_ key: String, _ term: String) throws(APIError) {
        if let problem = Validation.labelKeyProblem(key) { throw fail(term, "invalid label key \"\(key)\": \(problem)") }
    }

    private static func validateValue(_ value: String, _ term: String) throws(APIError) {
        if let problem = Validation.labelValueProblem(value) { throw fail(term, "invalid label value: \"\(value)\": \(problem)") }
    }
}

/// A parsed `fieldSelector` (`=`, `==`, `!=`; `\` escapes).
struct FieldSelector: Sendable {
    struct Term: Sendable {
        var field: String
        var value: String
        var negated: Bool
    }
    var terms: [Term] = []

    var isEmpty: Bool { terms.isEmpty }

    init() {}

    init(parsing text: String, resource: ResourceDefinition) throws(APIError) {
        for raw in Self.splitUnescaped(text) where !raw.isEmpty {
            let chars = Array(raw)
            var found: (Int, Int, Bool)?
            var i = 0
            while i < chars.count, found == nil {
                if chars[i] == "!", i + 1 < chars.count, chars[i + 1] == "=" {
                    found = (i, 2, true)
                } else if chars[i] == "=", i + 1 < chars.count, chars[i + 1] == "=" {
                    found = (i, 2, false)
                } else if chars[i] == "=" {
                    found = (i, 1, false)
                }
                i += 1
            }
            guard let (at, length, negated) = found else {
                throw APIError.badRequest("invalid selector: '\(text)'; can't understand '\(raw)'")
            }
            let field = String(chars[0..<at])
            let value = Self.unescape(String(chars[(at + length)...]))
            guard field == "metadata.name" || field == "metadata.namespace" || resource.extraFields[field] != nil else {
                throw APIError.badRequest("field label not supported: \(field)")
            }
            terms.append(Term(field: field, value: value, negated: negated))
        }
    }

    func matches(_ object: JSONValue, resource: ResourceDefinition) -> Bool {
        for t in terms {
            let actual: String
            switch t.field {
            case "metadata.name": actual = object.at("metadata", "name")?.stringValue ?? ""
            case "metadata.namespace": actual = object.at("metadata", "namespace")?.stringValue ?? ""
            default: actual = resource.extraFields[t.field].map { $0(object) } ?? ""
            }
            if (actual == t.value) == t.negated { return false }
        }
        return true
    }

    private static func splitUnescaped(_ text: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var escaped = false
        for c in text {
            if escaped {
                current.append("\\")
                current.append(c)
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if c == "," {
                parts.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        parts.append(current)
        return parts
    }

    private static func unescape(_ s: String) -> String {
        var out = ""
        var escaped = false
        for c in s {
            if escaped {
                out.append(c)
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else {
                out.append(c)
            }
        }
        return out
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
