import Discovery
import JSON

/// Typed reads of config values by path, collecting problems (refuse the file) and warnings
/// (report, keep going). Upstream decodes with mapstructure, so: a `null` keeps the default, a
/// value of the wrong type is an error, and an unknown key is ignored, which we report as a
/// warning (a newer operator writes keys an older allocator does not know).
struct ConfigReader {
    var problems: [String] = []
    var warnings: [String] = []

    mutating func problem(_ path: String, _ text: String) { problems.append(ConfigText.bounded("\(path): \(text)")) }
    mutating func warning(_ path: String, _ text: String) { warnings.append(ConfigText.bounded("\(path): \(text)")) }

    mutating func unknown(_ path: String) { warning(path, "unknown key, ignored") }

    /// The members of a mapping; nil (nothing to read) for null, a problem for anything else.
    mutating func members(_ value: JSONValue, _ path: String) -> [JSONMember]? {
        switch value {
        case .object(let members): return members
        case .null: return nil
        default:
            problem(path, "must be a mapping")
            return nil
        }
    }

    mutating func string(_ value: JSONValue, _ path: String) -> String? {
        switch value {
        case .string(let s): return s
        case .null: return nil
        default:
            problem(path, "must be a string, not \(ConfigText.excerpt(value.serialized))")
            return nil
        }
    }

    mutating func bool(_ value: JSONValue, _ path: String) -> Bool? {
        switch value {
        case .bool(let b): return b
        case .null: return nil
        default:
            problem(path, "must be true or false, not \(ConfigText.excerpt(value.serialized))")
            return nil
        }
    }

    mutating func strings(_ value: JSONValue, _ path: String) -> [String]? {
        switch value {
        case .null: return nil
        case .array(let items):
            var out: [String] = []
            for (i, item) in items.enumerated() {
                guard let s = item.stringValue else {
                    problem("\(path)[\(i)]", "must be a string")
                    return nil
                }
                out.append(s)
            }
            return out
        default:
            problem(path, "must be a list of strings")
            return nil
        }
    }

    /// A Go `time.Duration`: a string in Go's syntax, or (as mapstructure decodes a number into
    /// one) an integer count of nanoseconds.
    mutating func goDuration(_ value: JSONValue, _ path: String) -> Duration? {
        switch value {
        case .null: return nil
        case .number(let text):
            guard let ns = Int64(text) else {
                problem(path, "\(ConfigText.excerpt(text)) is not a whole number of nanoseconds; write a duration such as 30s")
                return nil
            }
            return .nanoseconds(ns)
        case .string(let text):
            do {
                return try GoDuration.parse(text)
            } catch {
                problem(path, "\"\(ConfigText.excerpt(text))\": \(error)")
                return nil
            }
        default:
            problem(path, "must be a duration such as 30s, 2.5s or 1h30m")
            return nil
        }
    }

    /// A duration that must be greater than zero.
    mutating func positiveGoDuration(_ value: JSONValue, _ path: String) -> Duration? {
        guard let d = goDuration(value, path) else { return nil }
        guard d > .zero else {
            problem(path, "must be greater than zero")
            return nil
        }
        return d
    }

    /// `metav1.LabelSelector`, in both spellings upstream accepts (`matchLabels` wins over
    /// `matchlabels`, `matchExpressions` over `matchexpressions`).
    mutating func selector(_ value: JSONValue, _ path: String) -> AllocatorConfig.LabelSelector? {
        guard let members = members(value, path) else { return nil }
        var selector = AllocatorConfig.LabelSelector()
        var labels: (camel: [AllocatorConfig.LabelSelector.Label]?, lower: [AllocatorConfig.LabelSelector.Label]?)
        var expressions: (camel: [AllocatorConfig.LabelSelector.Expression]?, lower: [AllocatorConfig.LabelSelector.Expression]?)
        for member in members {
            let at = "\(path).\(member.key)"
            switch member.key {
            case "matchLabels", "matchlabels":
                guard let pairs = self.members(member.value, at) else { continue }
                var read: [AllocatorConfig.LabelSelector.Label] = []
                for pair in pairs {
                    guard let v = string(pair.value, "\(at).\(pair.key)") else { continue }
                    read.removeAll { $0.name.utf8.elementsEqual(pair.key.utf8) }  // a later duplicate wins, as in a Go map
                    read.append(.init(name: pair.key, value: v))
                }
                if member.key == "matchLabels" { labels.camel = read } else { labels.lower = read }
            case "matchExpressions", "matchexpressions":
                guard case .array(let items) = member.value else {
                    if member.value != .null { problem(at, "must be a list") }
                    continue
                }
                var read: [AllocatorConfig.LabelSelector.Expression] = []
                for (i, item) in items.enumerated() {
                    let key = item["key"]?.stringValue ?? ""
                    let op = item["operator"]?.stringValue ?? ""
                    guard !key.isEmpty, ["In", "NotIn", "Exists", "DoesNotExist"].contains(op) else {
                        problem("\(at)[\(i)]", "needs a key and an operator In, NotIn, Exists or DoesNotExist")
                        continue
                    }
                    read.append(.init(key: key, operator: op, values: strings(item["values"] ?? .null, "\(at)[\(i)].values") ?? []))
                }
                if member.key == "matchExpressions" { expressions.camel = read } else { expressions.lower = read }
            default:
                unknown(at)
            }
        }
        selector.matchLabels = labels.camel ?? labels.lower ?? []
        selector.matchExpressions = expressions.camel ?? expressions.lower ?? []
        return selector
    }
}
