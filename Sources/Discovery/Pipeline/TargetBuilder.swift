import ByteStrings
public import Allocation
public import JSON
public import Relabel
public import Snapshot

/// One discovered target after the job's relabel filter: what it is (its identity), where it
/// goes (its placement key) and what is served for it (its discovered labels).
public struct ProcessedTarget: Sendable {
    /// Upstream's identity: the job and the post-relabel labels without `__meta_*` (seeded with
    /// the scrape defaults). Targets with equal identities are one target.
    public var id: TargetID
    /// The job and the scrape URL (scheme, address, metrics path, params) after relabeling:
    /// what placement hashes, so a change of an informational label moves nothing.
    public var key: UInt64
    /// The discovered (pre-relabel) labels, as the HTTP SD routes serve them.
    public var labels: Labels

    public init(id: TargetID, key: UInt64, labels: Labels) {
        self.id = id
        self.key = key
        self.labels = labels
    }

    /// Same identity, key and labels, byte for byte.
    func same(as other: ProcessedTarget) -> Bool {
        id == other.id && key == other.key && labels == other.labels  // Labels compare as bytes
    }
}

/// Turns one job's target groups into targets, the way the upstream allocator does: each
/// target's labels are its group's labels overlaid with its own (pre-relabel, as served); with
/// the `relabel-config` filter, the job's `relabel_configs` run over them (seeded with the
/// scrape defaults, as Prometheus's scrape layer does) and the targets they drop are not
/// allocated.
public struct JobTargetBuilder: Sendable {
    public let job: String
    /// Labels Prometheus sets before relabeling; used when the target's is absent or empty.
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

    /// The targets of one group that the filter keeps, in the group's order, and how many the
    /// group had before filtering.
    public func targets(of group: TargetGroup) -> (targets: [ProcessedTarget], discovered: Int) {
        var names = NameInterner()
        return targets(of: group, names: &names)
    }

    func targets(of group: TargetGroup, names: inout NameInterner) -> (targets: [ProcessedTarget], discovered: Int) {
        var result: [ProcessedTarget] = []
        result.reserveCapacity(group.targets.count)
        for own in group.targets {
            var merged = group.labels
            for (k, v) in own { merged[k] = v }
            var labels = merged.map { Label(name: names.intern($0.key), value: $0.value) }
            labels.sort { $0.name.bytesPrecede($1.name) }
            if let target = process(labels) { result.append(target) }
        }
        return (result, group.targets.count)
    }

    /// The targets of `groups`, in group order: the upstream allocator's view of a whole job.
    public func targets(_ groups: [TargetGroup]) -> (targets: [Target], dropped: Int) {
        var result: [Target] = []
        var dropped = 0
        for group in groups {
            let (kept, discovered) = targets(of: group)
            dropped += discovered - kept.count
            result += kept.map { Target(job: job, labels: $0.labels, collector: nil) }
        }
        return (result, dropped)
    }

    /// One target from its merged labels (sorted by name bytes); nil when the filter drops it.
    func process(_ labels: [Label]) -> ProcessedTarget? {
        let served = Labels(presorted: labels.map { ($0.name, $0.value) })
        guard let rules else {
            guard !labels.lazy.filter({ $0.name == "__address__" }).allSatisfy({ $0.value.isEmpty }) else { return nil }
            var builder = LabelBuilder(labels)
            for (name, value) in seeds where builder.get(name).isEmpty { builder.set(name, value) }
            // Unfiltered, the identity is the discovered labels (upstream hashes them unseeded).
            return ProcessedTarget(id: identity(labels), key: placementKey(builder), labels: served)
        }
        var builder = LabelBuilder(labels)
        for (name, value) in seeds where builder.get(name).isEmpty { builder.set(name, value) }
        guard Relabeler.process(&builder, rules: rules), !builder.get("__address__").isEmpty else { return nil }
        return ProcessedTarget(id: identity(builder.labels()), key: placementKey(builder), labels: served)
    }

    /// xxHash64 of the job, then each non-empty label but `__meta_*` (sorted by name bytes):
    /// name, 0xFF, value, 0xFF. 0xFF never occurs in UTF-8, so the encoding is unambiguous.
    func identity(_ sorted: [Label]) -> TargetID {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(512)
        bytes.append(contentsOf: job.utf8)
        bytes.append(0xFF)
        for label in sorted where !label.value.isEmpty && !label.name.utf8.starts(with: Self.meta) {
            bytes.append(contentsOf: label.name.utf8)
            bytes.append(0xFF)
            bytes.append(contentsOf: label.value.utf8)
            bytes.append(0xFF)
        }
        return TargetID(rawValue: AllocationKey.of(bytes: bytes))
    }

    private static let meta = Array("__meta_".utf8)
    private static let param = Array("__param_".utf8)

    /// The job and the scrape URL's parts after relabeling, each followed by 0xFF.
    func placementKey(_ builder: LabelBuilder) -> UInt64 {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(128)
        for part in [job, builder.get("__scheme__"), builder.get("__address__"), builder.get("__metrics_path__")] {
            bytes.append(contentsOf: part.utf8)
            bytes.append(0xFF)
        }
        for label in builder.labels() where label.name.utf8.starts(with: Self.param) {
            bytes.append(contentsOf: label.name.utf8)
            bytes.append(0xFF)
            bytes.append(contentsOf: label.value.utf8)
            bytes.append(0xFF)
        }
        return AllocationKey.of(bytes: bytes)
    }
}

