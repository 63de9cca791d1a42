import JSON
import Yams

/// Why a target-group document (a file SD file or an HTTP SD response) was rejected.
public struct TargetGroupDocumentError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The document format shared by file SD and HTTP SD: a list of `{targets: [...], labels: {...}}`.
/// Unknown keys in a group, `null` groups, non-string targets or label values and invalid
/// label names are rejected, as Prometheus's strict decoding does.
public enum TargetGroupDocument {
    /// Parses a JSON document. Each group's source is `<sourcePrefix>:<index>` and each group
    /// gets `extraLabel` (`__meta_filepath` or `__meta_url`).
    public static func parseJSON(
        _ bytes: some Collection<UInt8>, sourcePrefix: String, extraLabel: (name: String, value: String)
    ) throws(TargetGroupDocumentError) -> [TargetGroup] {
        let value: JSONValue
        do { value = try JSONValue.parse(bytes) } catch { throw TargetGroupDocumentError(error.description) }
        return try groups(value, sourcePrefix: sourcePrefix, extraLabel: extraLabel)
    }

    /// Parses a YAML document (scalars read as their text, as Go's YAML decoder fills strings).
    public static func parseYAML(
        _ text: String, sourcePrefix: String, extraLabel: (name: String, value: String)
    ) throws(TargetGroupDocumentError) -> [TargetGroup] {
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch { throw TargetGroupDocumentError("invalid YAML: \(error)") }
        guard let node else { return [] }  // an empty file holds no groups
        return try groups(json(node), sourcePrefix: sourcePrefix, extraLabel: extraLabel)
    }

    static func groups(_ value: JSONValue, sourcePrefix: String, extraLabel: (name: String, value: String)) throws(TargetGroupDocumentError) -> [TargetGroup] {
        let items: [JSONValue]
        switch value {
        case .null: return []
        case .array(let list): items = list
        default: throw TargetGroupDocumentError("expected a list of target groups")
        }
        var result: [TargetGroup] = []
        result.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            guard case .object(let members) = item else {
                throw TargetGroupDocumentError(item == .null ? "nil target group item found" : "target group \(i): must be a mapping")
            }
            var group = TargetGroup(source: "\(sourcePrefix):\(i)")
            for member in members {
                switch member.key {
                case "targets":
                    switch member.value {
                    case .null: break
                    case .array(let targets):
                        for target in targets {
                            guard let address = target.stringValue else {
                                throw TargetGroupDocumentError("target group \(i): targets must be strings")
                            }
                            group.targets.append(["__address__": address])
                        }
                    default: throw TargetGroupDocumentError("target group \(i): targets must be a list")
                    }
                case "labels":
                    switch member.value {
                    case .null: break
                    case .object(let labels):
                        for label in labels {
                            guard let text = label.value.stringValue else {
                                throw TargetGroupDocumentError("target group \(i): label \(label.key) must be a string")
                            }
                            guard !label.key.isEmpty else { throw TargetGroupDocumentError("target group \(i): \"\" is not a valid label name") }
                            group.labels[label.key] = text
                        }
                    default: throw TargetGroupDocumentError("target group \(i): labels must be a mapping")
                    }
                default:
                    throw TargetGroupDocumentError("target group \(i): unknown field \"\(member.key)\"")
                }
            }
            group.labels[extraLabel.name] = extraLabel.value
            result.append(group)
        }
        return result
    }

    /// YAML → JSON keeping scalars as their text (null stays null).
    static func json(_ node: Node) -> JSONValue {
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain, Tag.Name(rawValue: node.tag.rawValue) == .null { return .null }
            return .string(scalar.string)
        case .mapping(let mapping):
            return .object(mapping.map { JSONMember($0.key.string ?? "", json($0.value)) })
        case .sequence(let items):
            return .array(items.map(json))
        case .alias:
            return .null
        }
    }
}
