import ByteStrings
public import JSON

/// One committed state of the allocator: what every replica serves.
///
/// A snapshot is immutable once built; replicas swap whole snapshots, never patch one,
/// so a request always sees a single consistent generation.
///
/// Equality and hashing here, and in every type below, compare the UTF-8 bytes of names and
/// values (labels are bytes, as in Prometheus), never Swift's canonical equivalence: a leader
/// that took "é" and "e\u{301}" for the same value would skip a write its followers need.
public struct Snapshot: Sendable, Hashable {
    /// Fencing epoch of the leader that wrote it (grows on every leadership change).
    public var epoch: UInt64
    /// Write counter within an epoch.
    public var generation: UInt64
    /// Unix time in milliseconds when the leader built it.
    public var createdAtMillis: Int64
    /// Identity of the leader that wrote it.
    public var leader: String
    public var collectors: [Collector]
    public var jobs: [Job]
    public var targets: [Target]

    public init(
        epoch: UInt64, generation: UInt64, createdAtMillis: Int64, leader: String, collectors: [Collector], jobs: [Job],
        targets: [Target]
    ) {
        self.epoch = epoch
        self.generation = generation
        self.createdAtMillis = createdAtMillis
        self.leader = leader
        self.collectors = collectors
        self.jobs = jobs
        self.targets = targets
    }

    public static func == (a: Snapshot, b: Snapshot) -> Bool {
        a.epoch == b.epoch && a.generation == b.generation && a.createdAtMillis == b.createdAtMillis
            && a.leader.bytesEqual(b.leader) && a.collectors == b.collectors && a.jobs == b.jobs && a.targets == b.targets
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(epoch)
        hasher.combine(generation)
        hasher.combine(createdAtMillis)
        leader.hashBytes(into: &hasher)
        hasher.combine(collectors)
        hasher.combine(jobs)
        hasher.combine(targets)
    }

    /// Checks references and required labels; returns every problem with its path.
    public func problems() -> [String] {
        var problems: [String] = []
        var collectorNames = Set<ByteKey>()
        for (i, c) in collectors.enumerated() {
            if c.name.isEmpty { problems.append("collectors[\(i)].name: must not be empty") }
            if !collectorNames.insert(ByteKey(c.name)).inserted { problems.append("collectors[\(i)].name: duplicate \"\(c.name)\"") }
        }
        var jobNames = Set<ByteKey>()
        for (i, job) in jobs.enumerated() {
            if job.name.isEmpty { problems.append("jobs[\(i)].name: must not be empty") }
            if !jobNames.insert(ByteKey(job.name)).inserted { problems.append("jobs[\(i)].name: duplicate \"\(job.name)\"") }
            if case .object = job.scrapeConfig {} else { problems.append("jobs[\(i)].scrape_config: must be an object") }
        }
        for (i, t) in targets.enumerated() {
            if !jobNames.contains(ByteKey(t.job)) { problems.append("targets[\(i)].job: unknown job \"\(t.job)\"") }
            if let c = t.collector, !collectorNames.contains(ByteKey(c)) {
                problems.append("targets[\(i)].collector: unknown collector \"\(c)\"")
            }
            // Present, but possibly empty: the labels are the discovered ones, and relabeling may fill
            // in an empty address (Prometheus scrapes such a target).
            if t.labels["__address__"] == nil { problems.append("targets[\(i)].labels: missing __address__") }
        }
        return problems
    }
}

public struct Collector: Sendable, Hashable {
    /// The collector's pod name; collectors ask with it as `collector_id`.
    public var name: String
    public var node: String?

    public init(name: String, node: String? = nil) {
        self.name = name
        self.node = node
    }

    public static func == (a: Collector, b: Collector) -> Bool { a.name.bytesEqual(b.name) && optionalBytesEqual(a.node, b.node) }

    public func hash(into hasher: inout Hasher) {
        name.hashBytes(into: &hasher)
        hashOptionalBytes(node, into: &hasher)
    }
}

public struct Job: Sendable, Hashable {
    public var name: String
    /// The scrape config as served by `/scrape_configs` (secrets included; the API redacts).
    public var scrapeConfig: JSONValue

    public init(name: String, scrapeConfig: JSONValue) {
        self.name = name
        self.scrapeConfig = scrapeConfig
    }

    public static func == (a: Job, b: Job) -> Bool {
        a.name.bytesEqual(b.name) && JSONBytes.equal(a.scrapeConfig, b.scrapeConfig)
    }

    public func hash(into hasher: inout Hasher) {
        name.hashBytes(into: &hasher)
        JSONBytes.hash(scrapeConfig, into: &hasher)
    }
}

public struct Target: Sendable, Hashable {
    public var job: String
    /// The discovered, pre-relabel label set (Prometheus HTTP SD serves these).
    public var labels: Labels
    /// The collector that scrapes it; nil while no collector can take it.
    public var collector: String?

    public init(job: String, labels: Labels, collector: String?) {
        self.job = job
        self.labels = labels
        self.collector = collector
    }

    public static func == (a: Target, b: Target) -> Bool {
        a.job.bytesEqual(b.job) && a.labels == b.labels && optionalBytesEqual(a.collector, b.collector)
    }

    public func hash(into hasher: inout Hasher) {
        job.hashBytes(into: &hasher)
        hasher.combine(labels)
        hashOptionalBytes(collector, into: &hasher)
    }
}

/// A label set kept sorted by name bytes, like Prometheus's `labels.Labels`.
public struct Labels: Sendable, Hashable, Sequence {
    public struct Label: Sendable, Hashable {
        public var name: String
        public var value: String

        public static func == (a: Label, b: Label) -> Bool { a.name.bytesEqual(b.name) && a.value.bytesEqual(b.value) }

        public func hash(into hasher: inout Hasher) {
            name.hashBytes(into: &hasher)
            value.hashBytes(into: &hasher)
        }
    }

    public private(set) var sorted: [Label]

    /// Builds a label set; on duplicate names (the same bytes) the last value wins.
    public init(_ pairs: some Sequence<(String, String)>) {
        let ordered = pairs.enumerated().sorted { a, b in
            a.element.0.bytesPrecede(b.element.0) || (a.element.0.bytesEqual(b.element.0) && a.offset < b.offset)
        }
        var labels: [Label] = []
        labels.reserveCapacity(ordered.count)
        for (_, (name, value)) in ordered {
            if let last = labels.last, last.name.bytesEqual(name) {
                labels[labels.count - 1].value = value
            } else {
                labels.append(Label(name: name, value: value))
            }
        }
        sorted = labels
    }

    private init(storage: [Label]) { sorted = storage }

    /// Builds from pairs already sorted by name without duplicates (as stored snapshots are),
    /// falling back to sorting when they are not.
    public init(presorted pairs: [(String, String)]) {
        var ordered = true
        for i in pairs.indices.dropFirst() where !pairs[i - 1].0.bytesPrecede(pairs[i].0) {
            ordered = false
            break
        }
        if ordered {
            self.init(storage: pairs.map { Label(name: $0.0, value: $0.1) })
        } else {
            self.init(pairs)
        }
    }

    /// The value of the label whose name has exactly these bytes.
    public subscript(name: String) -> String? {
        var lo = 0
        var hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sorted[mid].name.bytesPrecede(name) { lo = mid + 1 } else { hi = mid }
        }
        return lo < sorted.count && sorted[lo].name.bytesEqual(name) ? sorted[lo].value : nil
    }

    public var count: Int { sorted.count }

    public func makeIterator() -> IndexingIterator<[Label]> { sorted.makeIterator() }
}

func optionalBytesEqual(_ a: String?, _ b: String?) -> Bool {
    switch (a, b) {
    case (nil, nil): true
    case (let x?, let y?): x.bytesEqual(y)
    default: false
    }
}

func hashOptionalBytes(_ s: String?, into hasher: inout Hasher) {
    hasher.combine(s != nil)
    s?.hashBytes(into: &hasher)
}

/// Byte-exact equality and hashing of JSON values (strings and member names by their bytes;
/// `JSONValue`'s own `==` uses Swift's canonical equivalence).
enum JSONBytes {
    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(let x), .number(let y)), (.string(let x), .string(let y)): return x.bytesEqual(y)
        case (.array(let xs), .array(let ys)):
            return xs.count == ys.count && zip(xs, ys).allSatisfy { equal($0, $1) }
        case (.object(let xs), .object(let ys)):
            return xs.count == ys.count && zip(xs, ys).allSatisfy { $0.key.bytesEqual($1.key) && equal($0.value, $1.value) }
        default: return false
        }
    }

    static func hash(_ value: JSONValue, into hasher: inout Hasher) {
        switch value {
        case .null: hasher.combine(0)
        case .bool(let b): hasher.combine(b ? 1 : 2)
        case .number(let n):
            hasher.combine(3)
            n.hashBytes(into: &hasher)
        case .string(let s):
            hasher.combine(4)
            s.hashBytes(into: &hasher)
        case .array(let items):
            hasher.combine(5)
            hasher.combine(items.count)
            for item in items { hash(item, into: &hasher) }
        case .object(let members):
            hasher.combine(6)
            hasher.combine(members.count)
            for m in members {
                m.key.hashBytes(into: &hasher)
                hash(m.value, into: &hasher)
            }
        }
    }
}
