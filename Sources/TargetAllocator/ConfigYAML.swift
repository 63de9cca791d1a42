import Discovery
import JSON
import Yams

/// A config file's YAML as ordered JSON, read with the bounds go-yaml (the upstream allocator's
/// parser) applies, because the leader re-reads the file on every change: the file's size is
/// capped, aliases may not expand the document beyond go-yaml's ratio (a 600-byte alias bomb
/// would otherwise become gigabytes), the expanded document is capped in nodes and bytes, and
/// a syntax error quotes a few dozen characters around its line and column, never the line.
enum ConfigYAML {
    static let maxFileBytes = 8 << 20
    static let maxNodes = 1_000_000
    static let maxScalarBytes = 64 << 20

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static let tooLarge = Failure(description: "the file has more than \(maxFileBytes >> 20) MiB, the most a config may have")

    /// The document as JSON (YAML 1.1 scalars resolved as go-yaml does, `<<` merges applied);
    /// nil for an empty document.
    static func decode(_ text: String) throws(Failure) -> JSONValue? {
        guard text.utf8.count <= maxFileBytes else { throw tooLarge }
        try AliasedKeys.check(text)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw Failure(description: describe(error, in: text))
        }
        guard let root else { return nil }
        return try convert(root)
    }

    /// A composed node as JSON, within the same bounds.
    static func convert(_ node: Node) throws(Failure) -> JSONValue {
        var converter = Converter()
        return try converter.convert(node)
    }

    /// Yams' own descriptions embed the offending line (or, for duplicate keys, the whole file).
    private static func describe(_ error: any Error, in text: String) -> String {
        func at(_ mark: Mark, _ problem: String) -> String {
            "not valid YAML at line \(mark.line), column \(mark.column): \(ConfigText.excerpt(problem, limit: 120)) (near \"\(ConfigText.excerpt(of: text, line: mark.line, column: mark.column))\")"
        }
        switch error as? YamlError {
        case .scanner(_, let problem, let mark, _)?, .parser(_, let problem, let mark, _)?, .composer(_, let problem, let mark, _)?:
            return at(mark, problem)
        case .duplicatedKeysInMapping(let duplicates, let context)?:
            return at(context.mark, "duplicate key \(duplicates.map { "\"\(ConfigText.excerpt($0))\"" }.prefix(3).joined(separator: ", "))")
        case .reader(let problem, let offset, _, _)?:
            return "not valid YAML at byte \(offset.map(String.init) ?? "?"): \(ConfigText.excerpt(problem, limit: 120))"
        case .memory?:
            return "not valid YAML: out of memory"
        default:
            return "not valid YAML: \(ConfigText.excerpt(String(describing: error), limit: 200))"
        }
    }

    /// Walks the composed tree once, counting like go-yaml's decoder: every node decoded, and
    /// how many of them were reached through an alias.
    private struct Converter {
        var decoded = 0
        var throughAlias = 0
        var aliasDepth = 0
        var scalarBytes = 0
        /// Where each node met so far starts. Yams resolves an alias to the very node it names
        /// (and drops anchors once composed), so meeting a node's position again is an alias.
        var visited = Set<Site>()

        struct Site: Hashable {
            let kind: UInt8
            let line: Int
            let column: Int
        }

        mutating func convert(_ node: Node) throws(Failure) -> JSONValue {
            var revisit = false
            if let mark = node.mark {
                let kind: UInt8 = switch node { case .scalar: 0; case .sequence: 1; case .mapping: 2; case .alias: 3 }
                revisit = !visited.insert(Site(kind: kind, line: mark.line, column: mark.column)).inserted
            }
            if revisit {
                if aliasDepth == 0 { try count(node) }  // go-yaml decodes the alias node, then its target inside the alias
                aliasDepth += 1
            }
            defer { if revisit { aliasDepth -= 1 } }
            try count(node)
            switch node {
            case .scalar(let scalar):
                scalarBytes += scalar.string.utf8.count
                guard scalarBytes <= ConfigYAML.maxScalarBytes else {
                    throw Failure(description: "the document expands to more than \(ConfigYAML.maxScalarBytes >> 20) MiB of text")
                }
                return Self.scalar(node, scalar.string)
            case .sequence(let items):
                var out: [JSONValue] = []
                for item in items { out.append(try convert(item)) }
                return .array(out)
            case .mapping(let pairs):
                var explicit: [JSONMember] = []
                var merged: [JSONMember] = []
                for (key, value) in pairs {
                    try count(key)
                    guard case .scalar(let keyScalar) = key else {
                        throw Failure(description: "\(Self.position(key))a mapping key must be a plain value, not a list or mapping")
                    }
                    if Tag.Name(rawValue: key.tag.rawValue) == .merge {
                        merged += try merge(value)
                    } else {
                        explicit.append(JSONMember(keyScalar.string, try convert(value)))
                    }
                }
                // Keys written in the mapping win over merged ones (YAML 1.1 merge, as go-yaml).
                for member in merged where !explicit.contains(where: { $0.key.utf8.elementsEqual(member.key.utf8) }) {
                    explicit.append(member)
                }
                return .object(explicit)
            case .alias:
                throw Failure(description: "\(Self.position(node))unresolved alias")
            }
        }

        /// `<<: *base` or `<<: [*a, *b]`: the members to merge, earlier mappings first.
        private mutating func merge(_ value: Node) throws(Failure) -> [JSONMember] {
            var sources: [JSONValue] = []
            if case .sequence(let items) = value {
                for item in items { sources.append(try convert(item)) }
            } else {
                sources.append(try convert(value))
            }
            var out: [JSONMember] = []
            for source in sources {
                guard case .object(let members) = source else {
                    throw Failure(description: "\(Self.position(value))a merge (<<) needs a mapping or a list of mappings")
                }
                for member in members where !out.contains(where: { $0.key.utf8.elementsEqual(member.key.utf8) }) {
                    out.append(member)
                }
            }
            return out
        }

        private mutating func count(_ node: Node) throws(Failure) {
            decoded += 1
            if aliasDepth > 0 { throughAlias += 1 }
            if aliasDepth > 0, throughAlias > 100, decoded > 1000, Double(throughAlias) / Double(decoded) > Self.allowedAliasRatio(decoded) {
                throw Failure(description: "\(Self.position(node))the document contains excessive aliasing (as go-yaml refuses it)")
            }
            guard decoded <= ConfigYAML.maxNodes else {
                throw Failure(description: "the document expands to more than \(ConfigYAML.maxNodes) values")
            }
        }

        /// go-yaml's bound on the share of nodes decoded through aliases: 99 % up to 400,000
        /// nodes, falling linearly to 10 % at 4,000,000.
        static func allowedAliasRatio(_ decoded: Int) -> Double {
            if decoded <= 400_000 { return 0.99 }
            if decoded >= 4_000_000 { return 0.10 }
            return 0.99 - 0.89 * (Double(decoded - 400_000) / 3_600_000)
        }

        static func position(_ node: Node) -> String {
            node.mark.map { "line \($0.line), column \($0.column): " } ?? ""
        }

        /// YAML 1.1 core scalars, as go-yaml resolves an untagged plain value.
        static func scalar(_ node: Node, _ text: String) -> JSONValue {
            switch Tag.Name(rawValue: node.tag.rawValue) {
            case .null: return .null
            case .bool: return node.bool.map(JSONValue.bool) ?? .string(text)
            case .int: return node.int.map { .number(String($0)) } ?? .string(text)
            case .float:
                guard let f = node.float, f.isFinite else { return .string(text) }
                return .number(f == f.rounded() && abs(f) < 1e15 ? String(Int64(f)) : String(f))
            default: return .string(text)
            }
        }
    }

    /// Yams checks each mapping for duplicate keys by hashing the keys, and a key that is (or
    /// holds) an alias is hashed as its whole expansion: `{*bomb : x}` would take exponential
    /// time inside Yams, before any bound of ours applies. A config has no use for keys that
    /// are lists, mappings or aliases, so a document with aliases is refused if it also has
    /// such a key. A lexical scan tells, erring on the side of refusing: it does not skip
    /// quotes, comments or block scalars, as an unclosed quote in a block scalar could then hide
    /// the key that matters.
    enum AliasedKeys {
        static func check(_ text: String) throws(Failure) {
            var sawAlias = false
            var complexKey: (line: Int, column: Int)?
            var line = 1
            var lineStart = 0
            let bytes = Array(text.utf8)
            var i = 0
            func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }
            func isAnchorChar(_ b: UInt8) -> Bool {
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2D
            }
            /// Whether a `:` follows at `j` (after spaces): in a flow collection libyaml reads any
            /// `:` there as the value indicator, so the token before it is a key.
            func keyIndicator(at j: Int) -> Bool {
                var k = j
                while k < bytes.count, bytes[k] == 0x20 || bytes[k] == 0x09 { k += 1 }
                return k < bytes.count && bytes[k] == UInt8(ascii: ":")
            }
            while i < bytes.count {
                let b = bytes[i]
                let atTokenStart = i == 0 || isSpace(bytes[i - 1]) || [UInt8(ascii: "["), UInt8(ascii: "{"), UInt8(ascii: ",")].contains(bytes[i - 1])
                switch b {
                case 0x0A:
                    line += 1
                    lineStart = i + 1
                case UInt8(ascii: "*") where atTokenStart:
                    var j = i + 1
                    while j < bytes.count, isAnchorChar(bytes[j]) { j += 1 }
                    if j > i + 1 {
                        sawAlias = true
                        if keyIndicator(at: j) { complexKey = complexKey ?? (line, i - lineStart + 1) }
                    }
                case UInt8(ascii: "?") where atTokenStart && (i + 1 == bytes.count || isSpace(bytes[i + 1])):
                    complexKey = complexKey ?? (line, i - lineStart + 1)
                case UInt8(ascii: "]"), UInt8(ascii: "}"):
                    if keyIndicator(at: i + 1) { complexKey = complexKey ?? (line, i - lineStart + 1) }
                default:
                    break
                }
                i += 1
            }
            if sawAlias, let at = complexKey {
                throw Failure(
                    description:
                        "line \(at.line), column \(at.column): a document with aliases (*name) may not have keys that are aliases, lists or mappings, nor anything that reads like one (near \"\(ConfigText.excerpt(of: text, line: at.line, column: at.column))\")"
                )
            }
        }
    }
}
