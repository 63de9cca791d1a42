import Foundation
import JSON

/// The validation the real API server applies to the kinds we serve (the parts that matter).
enum Validation {
    static let maxPayloadBytes = 1_048_576
    static let maxAnnotationBytes = 262_144

    // MARK: - names

    static func isLabel1123(_ s: Substring) -> Bool {
        guard !s.isEmpty, s.count <= 63 else { return false }
        let b = Array(s.utf8)
        func alnum(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 48 && c <= 57) }
        guard alnum(b[0]), alnum(b[b.count - 1]) else { return false }
        return b.allSatisfy { alnum($0) || $0 == 45 }
    }

    static let subdomainMessage =
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    static let label1123Message =
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    static let label1035Message =
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"

    static func isSubdomain(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 253 else { return false }
        return s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isLabel1123($0) }
    }

    static func nameProblems(_ name: String, rule: ResourceDefinition.NameRule) -> [String] {
        switch rule {
        case .dns1123Subdomain:
            var p: [String] = []
            if name.utf8.count > 253 { p.append("must be no more than 253 characters") }
            if !isSubdomain(name) { p.append(subdomainMessage) }
            return p
        case .dns1123Label:
            if name.utf8.count > 63 { return ["must be no more than 63 characters"] }
            return isLabel1123(Substring(name)) ? [] : [label1123Message]
        case .dns1035Label:
            if name.utf8.count > 63 { return ["must be no more than 63 characters"] }
            return isLabel1123(Substring(name)) && (name.first?.isLetter ?? false) ? [] : [label1035Message]
        }
    }

    // MARK: - labels

    static func isQualifiedNamePart(_ s: Substring) -> Bool {
        guard !s.isEmpty, s.count <= 63 else { return false }
        let b = Array(s.utf8)
        func alnum(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) }
        guard alnum(b[0]), alnum(b[b.count - 1]) else { return false }
        return b.allSatisfy { alnum($0) || $0 == 45 || $0 == 95 || $0 == 46 }
    }

    static func labelKeyProblem(_ key: String) -> String? {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        let name: Substring
        if parts.count == 2 {
            guard isSubdomain(String(parts[0])) else { return "prefix part " + subdomainMessage }
            name = parts[1]
        } else if parts.count == 1 {
            name = parts[0]
        } else {
            return "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        }
        if name.isEmpty { return "name part must be non-empty" }
        if name.count > 63 { return "name part must be no more than 63 characters" }
        if !isQualifiedNamePart(name) {
            return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        }
        return nil
    }

    static func labelValueProblem(_ value: String) -> String? {
        if value.isEmpty { return nil }
        if value.count > 63 { return "must be no more than 63 characters" }
        if !isQualifiedNamePart(Substring(value)) {
            return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        }
        return nil
    }

    // MARK: - object metadata

    static func metadataErrors(_ object: JSONValue, resource: ResourceDefinition) -> [APIError.FieldError] {
        var errors: [APIError.FieldError] = []
        let meta = object["metadata"]
        let name = meta?["name"]?.stringValue ?? ""
        if name.isEmpty {
            errors.append(.required("metadata.name", "name or generateName is required"))
        } else {
            for p in nameProblems(name, rule: resource.nameRule) { errors.append(.invalid("metadata.name", .string(name), p)) }
        }
        if let labels = meta?["labels"]?.stringMap {
            for (k, v) in labels.sorted(by: { $0.key < $1.key }) {
                if let p = labelKeyProblem(k) { errors.append(.invalid("metadata.labels", .string(k), p)) }
                if let p = labelValueProblem(v) { errors.append(.invalid("metadata.labels", .string(v), p)) }
            }
        }
        if let annotations = meta?["annotations"]?.stringMap {
            var total = 0
            for (k, v) in annotations {
                total += k.utf8.count + v.utf8.count
                if let p = labelKeyProblem(k.lowercased()) { errors.append(.invalid("metadata.annotations", .string(k), p)) }
            }
            if total > maxAnnotationBytes {
                errors.append(.tooLong("metadata.annotations", bytes: maxAnnotationBytes))
            }
        }
        return errors
    }

    /// Type checks a decoder would make (wrong JSON types are 400 BadRequest, not 422).
    static func decodeProblem(_ object: JSONValue, resource: ResourceDefinition) -> String? {
        guard object.isObject else { return "the object is not a JSON object" }
        if let meta = object["metadata"] {
            guard meta.isObject || meta.isNull else { return "metadata must be an object" }
            for key in ["name", "namespace", "generateName", "resourceVersion", "uid"] {
                if let v = meta[key], v.stringValue == nil, !v.isNull { return "json: cannot unmarshal \(v.goTypeName) into Go struct field ObjectMeta.metadata.\(key) of type string" }
            }
            for key in ["labels", "annotations"] {
                if let v = meta[key], !v.isNull, v.stringMap == nil {
                    return "json: cannot unmarshal \(v.goTypeName) into Go struct field ObjectMeta.metadata.\(key) of type map[string]string"
                }
            }
        }
        switch resource.kind {
        case "ConfigMap":
            if let d = object["data"], !d.isNull, d.stringMap == nil { return "json: cannot unmarshal into Go struct field ConfigMap.data of type map[string]string" }
            if let d = object["binaryData"], !d.isNull, d.stringMap == nil { return "json: cannot unmarshal into Go struct field ConfigMap.binaryData of type map[string][]uint8" }
        case "Secret":
            if let d = object["data"], !d.isNull, d.stringMap == nil { return "json: cannot unmarshal into Go struct field Secret.data of type map[string][]uint8" }
            if let d = object["stringData"], !d.isNull, d.stringMap == nil { return "json: cannot unmarshal into Go struct field Secret.stringData of type map[string]string" }
        default:
            break
        }
        return nil
    }

    // MARK: - Lease

    /// Checks MicroTime spelling (400 like the real decoder) and normalises to UTC `.000000Z`.
    static func normalizeLease(_ object: inout JSONValue) throws(APIError) {
        guard var spec = object["spec"], !spec.isNull else { return }
        guard spec.isObject else { throw APIError.badRequest("Lease in version \"v1\" cannot be handled as a Lease: spec must be an object") }
        for field in ["acquireTime", "renewTime"] {
            guard let v = spec[field], !v.isNull else { continue }
            guard case .string(let text) = v else {
                throw APIError.badRequest(
                    "Lease in version \"v1\" cannot be handled as a Lease: json: cannot unmarshal \(v.goTypeName) into Go struct field LeaseSpec.spec.\(field) of type string")
            }
            guard let date = KubeTimeFormat.parseMicro(text) else {
                throw APIError.badRequest(
                    "Lease in version \"v1\" cannot be handled as a Lease: parsing time \"\(text)\" as \"2006-01-02T15:04:05.000000Z07:00\": cannot parse \"\(text)\" as \"2006-01-02T15:04:05.000000Z07:00\"")
            }
            spec.set(field, .string(KubeTimeFormat.micro(date)))
        }
        for field in ["leaseDurationSeconds", "leaseTransitions"] {
            guard let v = spec[field], !v.isNull else { continue }
            guard let i = v.integerValue, i >= Int64(Int32.min), i <= Int64(Int32.max) else {
                throw APIError.badRequest(
                    "Lease in version \"v1\" cannot be handled as a Lease: json: cannot unmarshal \(v.goDescription) into Go struct field LeaseSpec.spec.\(field) of type int32")
            }
        }
        for field in ["holderIdentity", "strategy", "preferredHolder"] {
            if let v = spec[field], !v.isNull, v.stringValue == nil {
                throw APIError.badRequest(
                    "Lease in version \"v1\" cannot be handled as a Lease: json: cannot unmarshal \(v.goTypeName) into Go struct field LeaseSpec.spec.\(field) of type string")
            }
        }
        object.set("spec", spec)
    }

    static func leaseErrors(_ object: JSONValue) -> [APIError.FieldError] {
        var errors: [APIError.FieldError] = []
        guard let spec = object["spec"] else { return errors }
        if let d = spec["leaseDurationSeconds"]?.integerValue, d <= 0 {
            errors.append(.invalid("spec.leaseDurationSeconds", .int(d), "must be greater than 0"))
        }
        if let t = spec["leaseTransitions"]?.integerValue, t < 0 {
            errors.append(.invalid("spec.leaseTransitions", .int(t), "must be greater than or equal to 0"))
        }
        let strategy = spec["strategy"]?.stringValue ?? ""
        if let p = spec["preferredHolder"]?.stringValue, !p.isEmpty, strategy.isEmpty {
            errors.append(.forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined"))
        }
        return errors
    }

    // MARK: - ConfigMap and Secret

    static func isConfigKey(_ key: String) -> Bool {
        guard !key.isEmpty, key.utf8.count <= 253, key != ".", key != "..", !key.hasPrefix("..") else { return false }
        return key.utf8.allSatisfy { c in
            (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c == 45 || c == 46 || c == 95
        }
    }

    static let configKeyMessage =
        "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"

    static func configMapErrors(_ object: JSONValue) throws(APIError) -> [APIError.FieldError] {
        var errors: [APIError.FieldError] = []
        var total = 0
        let data = object["data"]?.stringMap ?? [:]
        let binary = object["binaryData"]?.stringMap ?? [:]
        for (k, v) in data.sorted(by: { $0.key < $1.key }) {
            if !isConfigKey(k) { errors.append(.invalid("data", .string(k), configKeyMessage)) }
            total += v.utf8.count
        }
        for (k, v) in binary.sorted(by: { $0.key < $1.key }) {
            if !isConfigKey(k) { errors.append(.invalid("binaryData", .string(k), configKeyMessage)) }
            if data[k] != nil { errors.append(.invalid("data", .string(k), "duplicate of key present in binaryData")) }
            guard let decoded = Data(base64Encoded: v) else {
                throw APIError.badRequest("ConfigMap in version \"v1\" cannot be handled as a ConfigMap: illegal base64 data at input byte 0")
            }
            total += decoded.count
        }
        if total > maxPayloadBytes { errors.append(.tooLong("[]", bytes: maxPayloadBytes)) }
        return errors
    }

    static func immutableErrors(old: JSONValue, new: JSONValue) -> [APIError.FieldError] {
        guard old["immutable"]?.boolValue == true else { return [] }
        var errors: [APIError.FieldError] = []
        if new["immutable"]?.boolValue != true { errors.append(.forbidden("immutable", "field is immutable when `immutable` is set")) }
        if old["data"] != new["data"] || old["binaryData"] != new["binaryData"] {
            errors.append(.forbidden("data", "field is immutable when `immutable` is set"))
        }
        return errors
    }

    /// Folds `stringData` into `data` as the Secret strategy does; returns validation errors.
    static func normalizeSecret(_ object: inout JSONValue) throws(APIError) -> [APIError.FieldError] {
        var data = object["data"]?.members ?? []
        if let stringData = object["stringData"]?.stringMap {
            for (k, v) in stringData.sorted(by: { $0.key < $1.key }) {
                let encoded = JSONValue.string(Data(v.utf8).base64EncodedString())
                if let i = data.firstIndex(where: { $0.key == k }) { data[i].value = encoded } else { data.append(JSONMember(k, encoded)) }
            }
            object.set("stringData", nil)
            object.set("data", .object(data))
        }
        var errors: [APIError.FieldError] = []
        var total = 0
        for m in data {
            if !isConfigKey(m.key) { errors.append(.invalid("data[\(m.key)]", .string(m.key), configKeyMessage)) }
            guard let s = m.value.stringValue, let decoded = Data(base64Encoded: s) else {
                throw APIError.badRequest("Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at input byte 0")
            }
            total += decoded.count
        }
        if total > maxPayloadBytes { errors.append(.tooLong("data", bytes: maxPayloadBytes)) }
        return errors
    }
}

extension JSONValue {
    var goTypeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "bool"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}
