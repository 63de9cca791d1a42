public import JSON

/// One committed state of the allocator: what every replica serves.
///
/// A snapshot is immutable once built; replicas swap whole snapshots, never patch one,
/// so a request always sees a single consistent generation.
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

    /// Checks references and required labels; returns every problem with its path.
    public func problems() -> [String] {
        var problems: [String] = []
        var collectorNames = Set<String>()
        for (i, c) in collectors.enumerated() {
            if c.name.isEmpty { problems.append("collectors[\(i)].name: must not be empty") }
            if !collectorNames.insert(c.name).inserted { problems.append("collectors[\(i)].name: duplicate \"\(c.name)\"") }
        }
        var jobNames = Set<String>()
        for (i, job) in jobs.enumerated() {
            if job.name.isEmpty { problems.append("jobs[\(i)].name: must not be empty") }
            if !jobNames.insert(job.name).inserted { problems.append("jobs[\(i)].name: duplicate \"\(job.name)\"") }
            if case .object = job.scrapeConfig {} else { problems.append("jobs[\(i)].scrape_config: must be an object") }
        }
        for (i, t) in targets.enumerated() {
            if !jobNames.contains(t.job) { problems.append("targets[\(i)].job: unknown job \"\(t.job)\"") }
            if let c = t.collector, !collectorNames.contains(c) {
                problems.append("targets[\(i)].collector: unknown collector \"\(c)\"")
            }
            if (t.labels["__address__"] ?? "").isEmpty { problems.append("targets[\(i)].labels: missing __address__") }
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
}

public struct Job: Sendable, Hashable {
    public var name: String
    /// The scrape config as served by `/scrape_configs` (secrets included; the API redacts).
    public var scrapeConfig: JSONValue

    public init(name: String, scrapeConfig: JSONValue) {
        self.name = name
        self.scrapeConfig = scrapeConfig
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
}

/// A label set kept sorted by name, like Prometheus's `labels.Labels`.
public struct Labels: Sendable, Hashable, Sequence {
    public struct Label: Sendable, Hashable {
        public var name: String
        public var value: String
    }

    public private(set) var sorted: [Label]

    /// Builds a label set; on duplicate names the last value wins.
    public init(_ pairs: some Sequence<(String, String)>) {
        var byName: [String: String] = [:]
        for (k, v) in pairs { byName[k] = v }
        sorted = byName.map { Label(name: $0.key, value: $0.value) }.sorted { utf8Precedes($0.name, $1.name) }
    }

    private init(storage: [Label]) { sorted = storage }

    /// Builds from pairs already sorted by name without duplicates (as stored snapshots are),
    /// falling back to sorting when they are not.
    public init(presorted pairs: [(String, String)]) {
        var ordered = true
        for i in pairs.indices.dropFirst() where !utf8Precedes(pairs[i - 1].0, pairs[i].0) {
            ordered = false
            break
        }
        if ordered {
            self.init(storage: pairs.map { Label(name: $0.0, value: $0.1) })
        } else {
            self.init(pairs)
        }
    }

    public subscript(name: String) -> String? {
        sorted.first { $0.name == name }?.value
    }

    public var count: Int { sorted.count }

    public func makeIterator() -> IndexingIterator<[Label]> { sorted.makeIterator() }
}

/// Byte order of the UTF-8 forms (the order labels are stored in): the same answer as
/// `a.utf8.lexicographicallyPrecedes(b.utf8)` over contiguous bytes, several times faster;
/// snapshot decoding checks it for every label.
func utf8Precedes(_ a: String, _ b: String) -> Bool {
    var a = a
    var b = b
    return a.withUTF8 { x in
        b.withUTF8 { y in
            for i in 0..<min(x.count, y.count) where x[i] != y[i] { return x[i] < y[i] }
            return x.count < y.count
        }
    }
}
