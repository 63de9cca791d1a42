public import JSON

/// An error answer of the API server, rendered as a real `metav1.Status`.
public struct APIError: Error, Sendable, CustomStringConvertible {
    public var code: Int
    public var reason: String
    public var message: String
    public var details: Details?
    /// Sent as the `Retry-After` header (and `details.retryAfterSeconds`).
    public var retryAfterSeconds: Int?

    public struct Details: Sendable {
        public var name: String?
        public var group: String?
        public var kind: String?
        public var uid: String?
        public var causes: [Cause] = []
    }

    public struct Cause: Sendable {
        public var reason: String
        public var message: String
        public var field: String
    }

    public init(code: Int, reason: String, message: String, details: Details? = nil, retryAfterSeconds: Int? = nil) {
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var description: String { "\(code) \(reason): \(message)" }

    /// The Status object, members in the order the real server writes them.
    public var status: JSONValue {
        var m: [JSONMember] = [
            JSONMember("kind", .string("Status")), JSONMember("apiVersion", .string("v1")), JSONMember("metadata", .object([])),
            JSONMember("status", .string("Failure")), JSONMember("message", .string(message)),
        ]
        if !reason.isEmpty { m.append(JSONMember("reason", .string(reason))) }
        var d: [JSONMember] = []
        if let details {
            if let name = details.name, !name.isEmpty { d.append(JSONMember("name", .string(name))) }
            if let group = details.group, !group.isEmpty { d.append(JSONMember("group", .string(group))) }
            if let kind = details.kind, !kind.isEmpty { d.append(JSONMember("kind", .string(kind))) }
            if let uid = details.uid { d.append(JSONMember("uid", .string(uid))) }
            if !details.causes.isEmpty {
                d.append(
                    JSONMember(
                        "causes",
                        .array(
                            details.causes.map {
                                .object([
                                    JSONMember("reason", .string($0.reason)), JSONMember("message", .string($0.message)),
                                    JSONMember("field", .string($0.field)),
                                ])
                            })))
            }
        }
        if let retryAfterSeconds { d.append(JSONMember("retryAfterSeconds", .int(retryAfterSeconds))) }
        if details != nil || retryAfterSeconds != nil { m.append(JSONMember("details", .object(d))) }
        m.append(JSONMember("code", .int(code)))
        return .object(m)
    }

    // MARK: - the errors of the real server

    static func details(_ r: ResourceDefinition, _ name: String) -> Details {
        Details(name: name, group: r.group, kind: r.plural)
    }

    public static func notFound(_ r: ResourceDefinition, _ name: String) -> APIError {
        APIError(code: 404, reason: "NotFound", message: "\(r.qualifiedResource) \"\(name)\" not found", details: details(r, name))
    }

    public static func alreadyExists(_ r: ResourceDefinition, _ name: String) -> APIError {
        APIError(code: 409, reason: "AlreadyExists", message: "\(r.qualifiedResource) \"\(name)\" already exists", details: details(r, name))
    }

    public static func conflict(_ r: ResourceDefinition, _ name: String, _ why: String = optimisticLock) -> APIError {
        APIError(
            code: 409, reason: "Conflict", message: "Operation cannot be fulfilled on \(r.qualifiedResource) \"\(name)\": \(why)",
            details: details(r, name))
    }

    public static let optimisticLock = "the object has been modified; please apply your changes to the latest version and try again"

    /// One field problem of an Invalid answer.
    public struct FieldError: Sendable {
        public enum Kind: String, Sendable {
            case invalid = "FieldValueInvalid", required = "FieldValueRequired", tooLong = "FieldValueTooLong"
            case forbidden = "FieldValueForbidden", notSupported = "FieldValueNotSupported", duplicate = "FieldValueDuplicate"
        }
        var kind: Kind
        var field: String
        var value: JSONValue?
        var detail: String

        static func invalid(_ field: String, _ value: JSONValue, _ detail: String) -> FieldError {
            FieldError(kind: .invalid, field: field, value: value, detail: detail)
        }
        static func required(_ field: String, _ detail: String = "") -> FieldError {
            FieldError(kind: .required, field: field, value: nil, detail: detail)
        }
        static func forbidden(_ field: String, _ detail: String) -> FieldError {
            FieldError(kind: .forbidden, field: field, value: nil, detail: detail)
        }
        static func tooLong(_ field: String, bytes: Int) -> FieldError {
            FieldError(kind: .tooLong, field: field, value: nil, detail: "may not be more than \(bytes) bytes")
        }

        /// `field.Error.ErrorBody()`.
        var body: String {
            switch kind {
            case .invalid: return "Invalid value: \(value?.goDescription ?? "null"): \(detail)"
            case .required: return detail.isEmpty ? "Required value" : "Required value: \(detail)"
            case .tooLong: return "Too long: \(detail)"
            case .forbidden: return "Forbidden: \(detail)"
            case .notSupported: return "Unsupported value: \(value?.goDescription ?? "null"): \(detail)"
            case .duplicate: return "Duplicate value: \(value?.goDescription ?? "null")"
            }
        }
    }

    public static func invalid(_ r: ResourceDefinition, _ name: String, _ errors: [FieldError]) -> APIError {
        let rendered = errors.map { "\($0.field): \($0.body)" }
        let summary = rendered.count == 1 ? rendered[0] : "[" + rendered.joined(separator: ", ") + "]"
        var d = Details(name: name, group: r.group, kind: r.kind)
        d.causes = errors.map { Cause(reason: $0.kind.rawValue, message: $0.body, field: $0.field) }
        return APIError(code: 422, reason: "Invalid", message: "\(r.qualifiedKind) \"\(name)\" is invalid: \(summary)", details: d)
    }

    public static func badRequest(_ message: String) -> APIError { APIError(code: 400, reason: "BadRequest", message: message) }

    public static func forbidden(_ r: ResourceDefinition, _ name: String, _ why: String) -> APIError {
        APIError(
            code: 403, reason: "Forbidden", message: "\(r.qualifiedResource) \"\(name)\" is forbidden: \(why)", details: details(r, name))
    }

    public static let unauthorized = APIError(code: 401, reason: "Unauthorized", message: "Unauthorized")

    public static func tooLarge(_ limit: Int) -> APIError {
        APIError(code: 413, reason: "RequestEntityTooLarge", message: "Request entity too large: limit is \(limit)")
    }

    public static func methodNotAllowed(_ method: String) -> APIError {
        APIError(code: 405, reason: "MethodNotAllowed", message: "the server does not allow this method on the requested resource")
    }

    public static func unsupportedMediaType(_ type: String, accepted: [String]) -> APIError {
        APIError(
            code: 415, reason: "UnsupportedMediaType",
            message: "the body of the request was in an unknown format - accepted media types include: " + accepted.joined(separator: ", "))
    }

    public static func expired(_ message: String) -> APIError { APIError(code: 410, reason: "Expired", message: message) }

    public static func notFoundPath() -> APIError {
        APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource", details: Details())
    }

    public static func internalError(_ message: String) -> APIError { APIError(code: 500, reason: "", message: message) }
}
