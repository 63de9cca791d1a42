import JSON

/// The record types `dns_sd_configs` can ask for.
public enum DNSRecordType: String, Sendable, Hashable, CaseIterable {
    case srv = "SRV"
    case a = "A"
    case aaaa = "AAAA"
    case mx = "MX"
    case ns = "NS"

    /// The RR type number on the wire.
    var code: Int32 {
        switch self {
        case .a: 1
        case .ns: 2
        case .mx: 15
        case .aaaa: 28
        case .srv: 33
        }
    }
}

/// One `dns_sd_configs` entry, as Prometheus's `discovery/dns` reads it: names to look up,
/// every `refresh_interval` (default 30 s), for one record type (default SRV); `port` is
/// required for every type but SRV, whose records carry their own.
public struct DNSSDConfig: Sendable, Hashable {
    public var names: [String]
    public var type: DNSRecordType
    public var port: Int
    public var refreshInterval: Duration

    public init(names: [String], type: DNSRecordType = .srv, port: Int = 0, refreshInterval: Duration = .seconds(30)) {
        self.names = names
        self.type = type
        self.port = port
        self.refreshInterval = refreshInterval
    }
}

extension ScrapeConfigModel {
    /// Parses one entry with Prometheus's defaults and checks (`SDConfig.UnmarshalYAML`), and
    /// the form upstream serves it back in: `names`, `refresh_interval`, `type` as given and
    /// `port` (0 when unset).
    static func dnsSD(_ entry: JSONValue, path: String, problems: inout [String]) -> (config: DNSSDConfig, served: JSONValue)? {
        guard case .object(let members) = entry else {
            problems.append("\(path): must be a mapping")
            return nil
        }
        let start = problems.count
        var config = DNSSDConfig(names: [])
        var typeText = "SRV"
        for member in members {
            let at = "\(path).\(member.key)"
            switch member.key {
            case "names":
                guard let items = list(member.value, at, &problems) else { continue }
                for (n, item) in items.enumerated() {
                    guard let name = item.scalarString else {
                        problems.append("\(at)[\(n)]: must be a string")
                        continue
                    }
                    config.names.append(name)
                }
            case "refresh_interval":
                if member.value != .null, let ms = duration(member.value, at, &problems), ms != 0 {
                    config.refreshInterval = .milliseconds(ms)
                }
            case "type":
                guard member.value != .null else { continue }
                guard let text = member.value.stringValue else {
                    problems.append("\(at): must be a string")
                    continue
                }
                typeText = text
            case "port":
                guard member.value != .null else { continue }
                guard case .number(let n) = member.value, let port = Int(n) else {
                    problems.append("\(at): must be an integer")
                    continue
                }
                config.port = port
            default:
                problems.append("\(at): unknown field in dns_sd_config")
            }
        }
        guard problems.count == start else { return nil }
        if config.names.isEmpty {
            problems.append("\(path).names: DNS-SD config must contain at least one SRV record name")
            return nil
        }
        guard let type = DNSRecordType(rawValue: typeText.uppercased()) else {
            problems.append("\(path).type: invalid DNS-SD records type \(typeText)")
            return nil
        }
        if type != .srv, config.port == 0 {
            problems.append("\(path).port: a port is required in DNS-SD configs for all record types except SRV")
            return nil
        }
        config.type = type
        let served: JSONValue = .object([
            JSONMember("names", .array(config.names.map(JSONValue.string))),
            JSONMember("port", .number(String(config.port))),
            JSONMember("refresh_interval", .string(ScrapeDuration.format(config.refreshInterval))),
            JSONMember("type", .string(typeText)),
        ])
        return (config, served)
    }
}
