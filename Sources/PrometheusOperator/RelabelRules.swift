public import JSON

/// Validates one relabel rule in Prometheus form (the object that goes into `relabel_configs`:
/// `source_labels`, `separator`, `target_label`, `regex`, `modulus`, `replacement`, `action`).
/// Returns a message when the rule is invalid. This is where the `Relabel` module's full
/// validation (RE2 semantics) plugs in; when none is given, the generator compiles the anchored
/// regex with Swift `Regex` instead.
public typealias RelabelRuleValidator = @Sendable (_ rule: JSONValue) -> String?

/// The relabel actions the CRDs accept (their enum lists both spellings).
let knownRelabelActions: Set<String> = [
    "replace", "Replace", "keep", "Keep", "drop", "Drop", "hashmod", "HashMod", "labelmap", "LabelMap",
    "labeldrop", "LabelDrop", "labelkeep", "LabelKeep", "lowercase", "Lowercase", "uppercase", "Uppercase",
    "keepequal", "KeepEqual", "dropequal", "DropEqual",
]

/// Converts and checks a list of CR `RelabelConfig`s (camelCase) the way prometheus-operator's
/// `LabelConfigValidator` does, and renders them like its `generateRelabelConfig`.
struct RelabelRules {
    let validator: RelabelRuleValidator?

    func convert(_ field: Field) throws(ResourceError) -> [JSONValue] {
        guard let items = try field.array() else { return [] }
        var out: [JSONValue] = []
        for item in items {
            out.append(try convertOne(item))
        }
        return out
    }

    private func convertOne(_ item: Field) throws(ResourceError) -> JSONValue {
        guard try item.object() != nil else { throw item.fail("expected an object") }
        let sourceLabels = try item["sourceLabels"].stringArray() ?? []
        let separator = try item["separator"].string()
        let targetLabel = try item["targetLabel"].string() ?? ""
        let regex = try item["regex"].string() ?? ""
        let modulus = try item["modulus"].int() ?? 0
        let replacement = try item["replacement"].string()
        let actionText = try item["action"].string() ?? ""

        if !actionText.isEmpty, !knownRelabelActions.contains(actionText) {
            throw item.fail("unknown action \"\(actionText)\"")
        }
        let action = actionText.isEmpty ? "replace" : actionText.lowercased()

        if action == "hashmod", modulus == 0 {
            throw item.fail("relabel configuration for hashmod requires non-zero modulus")
        }
        if ["replace", "hashmod", "lowercase", "uppercase", "keepequal", "dropequal"].contains(action), targetLabel.isEmpty {
            throw item.fail("relabel configuration for \(action) action needs targetLabel value")
        }
        if ["lowercase", "uppercase", "keepequal", "dropequal"].contains(action), let replacement, replacement != "$1" {
            throw item.fail("'replacement' can not be set for \(action) action")
        }
        if action == "labelmap", let replacement, replacement.isEmpty {
            throw item.fail("\"\" is invalid 'replacement' for labelmap action")
        }
        if action == "keepequal" || action == "dropequal" {
            if (!regex.isEmpty && regex != "(.*)") || (modulus != 0) || (separator != nil && separator != ";") {
                throw item.fail("\(action) action requires only 'source_labels' and `target_label`, and no other fields")
            }
        }
        if action == "labeldrop" || action == "labelkeep" {
            if !sourceLabels.isEmpty || !targetLabel.isEmpty || modulus != 0 || (separator != nil && separator != ";")
                || (replacement != nil && replacement != "$1")
            {
                throw item.fail("\(action) action requires only 'regex', and no other fields")
            }
        }

        var o = ObjectBuilder()
        if !sourceLabels.isEmpty { o.set("source_labels", strings: sourceLabels) }
        if let separator { o.set("separator", separator) }
        if !targetLabel.isEmpty { o.set("target_label", targetLabel) }
        if !regex.isEmpty { o.set("regex", regex) }
        if modulus != 0 { o.set("modulus", modulus) }
        if let replacement { o.set("replacement", replacement) }
        if !actionText.isEmpty { o.set("action", action) }
        let rule = o.value

        if let validator {
            if let problem = validator(rule) { throw item.fail(problem) }
        } else if !regex.isEmpty, !Self.regexCompiles(regex) {
            throw item.fail("invalid regex \(regex) for relabel configuration")
        }
        return rule
    }

    /// The light check used until the `Relabel` module's validator is wired in: the regex, anchored
    /// the way Prometheus anchors it, must compile.
    static func regexCompiles(_ regex: String) -> Bool {
        (try? Regex("^(?:" + regex + ")$")) != nil
    }
}
