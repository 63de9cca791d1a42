/// A relabel action. Parsed case-insensitively.
public enum RelabelAction: String, Sendable, CaseIterable {
    case replace, keep, drop, keepequal, dropequal, hashmod, labelmap, labeldrop, labelkeep, lowercase, uppercase
}

/// How label names are validated (Prometheus's `model.ValidationScheme`).
public enum LabelNameValidation: Sendable {
    /// Prometheus 3 default: any non-empty UTF-8 string.
    case utf8
    /// `[a-zA-Z_][a-zA-Z0-9_]*` (Prometheus 2).
    case legacy

    public func isValid(_ name: String) -> Bool {
        switch self {
        case .utf8:
            return !name.isEmpty
        case .legacy:
            var first = true
            for b in name.utf8 {
                let ok = b == 0x5F || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || (!first && b >= 0x30 && b <= 0x39)
                if !ok { return false }
                first = false
            }
            return !first
        }
    }

    /// Validity of a `target_label` (replace) or `replacement` (labelmap) that may contain `$` references.
    /// UTF-8: non-empty. Legacy: Prometheus's `^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$`.
    func isValidWithVariables(_ s: String) -> Bool {
        if self == .utf8 { return !s.isEmpty }
        let b = Array(s.utf8)
        func isWord(_ c: UInt8) -> Bool {
            c == 0x5F || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
        }
        if b.isEmpty { return false }
        var i = 0
        var first = true
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "$") {
                i += 1
                if i < b.count && b[i] == UInt8(ascii: "{") {
                    i += 1
                    let start = i
                    while i < b.count && isWord(b[i]) { i += 1 }
                    if i == start || i >= b.count || b[i] != UInt8(ascii: "}") { return false }
                    i += 1
                } else {
                    let start = i
                    while i < b.count && isWord(b[i]) { i += 1 }
                    if i == start { return false }
                }
            } else if isWord(c) {
                // The first element must be a letter/underscore (or a variable); digits may only follow.
                if first && c >= 0x30 && c <= 0x39 { return false }
                i += 1
            } else {
                return false
            }
            first = false
        }
        return true
    }
}

/// Dialect switches for parsing relabel rules.
public struct RelabelOptions: Sendable {
    public var nameValidation: LabelNameValidation
    /// Prometheus ≥ 2.54 wraps regexes in `(?s:…)` so `.` matches `\n`; older versions do not.
    public var dotMatchesNewline: Bool

    public init(nameValidation: LabelNameValidation = .utf8, dotMatchesNewline: Bool = true) {
        self.nameValidation = nameValidation
        self.dotMatchesNewline = dotMatchesNewline
    }

    /// Prometheus 3 (and the OpenTelemetry target allocator built on it).
    public static let prometheus3 = RelabelOptions()
    /// Prometheus 2.x before 2.54 (e.g. Debian's 2.42): legacy names, `.` does not match `\n`.
    public static let prometheus2 = RelabelOptions(nameValidation: .legacy, dotMatchesNewline: false)
}

/// A field value as it comes from YAML or JSON. Scalars are best passed as `.string` with their raw text
/// (YAML `regex: 0` is the string "0" for Prometheus); `.int` is accepted for string fields too.
public enum RelabelInput: Sendable, Equatable {
    case null
    case string(String)
    case strings([String])
    case int(Int)
}

extension RelabelInput: ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByIntegerLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: String...) { self = .strings(elements) }
    public init(integerLiteral value: Int) { self = .int(value) }
}

/// A relabel configuration error. `index` is the rule's position when known.
public struct RelabelError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var field: String
    public var index: Int?

    public init(_ message: String, field: String = "relabel_configs", index: Int? = nil) {
        self.message = message
        self.field = field
        self.index = index
    }

    public var description: String {
        if let index { return "\(field)[\(index)]: \(message)" }
        return message
    }
}

/// One relabel rule (`relabel_configs` / `metric_relabel_configs` entry), validated and with its regex compiled.
public final class RelabelConfig: Sendable {
    public static let defaultSeparator = ";"
    public static let defaultRegex = "(.*)"
    public static let defaultReplacement = "$1"

    /// nil when not given (matters for labeldrop/labelkeep validation: an explicit `[]` is an error).
    public let sourceLabels: [String]?
    public let separator: String
    public let regex: RE2Regex
    /// True when the rule did not set `regex` (Prometheus compares regexes by identity: an explicit
    /// `regex: (.*)` is not "the default" for validation or for replace's fast path).
    public let regexIsDefault: Bool
    public let modulus: UInt64
    public let targetLabel: String
    public let replacement: String
    public let action: RelabelAction
    public let nameValidation: LabelNameValidation
    /// replace's fast path applies (default regex, no `$` in target_label or replacement).
    let replaceFastPath: Bool
    let targetTemplate: ExpandTemplate
    let replacementTemplate: ExpandTemplate

    private static let compiledDefault: RE2Regex = try! RE2Regex(relabel: "(.*)")
    private static let compiledDefaultNoDotNL: RE2Regex = try! RE2Regex(relabel: "(.*)", dotMatchesNewline: false)

    /// Builds and validates a rule. A nil `regex` means "not set" (the default `(.*)`).
    public init(
        sourceLabels: [String]? = nil,
        separator: String = RelabelConfig.defaultSeparator,
        regex: String? = nil,
        modulus: UInt64 = 0,
        targetLabel: String = "",
        replacement: String = RelabelConfig.defaultReplacement,
        action: RelabelAction = .replace,
        options: RelabelOptions = .prometheus3
    ) throws(RelabelError) {
        self.sourceLabels = sourceLabels
        self.separator = separator
        if let regex {
            do {
                self.regex = try RE2Regex(relabel: regex, dotMatchesNewline: options.dotMatchesNewline)
            } catch {
                throw RelabelError(error.description)
            }
            self.regexIsDefault = false
        } else {
            self.regex = options.dotMatchesNewline ? Self.compiledDefault : Self.compiledDefaultNoDotNL
            self.regexIsDefault = true
        }
        self.modulus = modulus
        self.targetLabel = targetLabel
        self.replacement = replacement
        self.action = action
        self.nameValidation = options.nameValidation
        self.replaceFastPath = regexIsDefault && !targetLabel.utf8.contains(UInt8(ascii: "$"))
            && !replacement.utf8.contains(UInt8(ascii: "$"))
        self.targetTemplate = self.regex.compileTemplate(targetLabel)
        self.replacementTemplate = self.regex.compileTemplate(replacement)
        try validate()
    }

    /// Parses one rule from YAML/JSON fields (`source_labels`, `separator`, `regex`, `modulus`,
    /// `target_label`, `replacement`, `action`), with Prometheus's defaults and validation.
    /// Unknown fields are errors (Prometheus loads configs strictly). An explicit `null` is what
    /// Prometheus's YAML unmarshalling makes of it, the zero value, not the default: `regex: null`
    /// is the empty regex (matches only ""), `separator: null` and `replacement: null` are "",
    /// `source_labels`/`target_label`/`modulus: null` are unset, and `action: null` is an error.
    public convenience init(fields: [String: RelabelInput], options: RelabelOptions = .prometheus3) throws(RelabelError) {
        func string(_ key: String) throws(RelabelError) -> String? {
            switch fields[key] {
            case nil: return nil
            case .null: return ""
            case .string(let s): return s
            case .int(let n): return String(n)
            case .strings: throw RelabelError("field \(key): expected a string, got a list")
            }
        }
        for key in fields.keys {
            switch key {
            case "source_labels", "separator", "regex", "modulus", "target_label", "replacement", "action": break
            default: throw RelabelError("field \(key) not found in type relabel.plain")
            }
        }
        var sourceLabels: [String]? = nil
        switch fields["source_labels"] {
        case nil, .null: break
        case .strings(let xs):
            for x in xs where !options.nameValidation.isValid(x) {
                throw RelabelError("\(x.debugDescription) is not a valid label name")
            }
            sourceLabels = xs
        case .string, .int:
            throw RelabelError("field source_labels: expected a list of label names")
        }
        var modulus: UInt64 = 0
        switch fields["modulus"] {
        case nil, .null: break
        case .int(let n):
            guard n >= 0 else { throw RelabelError("field modulus: cannot unmarshal \(n) into uint64") }
            modulus = UInt64(n)
        case .string(let s):
            guard let n = UInt64(s) else { throw RelabelError("field modulus: cannot unmarshal \(s.debugDescription) into uint64") }
            modulus = n
        case .strings:
            throw RelabelError("field modulus: expected an integer, got a list")
        }
        var action = RelabelAction.replace
        if fields["action"] == .null {
            // Prometheus's unmarshalling leaves a null action empty (the default is overwritten).
            throw RelabelError("relabel action cannot be empty")
        }
        if let a = try string("action") {
            guard let parsed = RelabelAction(rawValue: CaseMapping.lower(a)) else {
                throw RelabelError("unknown relabel action \(a.debugDescription)")
            }
            action = parsed
        }
        try self.init(
            sourceLabels: sourceLabels,
            separator: try string("separator") ?? Self.defaultSeparator,
            regex: try string("regex"),
            modulus: modulus,
            targetLabel: try string("target_label") ?? "",
            replacement: try string("replacement") ?? Self.defaultReplacement,
            action: action,
            options: options)
    }

    /// Parses a list of rules; errors name the rule's position, e.g. `relabel_configs[2]: ...`.
    public static func parseList(
        _ list: [[String: RelabelInput]], field: String = "relabel_configs", options: RelabelOptions = .prometheus3
    ) throws(RelabelError) -> [RelabelConfig] {
        var out: [RelabelConfig] = []
        out.reserveCapacity(list.count)
        for (i, fields) in list.enumerated() {
            do {
                out.append(try RelabelConfig(fields: fields, options: options))
            } catch {
                var e = error
                e.field = field
                e.index = i
                throw e
            }
        }
        return out
    }

    /// Prometheus's `Config.Validate`, check for check and message for message.
    public func validate() throws(RelabelError) {
        let a = action.rawValue
        if modulus == 0 && action == .hashmod {
            throw RelabelError("relabel configuration for hashmod requires non-zero modulus")
        }
        let needsTarget: Set<RelabelAction> = [.replace, .hashmod, .lowercase, .uppercase, .keepequal, .dropequal]
        if needsTarget.contains(action) && targetLabel.isEmpty {
            throw RelabelError("relabel configuration for \(a) action requires 'target_label' value")
        }
        let targetHasVariable = targetLabel.utf8.contains(UInt8(ascii: "$"))
        if action == .replace && !targetHasVariable && !nameValidation.isValid(targetLabel) {
            throw RelabelError("\(targetLabel.debugDescription) is invalid 'target_label' for \(a) action")
        }
        if action == .replace && targetHasVariable && !nameValidation.isValidWithVariables(targetLabel) {
            throw RelabelError("\(targetLabel.debugDescription) is invalid 'target_label' for \(a) action")
        }
        let caseOrEqual: Set<RelabelAction> = [.lowercase, .uppercase, .keepequal, .dropequal]
        if caseOrEqual.contains(action) && !nameValidation.isValid(targetLabel) {
            throw RelabelError("\(targetLabel.debugDescription) is invalid 'target_label' for \(a) action")
        }
        if caseOrEqual.contains(action) && replacement != Self.defaultReplacement {
            throw RelabelError("'replacement' can not be set for \(a) action")
        }
        if action == .labelmap && !nameValidation.isValidWithVariables(replacement) {
            throw RelabelError("\(replacement.debugDescription) is invalid 'replacement' for \(a) action")
        }
        if action == .hashmod && !nameValidation.isValid(targetLabel) {
            throw RelabelError("\(targetLabel.debugDescription) is invalid 'target_label' for \(a) action")
        }
        if action == .keepequal || action == .dropequal {
            if !regexIsDefault || modulus != 0 || separator != Self.defaultSeparator
                || replacement != Self.defaultReplacement
            {
                throw RelabelError("\(a) action requires only 'source_labels' and `target_label`, and no other fields")
            }
        }
        if action == .labeldrop || action == .labelkeep {
            if sourceLabels != nil || !targetLabel.isEmpty || modulus != 0 || separator != Self.defaultSeparator
                || replacement != Self.defaultReplacement
            {
                throw RelabelError("\(a) action requires only 'regex', and no other fields")
            }
        }
    }

    /// The rule in the field naming and shape the upstream target allocator serves on `/scrape_configs`
    /// (Prometheus's marshalling, then `regex` removed from keepequal/dropequal rules). Pairs are in
    /// Prometheus's struct order; Go's JSON encoder sorts the keys of the final object alphabetically.
    /// Omitted: empty `source_labels`, an unset `regex`, zero `modulus`, empty `target_label`.
    public func renderFields() -> [(key: String, value: RelabelInput)] {
        var out: [(key: String, value: RelabelInput)] = []
        if let sourceLabels, !sourceLabels.isEmpty { out.append(("source_labels", .strings(sourceLabels))) }
        out.append(("separator", .string(separator)))
        if !regexIsDefault && action != .keepequal && action != .dropequal {
            out.append(("regex", .string(regex.pattern)))
        }
        if modulus != 0 { out.append(("modulus", .int(Int(clamping: modulus)))) }
        if !targetLabel.isEmpty { out.append(("target_label", .string(targetLabel))) }
        out.append(("replacement", .string(replacement)))
        out.append(("action", .string(action.rawValue)))
        return out
    }
}
