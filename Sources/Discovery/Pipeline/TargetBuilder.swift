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

    /// The same, sharing names (and their order) with the other groups given `names`.
    public func targets(of group: TargetGroup, names: inout NameInterner) -> (targets: [ProcessedTarget], discovered: Int) {
        var result: [ProcessedTarget] = []
        result.reserveCapacity(group.targets.count)
        // The group's labels are sorted once and overlaid with each target's own by one merge:
        // no dictionary copied and rehashed per target, and names compared as bytes throughout.
        let shared = Self.sorted(group.labels, names: &names)
        for own in group.targets {
            let labels = Self.overlay(shared, Self.sorted(own, names: &names))
            if let target = process(labels) { result.append(target) }
        }
        return (result, group.targets.count)
    }

    /// A label dictionary as labels sorted by name bytes, names shared through `names` and
    /// ordered by their ranks there (integers, not bytes, compared while sorting).
    static func sorted(_ labels: [String: String], names: inout NameInterner) -> [Label] {
        var ranked: [(rank: UInt64, label: Label)] = []
        ranked.reserveCapacity(labels.count)
        for (name, value) in labels {
            let (shared, rank) = names.intern(name)
            ranked.append((rank, Label(name: shared, value: value)))
        }
        // Names in a dictionary are unique, so the ranks are too.
        ranked.withUnsafeMutableBufferPointer { p in
            if p.count <= 48 {
                var j = 1
                while j < p.count {
                    var k = j
                    while k > 0 && p[k].rank < p[k - 1].rank {
                        p.swapAt(k, k - 1)
                        k -= 1
                    }
                    j += 1
                }
            } else {
                p.sort { $0.rank < $1.rank }
            }
        }
        return ranked.map(\.label)
    }

    /// `shared` overlaid with `own` (each sorted by name bytes, names unique): one linear merge,
    /// `own`'s value winning on a name both have, as Prometheus merges a group's labels into
    /// its targets'.
    static func overlay(_ shared: [Label], _ own: [Label]) -> [Label] {
        if own.isEmpty { return shared }
        if shared.isEmpty { return own }
        var out: [Label] = []
        out.reserveCapacity(shared.count + own.count)
        shared.withUnsafeBufferPointer { s in
            own.withUnsafeBufferPointer { o in
                var i = 0
                var j = 0
                while i < s.count && j < o.count {
                    let c = s[i].name.bytesCompare(o[j].name)
                    if c < 0 {
                        out.append(s[i])
                        i += 1
                    } else {
                        out.append(o[j])
                        j += 1
                        if c == 0 { i += 1 }
                    }
                }
                out.append(contentsOf: s[i...])
                out.append(contentsOf: o[j...])
            }
        }
        return out
    }

    /// The targets of `groups`, in group order: the upstream allocator's view of a whole job.
    public func targets(_ groups: [TargetGroup]) -> (targets: [Target], dropped: Int) {
        var result: [Target] = []
        var dropped = 0
        var names = NameInterner()
        for group in groups {
            let (kept, discovered) = targets(of: group, names: &names)
            dropped += discovered - kept.count
            result += kept.map { Target(job: job, labels: $0.labels, collector: nil) }
        }
        return (result, dropped)
    }

    /// One target from its merged labels (sorted by name bytes, names unique); nil when the
    /// filter drops it.
    func process(_ labels: [Label]) -> ProcessedTarget? {
        let served = Labels(presorted: labels.map { ($0.name, $0.value) })
        var builder = LabelBuilder(sortedUnique: labels)
        for (name, value) in seeds where builder.get(name).isEmpty { builder.set(name, value) }
        guard let rules else {
            guard !Self.value(labels, "__address__").isEmpty else { return nil }
            // Unfiltered, the identity is the discovered labels (upstream hashes them unseeded).
            return ProcessedTarget(id: identity(labels), key: placementKey(builder.labels()), labels: served)
        }
        guard Relabeler.process(&builder, rules: rules), !builder.get("__address__").isEmpty else { return nil }
        let relabeled = builder.labels()
        return ProcessedTarget(id: identity(relabeled), key: placementKey(relabeled), labels: served)
    }

    /// xxHash64 of the job, then each non-empty label but `__meta_*` (sorted by name bytes):
    /// name, 0xFF, value, 0xFF. 0xFF never occurs in UTF-8, so the encoding is unambiguous.
    func identity(_ sorted: [Label]) -> TargetID {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(512)
        bytes.append(contentsOf: job.utf8)
        bytes.append(0xFF)
        for label in sorted where !label.value.isEmpty && !label.name.bytesHavePrefix("__meta_") {
            bytes.append(contentsOf: label.name.utf8)
            bytes.append(0xFF)
            bytes.append(contentsOf: label.value.utf8)
            bytes.append(0xFF)
        }
        return TargetID(rawValue: AllocationKey.of(bytes: bytes))
    }

    /// The job and the scrape URL's parts after relabeling (`labels` sorted by name bytes),
    /// each followed by 0xFF.
    func placementKey(_ labels: [Label]) -> UInt64 {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(128)
        for part in [job, Self.value(labels, "__scheme__"), Self.value(labels, "__address__"), Self.value(labels, "__metrics_path__")] {
            bytes.append(contentsOf: part.utf8)
            bytes.append(0xFF)
        }
        for label in labels where label.name.bytesHavePrefix("__param_") {
            bytes.append(contentsOf: label.name.utf8)
            bytes.append(0xFF)
            bytes.append(contentsOf: label.value.utf8)
            bytes.append(0xFF)
        }
        return AllocationKey.of(bytes: bytes)
    }

    /// The value of `name` in labels sorted by name bytes, or "" when absent.
    static func value(_ labels: [Label], _ name: String) -> String {
        labels.sortedIndex(of: name).map { labels[$0].value } ?? ""
    }
}
