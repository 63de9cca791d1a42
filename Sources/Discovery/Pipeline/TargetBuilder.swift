public import JSON
public import Relabel
public import Snapshot

/// Turns one job's target groups into targets, the way the upstream allocator does: each
/// target's labels are its group's labels overlaid with its own (pre-relabel, as served), and
/// with the `relabel-config` filter, targets the job's `relabel_configs` drop are not allocated.
public struct JobTargetBuilder: Sendable {
    public let job: String
    /// Labels Prometheus would add before relabeling, used only when the target lacks them.
    let seeds: [(String, String)]
    let rules: [RelabelConfig]?

    /// - Parameter filter: apply the job's relabel rules (`filter_strategy: relabel-config`).
    /// - Throws: the first invalid relabel rule, with its position.
    public init(job: String, scrapeConfig: JSONValue, filter: Bool) throws(RelabelError) {
        self.job = job
        var seeds: [(String, String)] = [("job", job)]
        if let interval = scrapeConfig["scrape_interval"]?.stringValue { seeds.append(("__scrape_interval__", interval)) }
        if let timeout = scrapeConfig["scrape_timeout"]?.stringValue { seeds.append(("__scrape_timeout__", timeout)) }
        seeds.append(("__metrics_path__", scrapeConfig["metrics_path"]?.stringValue ?? "/metrics"))
        seeds.append(("__scheme__", scrapeConfig["scheme"]?.stringValue ?? "http"))
        if case .object(let params)? = scrapeConfig["params"] {
            for param in params {
                if case .array(let values) = param.value, let first = values.first?.stringValue {
                    seeds.append(("__param_\(param.key)", first))
                }
            }
        }
        self.seeds = seeds
        rules = filter ? try Self.noSharding(Self.rules(scrapeConfig["relabel_configs"])) : nil
    }

    /// prometheus-operator's rules keep only `$(SHARD)`'s share of targets, a placeholder the
    /// collector fills in. Like upstream, the allocator neutralises them by marking every target
    /// `__tmp_disable_sharding="true"` first (their keep rule then passes) and dropping the mark last.
    static func noSharding(_ rules: [RelabelConfig]) throws(RelabelError) -> [RelabelConfig] {
        [try RelabelConfig(targetLabel: "__tmp_disable_sharding", replacement: "true", action: .replace)] + rules
            + [try RelabelConfig(regex: "__tmp_disable_sharding", action: .labeldrop)]
    }

    /// Parses relabel rules given as JSON (from YAML or a generated scrape config).
    public static func rules(_ json: JSONValue?) throws(RelabelError) -> [RelabelConfig] {
        guard case .array(let items)? = json else { return [] }
        var list: [[String: RelabelInput]] = []
        for item in items {
            guard case .object(let members) = item else {
                throw RelabelError("must be a mapping", index: list.count)
            }
            var fields: [String: RelabelInput] = [:]
            for member in members {
                switch member.value {
                case .string(let s): fields[member.key] = .string(s)
                case .number(let n): fields[member.key] = Int(n).map(RelabelInput.int) ?? .string(n)
                case .array(let values): fields[member.key] = .strings(values.compactMap(\.stringValue))
                case .bool(let b): fields[member.key] = .string(b ? "true" : "false")
                case .null: fields[member.key] = .null
                case .object: throw RelabelError("\(member.key): must not be a mapping", index: list.count)
                }
            }
            list.append(fields)
        }
        return try RelabelConfig.parseList(list)
    }

    /// The targets of `groups`, in group order, without the ones the relabel rules drop.
    public func targets(_ groups: [TargetGroup]) -> (targets: [Target], dropped: Int) {
        var result: [Target] = []
        var dropped = 0
        for group in groups {
            for own in group.targets {
                var merged = group.labels
                for (k, v) in own { merged[k] = v }
                guard let address = merged["__address__"], !address.isEmpty else { continue }
                if let rules {
                    var builder = LabelBuilder(merged)
                    for (name, value) in seeds where merged[name] == nil { builder.set(name, value) }
                    if !Relabeler.process(&builder, rules: rules) {
                        dropped += 1
                        continue
                    }
                }
                result.append(Target(job: job, labels: Labels(merged.map { ($0.key, $0.value) }), collector: nil))
            }
        }
        return (result, dropped)
    }
}
