import ByteStrings

/// Applies relabel rules with Prometheus's semantics (`relabel.ProcessBuilder`).
public enum Relabeler {
    /// Applies `rules` in order to `builder`. Returns false when a rule drops the label set
    /// (processing stops at the first drop; the builder is then in an unspecified state).
    public static func process(_ builder: inout LabelBuilder, rules: [RelabelConfig]) -> Bool {
        for rule in rules where !apply(rule, to: &builder) { return false }
        return true
    }

    /// Relabels `labels` (any order; empty values mean absent). Returns nil when dropped,
    /// else the resulting labels sorted by name (byte order), without empty values.
    public static func process(_ labels: [Label], rules: [RelabelConfig]) -> [Label]? {
        var b = LabelBuilder(labels)
        guard process(&b, rules: rules) else { return nil }
        return b.labels()
    }

    /// Tuple convenience.
    public static func process(
        labels: [(name: String, value: String)], rules: [RelabelConfig]
    ) -> [(name: String, value: String)]? {
        var b = LabelBuilder(labels)
        guard process(&b, rules: rules) else { return nil }
        return b.labels().map { (name: $0.name, value: $0.value) }
    }

    /// One rule. Returns false to drop.
    public static func apply(_ rule: RelabelConfig, to lb: inout LabelBuilder) -> Bool {
        let value: String
        if let sources = rule.sourceLabels, !sources.isEmpty {
            if sources.count == 1 {
                value = lb.get(sources[0])
            } else {
                var v = lb.get(sources[0])
                for name in sources.dropFirst() {
                    v += rule.separator
                    v += lb.get(name)
                }
                value = v
            }
        } else {
            value = ""
        }

        switch rule.action {
        case .drop:
            if rule.regex.matches(value) { return false }
        case .keep:
            if !rule.regex.matches(value) { return false }
        case .dropequal:
            if lb.get(rule.targetLabel).bytesEqual(value) { return false }
        case .keepequal:
            if !lb.get(rule.targetLabel).bytesEqual(value) { return false }
        case .replace:
            if value.isEmpty && rule.replaceFastPath {
                lb.set(rule.targetLabel, rule.replacement)
                break
            }
            guard let m = rule.regex.match(value) else { break }
            let target = rule.targetTemplate.expand(match: m, in: value)
            guard rule.nameValidation.isValid(target) else { break }
            let result = rule.replacementTemplate.expand(match: m, in: value)
            if result.isEmpty {
                lb.delete(target)
            } else {
                lb.set(target, result)
            }
        case .lowercase:
            lb.set(rule.targetLabel, CaseMapping.lower(value))
        case .uppercase:
            lb.set(rule.targetLabel, CaseMapping.upper(value))
        case .hashmod:
            lb.set(rule.targetLabel, String(hashmod(value, modulus: rule.modulus)))
        case .labelmap:
            let regex = rule.regex
            let snapshot = lb
            if regex.isAnchored {
                snapshot.forEach { l in
                    if let m = regex.match(l.name) {
                        lb.set(rule.replacementTemplate.expand(match: m, in: l.name), l.value)
                    }
                }
            } else {
                snapshot.forEach { l in
                    if regex.matches(l.name) {
                        lb.set(regex.replaceAll(l.name, with: rule.replacementTemplate), l.value)
                    }
                }
            }
        case .labeldrop:
            let snapshot = lb
            snapshot.forEach { l in
                if rule.regex.matches(l.name) { lb.delete(l.name) }
            }
        case .labelkeep:
            let snapshot = lb
            snapshot.forEach { l in
                if !rule.regex.matches(l.name) { lb.delete(l.name) }
            }
        }
        return true
    }

    /// `hashmod`: MD5 of the value, bytes 8..<16 as a big-endian UInt64, modulo `modulus`.
    public static func hashmod(_ value: String, modulus: UInt64) -> UInt64 {
        MD5.lastEightBytesBigEndian(value.utf8) % modulus
    }
}
