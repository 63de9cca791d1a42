import ByteStrings
import HTTPServer
import NIOCore
import Snapshot
import JSON

/// Every SD answer of one snapshot, rendered once (bodies, ETags, gzip) when the
/// snapshot is installed, so serving is a lookup. Built off the event loops.
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
    let perJob: [ByteKey: HTTPResource]
    let jobs: HTTPResource
    let scrapeConfigs: HTTPResource
    let scrapeConfigsWithSecrets: HTTPResource
    /// Every job with its scrape config, for the HTML job view (small next to the targets).
    let jobList: [Job]
    /// Where each target sits in the answers above: the HTML views and the history read it.
    let index: TargetIndex
    /// The node of each collector, in `collectorLoads` order.
    let collectorNodes: [String?]

    static let emptyList = HTTPResource(status: .ok, contentType: "application/json", body: ByteBuffer(string: "[]\n"))

    init(_ snapshot: Snapshot) {
        epoch = snapshot.epoch
        generation = snapshot.generation
        createdAtMillis = snapshot.createdAtMillis
        leader = snapshot.leader
        targetCount = snapshot.targets.count
        jobCount = snapshot.jobs.count

        let jobsSorted = snapshot.jobs.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        let collectorNames = snapshot.collectors.map(\.name).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }

        // Each target is rendered once as its own HTTP SD group, then bodies are concatenations.
        var groups: [ByteKey: [ByteKey: [[UInt8]]]] = [:]  // job → collector → fragments
        var unassignedGroups: [ByteKey: [[UInt8]]] = [:]  // job → fragments, for the HTML views only
        var loads: [ByteKey: Int] = [:]
        var unassigned = 0
        for target in snapshot.targets {
            guard let collector = target.collector else {
                unassigned += 1
                unassignedGroups[ByteKey(target.job), default: []].append(Self.group(target.labels))
                continue
            }
            groups[ByteKey(target.job), default: [:]][ByteKey(collector), default: []].append(Self.group(target.labels))
            loads[ByteKey(collector), default: 0] += 1
        }
        unassignedTargets = unassigned
        collectorLoads = collectorNames.map { ($0, loads[ByteKey($0)] ?? 0) }

        var routes: [(String, HTTPResource)] = []
        var perCollector: [JobCollector: HTTPResource] = [:]
        var perJob: [ByteKey: HTTPResource] = [:]
        var jobsBody: [UInt8] = [UInt8(ascii: "{")]
        var index = TargetIndex.Builder(collectors: collectorNames, jobs: jobsSorted.map(\.name), targets: snapshot.targets.count)
        for job in jobsSorted {
            index.beginJob()
            let escaped = GoURLEscaping.queryEscape(job.name)
            let byCollector = groups[ByteKey(job.name)] ?? [:]
            var allBody: [UInt8] = [UInt8(ascii: "{")]
            for (i, collector) in collectorNames.enumerated() {
                var fragments = byCollector[ByteKey(collector)] ?? []
                fragments.sort { $0.lexicographicallyPrecedes($1) }
                let list = Self.list(fragments)
                let link = "/jobs/\(escaped)/targets?collector_id=\(GoURLEscaping.queryEscape(collector))"
                if i > 0 { allBody.append(UInt8(ascii: ",")) }
                JSONWriter.string(collector, into: &allBody)
                allBody.append(contentsOf: #":{"_link":"#.utf8)
                JSONWriter.string(link, into: &allBody)
                allBody.append(contentsOf: #","targets":"#.utf8)
                allBody.append(contentsOf: list)
                allBody.append(UInt8(ascii: "}"))
                guard !fragments.isEmpty else { continue }
                var body = list
                body.append(0x0a)
                let resource = HTTPResource(status: .ok, contentType: "application/json", body: ByteBuffer(bytes: body))
                index.add(job: job.name, collector: Int32(i), groups: fragments, body: resource.identity.body, firstOffset: 1)
                perCollector[JobCollector(job: job.name, collector: collector)] = resource
                routes.append((link, resource))
                // Collectors send the pod name unescaped; pod names need no escaping, but be exact anyway.
                let rawLink = "/jobs/\(escaped)/targets?collector_id=\(collector)"
                if rawLink != link, !collector.utf8.contains(where: { $0 == UInt8(ascii: "&") || $0 == UInt8(ascii: "#") }) {
                    routes.append((rawLink, resource))
                }
            }
            if var fragments = unassignedGroups[ByteKey(job.name)] {
                fragments.sort { $0.lexicographicallyPrecedes($1) }
                index.add(job: job.name, collector: -1, groups: fragments, body: ByteBuffer(bytes: Self.list(fragments)), firstOffset: 1)
            }
            allBody.append(contentsOf: "}\n".utf8)
            let all = HTTPResource(status: .ok, contentType: "application/json", body: ByteBuffer(bytes: allBody))
            perJob[ByteKey(job.name)] = all
            routes.append(("/jobs/\(escaped)/targets", all))
            if !byCollector.isEmpty {
                if jobsBody.count > 1 { jobsBody.append(UInt8(ascii: ",")) }
                JSONWriter.string(job.name, into: &jobsBody)
                jobsBody.append(contentsOf: #":{"_link":"#.utf8)
                JSONWriter.string("/jobs/\(escaped)/targets", into: &jobsBody)
                jobsBody.append(UInt8(ascii: "}"))
            }
        }
        jobsBody.append(contentsOf: "}\n".utf8)
        jobs = HTTPResource(status: .ok, contentType: "application/json", body: ByteBuffer(bytes: jobsBody))
        routes.append(("/jobs", jobs))

        scrapeConfigs = Self.scrapeConfigs(jobsSorted, redact: true)
        scrapeConfigsWithSecrets = Self.scrapeConfigs(jobsSorted, redact: false)
        jobList = jobsSorted
        let nodes = snapshot.collectors.map { ($0.name, $0.node) }
        collectorNodes = collectorNames.map { name in nodes.first { $0.0.utf8.elementsEqual(name.utf8) }?.1 }
        self.index = index.build()
        self.routes = RouteTable(routes)
        self.perCollector = perCollector
        self.perJob = perJob
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

    private static func list(_ fragments: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "[")]
        out.reserveCapacity(fragments.reduce(2) { $0 + $1.count + 1 })
        for (i, f) in fragments.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: f)
        }
        out.append(UInt8(ascii: "]"))
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
