import ByteStrings
import HTTPServer
import NIOCore
import Snapshot
import JSON
import NIOConcurrencyHelpers

/// Every SD answer of one served state, ready to serve: a lookup per request. Built off the
/// event loops from a `ServedState` after each change, reusing the answers of the buckets the
/// change did not touch.
///
/// A collector's answer keeps only its gzip body (collectors ask for gzip) when it is large,
/// and makes the identity body on first use; small ones are kept plain. The per-job answer over
/// every collector and the views' `TargetIndex` are made when first asked for: they are for
/// people debugging, and keeping them would double a replica's memory.
final class RenderedSnapshot: Sendable {
    /// Job and collector names are matched by their bytes: "é" and "e\u{301}" are two jobs.
    struct JobCollector: Hashable {
        let job: String
        let collector: String

        static func == (a: JobCollector, b: JobCollector) -> Bool {
            a.job.bytesEqual(b.job) && a.collector.bytesEqual(b.collector)
        }

        func hash(into hasher: inout Hasher) {
            job.hashBytes(into: &hasher)
            collector.hashBytes(into: &hasher)
        }
    }

    let epoch: UInt64
    let generation: UInt64
    let createdAtMillis: Int64
    let leader: String
    let targetCount: Int
    let jobCount: Int
    /// Collector name → number of targets it holds, sorted by name.
    let collectorLoads: [(String, Int)]
    let unassignedTargets: Int

    let routes: RouteTable
    let perCollector: [JobCollector: HTTPResource]
    let jobs: HTTPResource
    let scrapeConfigs: HTTPResource
    let scrapeConfigsWithSecrets: HTTPResource
    /// Every job with its scrape config, for the HTML job view (small next to the targets).
    let jobList: [Job]
    /// The node of each collector, in `collectorLoads` order.
    let collectorNodes: [String?]
    /// Each bucket's answer, by bucket id (nil: empty or unassigned), reused by the next rendering.
    let bucketResources: [HTTPResource?]
    let buckets: [ServedState.Bucket]
    /// Each bucket's targets as of this rendering, gzip (nil: empty), reused while unchanged.
    /// Not the state's lists: sharing them would make the next delta copy every segment of
    /// each list it changes.
    let bucketBodies: [GzipList?]
    private let madePerJob = NIOLockedValueBox<[ByteKey: HTTPResource]>([:])
    private let madeIndex = NIOLockedValueBox<TargetIndex?>(nil)

    static let emptyList = HTTPResource(status: .ok, contentType: "application/json", body: ByteBuffer(string: "[]\n"))

    /// Renders every answer of a snapshot (tests and whole installs).
    convenience init(_ snapshot: Snapshot) {
        self.init(ServedState(snapshot), reusing: nil, changed: nil, jobsChanged: true)
    }

    /// - Parameters:
    ///   - old: the rendering of the same state before `changed` (nil: render every bucket).
    ///   - changed: buckets whose lists changed since `old`.
    ///   - jobsChanged: whether the job list (and so the scrape configs) changed since `old`.
    init(_ state: ServedState, reusing old: RenderedSnapshot?, changed: Set<Int32>?, jobsChanged: Bool) {
        epoch = state.epoch
        generation = state.generation
        createdAtMillis = state.createdAtMillis
        leader = state.leader
        jobCount = state.jobs.count
        buckets = state.buckets

        var resources = old?.bucketResources ?? []
        resources += [HTTPResource?](repeating: nil, count: max(0, state.lists.count - resources.count))
        var bodies = old?.bucketBodies ?? []
        bodies += [GzipList?](repeating: nil, count: max(0, state.lists.count - bodies.count))
        for id in state.lists.indices where old == nil || changed?.contains(Int32(id)) != false || id >= (old?.bucketResources.count ?? 0) {
            let list = state.lists[id]
            let body = list.isEmpty ? nil : GzipList(gzip: list.gzipBody(), identitySize: list.identitySize)
            bodies[id] = body
            resources[id] = state.buckets[id].collector == nil ? nil : body.map { Self.resource($0, contentHash: list.contentHash) }
        }
        bucketResources = resources
        bucketBodies = bodies

        let collectorNames = state.collectors.map(\.name)
        var loads: [ByteKey: Int] = [:]
        var unassigned = 0
        var total = 0
        for (id, bucket) in state.buckets.enumerated() {
            let n = state.lists[id].count
            total += n
            if let c = bucket.collector { loads[ByteKey(c), default: 0] += n } else { unassigned += n }
        }
        targetCount = total
        unassignedTargets = unassigned
        collectorLoads = collectorNames.map { ($0, loads[ByteKey($0)] ?? 0) }
        collectorNodes = state.collectors.map(\.node)

        var byJob: [ByteKey: [Int]] = [:]
        for (id, bucket) in state.buckets.enumerated() where bucket.collector != nil && !state.lists[id].isEmpty {
            byJob[ByteKey(bucket.job), default: []].append(id)
        }
        var routes: [(String, HTTPResource)] = []
        var perCollector: [JobCollector: HTTPResource] = [:]
        var jobsBody: [UInt8] = [UInt8(ascii: "{")]
        for job in state.jobs {
            let escaped = GoURLEscaping.queryEscape(job.name)
            guard let ids = byJob[ByteKey(job.name)] else { continue }
            for id in ids {
                guard let collector = state.buckets[id].collector, let resource = resources[id] else { continue }
                let link = "/jobs/\(escaped)/targets?collector_id=\(GoURLEscaping.queryEscape(collector))"
                perCollector[JobCollector(job: job.name, collector: collector)] = resource
                routes.append((link, resource))
                // Collectors send the pod name unescaped; pod names need no escaping, but be exact anyway.
                let rawLink = "/jobs/\(escaped)/targets?collector_id=\(collector)"
                if rawLink != link, !collector.utf8.contains(where: { $0 == UInt8(ascii: "&") || $0 == UInt8(ascii: "#") }) {
                    routes.append((rawLink, resource))
                }
            }
            if jobsBody.count > 1 { jobsBody.append(UInt8(ascii: ",")) }
            JSONWriter.string(job.name, into: &jobsBody)
            jobsBody.append(contentsOf: #":{"_link":"#.utf8)
            JSONWriter.string("/jobs/\(escaped)/targets", into: &jobsBody)
            jobsBody.append(UInt8(ascii: "}"))
        }
        jobsBody.append(contentsOf: "}\n".utf8)
        jobs = HTTPResource(status: .ok, contentType: "application/json", body: ByteBuffer(bytes: jobsBody))
        routes.append(("/jobs", jobs))

        if let old, !jobsChanged {
            scrapeConfigs = old.scrapeConfigs
            scrapeConfigsWithSecrets = old.scrapeConfigsWithSecrets
        } else {
            scrapeConfigs = Self.scrapeConfigs(state.jobs, redact: true)
            scrapeConfigsWithSecrets = Self.scrapeConfigs(state.jobs, redact: false)
        }
        jobList = state.jobs
        self.routes = RouteTable(routes)
        self.perCollector = perCollector
    }

    /// A collector's answer: plain when small, else gzip with the identity made on first use.
    static func resource(_ list: GzipList, contentHash: UInt64) -> HTTPResource {
        guard list.identitySize >= 16 * 1024 else {
            return HTTPResource(status: .ok, contentType: "application/json", body: list.identity())
        }
        return HTTPResource(
            status: .ok, contentType: "application/json", gzipBody: list.gzip,
            etag: HTTPResource.strongETag(contentHash: contentHash), identity: { list.identity() })
    }

    /// `/jobs/{job}/targets` without a collector: every collector with its link and targets
    /// (upstream's shape), made on first request for this rendering; nil for an unknown job.
    func perJob(_ job: String) -> HTTPResource? {
        guard jobList.contains(where: { $0.name.bytesEqual(job) }) else { return nil }
        if let made = madePerJob.withLockedValue({ $0[ByteKey(job)] }) { return made }
        var lists: [ByteKey: GzipList] = [:]
        for (id, bucket) in buckets.enumerated() where bucket.job.bytesEqual(job) {
            if let c = bucket.collector, let body = bucketBodies[id] { lists[ByteKey(c)] = body }
        }
        let escaped = GoURLEscaping.queryEscape(job)
        var body: [UInt8] = [UInt8(ascii: "{")]
        for (i, (collector, _)) in collectorLoads.enumerated() {
            if i > 0 { body.append(UInt8(ascii: ",")) }
            JSONWriter.string(collector, into: &body)
            body.append(contentsOf: #":{"_link":"#.utf8)
            JSONWriter.string("/jobs/\(escaped)/targets?collector_id=\(GoURLEscaping.queryEscape(collector))", into: &body)
            body.append(contentsOf: #","targets":"#.utf8)
            if let list = lists[ByteKey(collector)] {
                let identity = list.identity()
                body.append(contentsOf: identity.readableBytesView.dropLast())  // without the newline
            } else {
                body.append(contentsOf: "[]".utf8)
            }
            body.append(UInt8(ascii: "}"))
        }
        body.append(contentsOf: "}\n".utf8)
        let resource = HTTPResource(status: .ok, contentType: "application/json", body: ByteBuffer(bytes: body))
        madePerJob.withLockedValue { $0[ByteKey(job)] = resource }
        return resource
    }

    /// Where each target sits, for the HTML views: made on first use (it holds every
    /// answer uncompressed while this rendering is served).
    var index: TargetIndex {
        if let made = madeIndex.withLockedValue({ $0 }) { return made }
        let collectors = collectorLoads.map(\.0)
        var builder = TargetIndex.Builder(collectors: collectors, jobs: jobList.map(\.name), targets: targetCount)
        var byBucket: [ServedState.Bucket: Int] = [:]
        for (id, bucket) in buckets.enumerated() { byBucket[bucket] = id }
        for job in jobList {
            builder.beginJob()
            for (c, collector) in (collectors.map(Optional.some) + [nil]).enumerated() {
                guard let id = byBucket[ServedState.Bucket(job: job.name, collector: collector)], let list = bucketBodies[id] else { continue }
                let body = list.identity()
                let groups = GzipList.groups(of: body)
                builder.add(job: job.name, collector: collector == nil ? -1 : Int32(c), groups: groups, body: body, firstOffset: 1)
            }
        }
        let index = builder.build()
        madeIndex.withLockedValue { $0 = index }
        return index
    }

    /// `{"targets":["<address>"],"labels":{…}}`: upstream serves every target as its own group.
    static func group(_ labels: Labels) -> [UInt8] {
        var out: [UInt8] = []
        out.append(contentsOf: #"{"targets":["#.utf8)
        JSONWriter.string(labels["__address__"] ?? "", into: &out)
        out.append(contentsOf: #"],"labels":{"#.utf8)
        for (i, label) in labels.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONWriter.string(label.name, into: &out)
            out.append(UInt8(ascii: ":"))
            JSONWriter.string(label.value, into: &out)
        }
        out.append(contentsOf: "}}".utf8)
        return out
    }

    private static func scrapeConfigs(_ jobs: [Job], redact: Bool) -> HTTPResource {
        var out: [UInt8] = [UInt8(ascii: "{")]
        for (i, job) in jobs.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONWriter.string(job.name, into: &out)
            out.append(UInt8(ascii: ":"))
            (redact ? SecretRedaction.redact(job.scrapeConfig) : job.scrapeConfig).write(into: &out)
        }
        out.append(contentsOf: "}\n".utf8)
        return HTTPResource(status: .ok, contentType: "application/json", body: ByteBuffer(bytes: out))
    }
}

/// One list's gzip answer (header, `[`, the groups, `]\n`, trailer, as `SegmentedList`
/// writes it), kept by a rendering; the identity body and the groups are made from it when
/// asked for.
struct GzipList: Sendable {
    let gzip: ByteBuffer
    let identitySize: Int

    /// The uncompressed answer: the deflate stream between the 10-byte header and the trailer.
    func identity() -> ByteBuffer {
        let stream = Array(gzip.readableBytesView.dropFirst(10).dropLast(8))
        return ByteBuffer(bytes: SegmentedList.inflateRaw(stream, size: identitySize))
    }

    /// The groups of an identity answer (`[{…},{…}]` and a newline), by their bytes: commas
    /// outside strings at the array's own depth separate them.
    static func groups(of body: ByteBuffer) -> [[UInt8]] {
        var groups: [[UInt8]] = []
        body.withUnsafeReadableBytes { bytes in
            var depth = 0
            var inString = false
            var escaped = false
            var start = 1
            for i in bytes.indices {
                let b = bytes[i]
                if inString {
                    if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
                    continue
                }
                switch b {
                case UInt8(ascii: "\""): inString = true
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0, i > start { groups.append(Array(bytes[start..<i])) }
                case UInt8(ascii: ",") where depth == 1:
                    groups.append(Array(bytes[start..<i]))
                    start = i + 1
                default: break
                }
            }
        }
        return groups
    }
}
