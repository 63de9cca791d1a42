import JSON

/// The shape of a value in Prometheus's config model, as far as secrets go (see
/// `PrometheusSecretFields`, derived from Prometheus's structs). A list holds its elements'
/// shape: Go slices of `Secret` or of a struct are redacted element by element.
indirect enum SecretField: Sendable {
    /// A `Secret` (or `[]Secret`).
    case secret
    /// A struct: its secret-bearing fields by YAML name.
    case object([String: SecretField])
    /// A map whose every value has this shape (`ProxyHeader`, `http_headers`).
    case map(SecretField)
}

/// Replaces every value of type `Secret` in a served scrape config with `<secret>`, as upstream
/// does (`MarshalSecretValue = false`) for clients that are not mTLS-verified. Which fields
/// those are comes from the type of each field in Prometheus's config model, for the HTTP
/// client config and for every service-discovery mechanism Prometheus registers, whether or
/// not this allocator discovers with it. An `*_sd_configs` list of a mechanism Prometheus does
/// not have cannot be typed: every string and number in it is withheld (Prometheus would
/// refuse the config anyway). Empty values stay empty, as Prometheus writes an empty `Secret`.
/// Field names are looked up as Swift strings, so a canonically equivalent spelling of a
/// secret field's name is redacted too: this can only withhold more, never less.
enum SecretRedaction {
    static let placeholder = JSONValue.string("<secret>")

    /// One job's scrape config, as `/scrape_configs` serves it without secrets.
    static func redact(_ scrapeConfig: JSONValue) -> JSONValue {
        guard case .object(let members) = scrapeConfig else { return scrapeConfig }
        return .object(
            members.map { member in
                let key = member.key
                guard key.hasSuffix("_sd_configs") else { return redact(member, in: PrometheusSecretFields.scrapeConfig) }
                guard let fields = PrometheusSecretFields.serviceDiscovery[String(key.dropLast("_sd_configs".count))] else {
                    return JSONMember(key, withholdAll(member.value))
                }
                return JSONMember(key, apply(.object(fields), to: member.value))
            })
    }

    private static func redact(_ member: JSONMember, in fields: [String: SecretField]) -> JSONMember {
        guard let shape = fields[member.key] ?? fields["*"] else { return member }
        return JSONMember(member.key, apply(shape, to: member.value))
    }

    private static func apply(_ shape: SecretField, to value: JSONValue) -> JSONValue {
        if case .array(let items) = value { return .array(items.map { apply(shape, to: $0) }) }
        switch (shape, value) {
        case (.secret, .null), (.secret, .string("")):
            return value
        case (.secret, _):
            return placeholder
        case (.object(let fields), .object(let members)):
            return .object(members.map { redact($0, in: fields) })
        case (.map(let inner), .object(let members)):
            return .object(members.map { JSONMember($0.key, apply(inner, to: $0.value)) })
        default:
            return value
        }
    }

    private static func withholdAll(_ value: JSONValue) -> JSONValue {
        switch value {
        case .array(let items): .array(items.map(withholdAll))
        case .object(let members): .object(members.map { JSONMember($0.key, withholdAll($0.value)) })
        case .string(""), .null, .bool: value
        case .string, .number: placeholder
        }
    }
}
