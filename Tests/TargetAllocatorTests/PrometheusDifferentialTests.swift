import Foundation
import JSON
import Relabel
import TestSupport
import Testing

/// Relabeling, differentially against the real Prometheus (Debian's, via `file_sd_configs` and
/// `/api/v1/targets`), on cases made by a seeded generator (change `seed` to explore; a failure
/// prints it): byte-different but canonically equivalent values (`é`/`e\u{301}`, `Å`/U+212B,
/// `;`/U+037E), case-folding pairs under `(?i)`, empty values and empty scrape defaults,
/// explicit nulls, empty addresses that relabeling fills in, and pathological regexes.
///
/// One Prometheus process holds every job. Two checks:
/// - **The allocator** (a leader and a follower against the emulator, with the same jobs) keeps
///   exactly the targets Prometheus keeps, and both replicas serve their discovered labels byte
///   for byte (the follower serves what it decoded from the snapshot ConfigMaps).
/// - **The relabel engine** turns each target's labels, as Prometheus 2.42 hands them to relabeling,
///   into Prometheus's final labels and scrape URL, and drops (or leaves without an address)
///   what Prometheus does not keep; a `fold` job checks `(?i)` on every cased character against
///   every other (Prometheus only).
///
/// Debian's Prometheus is 2.42: regexes are `^(?:…)$` (no `(?s:`), label names legacy and
/// `__param_*` always overwritten by the job's params, so the generator stays where 2.x and 3.x
/// agree (no newlines in values, ASCII target names, no per-target value for a job param). Its
/// `discoveredLabels` are unreliable (they show another stage of relabeling), so targets are
/// identified by their final `tid` label, and a target it does not keep is either dropped or
/// logged as "no address".
@Suite(.serialized) struct PrometheusDifferentialTests {
    static let seed: UInt64 = 13
    static let targetsPerJob = 60

    @Test func relabelingAgreesWithPrometheus() async throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        var generator = CaseGenerator(seed: Self.seed)
        var jobs = generator.jobs(count: 3, targetsPerJob: Self.targetsPerJob) + [CaseGenerator.foldJob()]
        for i in jobs.indices {
            jobs[i].filePath = dir.path(jobs[i].fileName)
            try write(jobs[i].filePath, jobs[i].fileSD())
        }

        let webPort = try freePort()
        try write(dir.path("prometheus.yml"), CaseGenerator.prometheusConfig(jobs))
        let prometheus = try BackgroundProcess(
            "prometheus",
            [
                "--config.file=\(dir.path("prometheus.yml"))", "--storage.tsdb.path=\(dir.path("data"))",
                "--web.listen-address=127.0.0.1:\(webPort)", "--log.level=warn",
            ], log: dir.path("prometheus.log"))
        // Stopped (and waited for) on every path before the scratch directory goes.
        do {
            let cluster = try await ClusterHarness(
                replicas: 2, collectors: 2, targets: 0, configYAML: CaseGenerator.allocatorConfig(jobs.filter(\.inAllocator)))
            do {
                try await cluster.startReplicas()
                let oracle = try await Self.prometheusTargets(port: webPort, jobs: jobs, log: dir.path("prometheus.log"))
                try checkRelabelEngine(jobs, oracle)
                try await checkAllocator(jobs.filter(\.inAllocator), oracle, cluster)
            } catch {
                await cluster.shutdown()
                throw error
            }
            await cluster.shutdown()
        } catch {
            await prometheus.stop()
            throw error
        }
        await prometheus.stop()
    }

    func write(_ path: String, _ bytes: [UInt8]) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { throw CocoaError(.fileWriteUnknown) }
    }

    // MARK: - Prometheus's view

    struct Oracle {
        /// Kept targets by tid: final labels (without `__` ones) and scrape URL.
        var active: [String: (job: String, labels: [Label], scrapeURL: String)] = [:]
        /// Targets that relabeling kept without an address ("no address" in Prometheus's log).
        var noAddress: Set<String> = []
    }

    /// What Prometheus keeps. All targets of a job are synced at once, so once every job shows
    /// some and two polls agree, all are there.
    static func prometheusTargets(port: Int, jobs: [GeneratedJob], log: String) async throws -> Oracle {
        var previous: [String: String]?
        var oracle = Oracle()
        let settled = try await eventually(timeout: 120) {
            let r = try await runTool("curl", ["-sS", "--max-time", "20", "http://127.0.0.1:\(port)/api/v1/targets?state=active"], timeout: 30)
            guard let json = try? JSONValue.parse(Array(r.stdout.utf8)), case .array(let items)? = json["data"]?["activeTargets"] else { return false }
            oracle.active = [:]
            for item in items {
                let labels = labels(item["labels"]).filter { !$0.value.isEmpty }
                guard let tid = labels.first(where: { $0.name == "tid" })?.value, let pool = item["scrapePool"]?.stringValue,
                    let url = item["scrapeUrl"]?.stringValue
                else { continue }
                oracle.active[tid] = (pool, labels, url)
            }
            let pools = oracle.active.mapValues(\.job)
            let everyJob = jobs.allSatisfy { job in pools.values.contains(job.name) }
            defer { previous = pools }
            guard everyJob, previous == pools else {
                try? await Task.sleep(for: .milliseconds(500))
                return false
            }
            return true
        }
        let logText = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        try #require(settled, "Prometheus did not keep targets of every job; log: \(logText.suffix(3000))")
        // `... msg="Creating target failed" err="instance 0 in group <file>:<index>: no address"`
        for line in logText.split(separator: "\n") where line.hasSuffix(": no address\"") {
            guard let start = line.range(of: "in group ")?.upperBound else { continue }
            let location = line[start...].dropLast(": no address\"".count)
            guard let colon = location.lastIndex(of: ":"), let index = Int(location[location.index(after: colon)...]) else { continue }
            let file = String(location[..<colon])
            if let job = jobs.first(where: { $0.filePath == file }), index < job.targets.count { oracle.noAddress.insert(job.targets[index].tid) }
        }
        return oracle
    }

    /// A JSON object of label names to values, in byte order of the names.
    static func labels(_ value: JSONValue?) -> [Label] {
        guard case .object(let members)? = value else { return [] }
        return members.compactMap { m in m.value.stringValue.map { Label(name: m.key, value: $0) } }.sorted {
            Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8))
        }
    }

    // MARK: - The relabel engine against Prometheus's results

    func checkRelabelEngine(_ jobs: [GeneratedJob], _ oracle: Oracle) throws {
        for job in jobs {
            let rules = try job.parsedRules(options: .prometheus2)
            var active = 0
            var dropped = 0
            for target in job.targets {
                let input = job.prometheus242Input(target)
                let ours = Relabeler.process(input, rules: rules)
                let context = "seed \(Self.seed), job \(job.name), \(job.describe(target.tid, oracle))"
                guard let p = oracle.active[target.tid] else {
                    dropped += 1
                    if let ours {
                        let noAddress = !ours.contains { $0.name == "__address__" } && oracle.noAddress.contains(target.tid)
                        #expect(noAddress, "Prometheus does not keep it, we keep \(ours); \(context)")
                    }
                    continue
                }
                active += 1
                guard let ours else {
                    Issue.record("Prometheus keeps it as \(p.labels), we drop it; \(context)")
                    continue
                }
                #expect(p.job == job.name)
                #expect(bytes(Self.visible(ours)) == bytes(p.labels), "final labels: ours \(Self.visible(ours)); \(context)")
                #expect(Self.scrapeURL(ours, params: job.params) == ScrapeURL(p.scrapeURL), "scrape URL; \(context)")
            }
            if job.isFold {
                #expect(active == job.targets.count, "fold: every target is active")
            } else {
                #expect(active > 0 && dropped > 0, "the generator should keep some and drop some (seed \(Self.seed), job \(job.name))")
            }
        }
    }

    /// What Prometheus's `labels` shows: no `__` labels, `instance` defaulting to the address.
    static func visible(_ labels: [Label]) -> [Label] {
        var out = labels.filter { !$0.name.hasPrefix("__") }
        if !out.contains(where: { $0.name == "instance" }), let address = labels.first(where: { $0.name == "__address__" }) {
            out.append(Label(name: "instance", value: address.value))
        }
        return out
    }

    /// A scrape URL in parts (Go's `url.URL` escapes them; the query is decoded).
    struct ScrapeURL: Equatable, CustomStringConvertible {
        var scheme: [UInt8]
        var host: [UInt8]
        var path: [UInt8]
        var query: [[UInt8]: [UInt8]]
        var description: String { "\(String(decoding: scheme, as: UTF8.self))://\(String(decoding: host, as: UTF8.self))\(String(decoding: path, as: UTF8.self)) \(query.map { (String(decoding: $0.key, as: UTF8.self), String(decoding: $0.value, as: UTF8.self)) })" }

        init(scheme: String, host: String, path: String, query: [[UInt8]: [UInt8]]) {
            (self.scheme, self.host, self.path, self.query) = (Array(scheme.utf8), Array(host.utf8), Array(path.utf8), query)
        }

        /// Parses Go's rendering: `scheme://host/path?k=v&...` with query-escaped keys and values.
        init(_ url: String) {
            let u = Array(url.utf8)
            let sep = Array("://".utf8)
            let schemeEnd = (0..<(u.count - 2)).first { Array(u[$0..<($0 + 3)]) == sep } ?? 0
            scheme = Array(u[0..<schemeEnd])
            let rest = u[(schemeEnd + 3)...]
            let pathStart = rest.firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex
            host = Array(rest[rest.startIndex..<pathStart])
            let queryStart = rest[pathStart...].firstIndex(of: UInt8(ascii: "?")) ?? rest.endIndex
            path = Array(rest[pathStart..<queryStart])
            query = [:]
            if queryStart < rest.endIndex {
                for pair in rest[(queryStart + 1)...].split(separator: UInt8(ascii: "&")) {
                    let kv = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
                    query[Self.unescape(kv[0])] = kv.count > 1 ? Self.unescape(kv[1]) : []
                }
            }
        }

        static func unescape(_ s: some Collection<UInt8>) -> [UInt8] {
            var out: [UInt8] = []
            var i = s.startIndex
            while i < s.endIndex {
                let c = s[i]
                if c == UInt8(ascii: "%"), let hi = s.index(i, offsetBy: 1, limitedBy: s.endIndex), hi < s.endIndex,
                    let lo = s.index(i, offsetBy: 2, limitedBy: s.endIndex), lo < s.endIndex,
                    let v = UInt8(String(decoding: [s[hi], s[lo]], as: UTF8.self), radix: 16)
                {
                    out.append(v)
                    i = s.index(i, offsetBy: 3)
                } else {
                    out.append(c == UInt8(ascii: "+") ? UInt8(ascii: " ") : c)
                    i = s.index(after: i)
                }
            }
            return out
        }
    }

    /// The URL Prometheus scrapes for relabeled labels: the job's params, overridden by `__param_*`.
    static func scrapeURL(_ labels: [Label], params: [(String, String)]) -> ScrapeURL {
        func get(_ name: String) -> String { labels.first { $0.name == name }?.value ?? "" }
        var query: [[UInt8]: [UInt8]] = [:]
        for (k, v) in params { query[Array(k.utf8)] = Array(v.utf8) }
        for l in labels where l.name.hasPrefix("__param_") { query[Array(l.name.dropFirst(8).utf8)] = Array(l.value.utf8) }
        return ScrapeURL(scheme: get("__scheme__"), host: get("__address__"), path: get("__metrics_path__"), query: query)
    }

    func bytes(_ labels: [Label]) -> [[UInt8]: [UInt8]] {
        Dictionary(labels.map { (Array($0.name.utf8), Array($0.value.utf8)) }, uniquingKeysWith: { _, b in b })
    }

    // MARK: - The allocator against Prometheus's results

    func checkAllocator(_ jobs: [GeneratedJob], _ oracle: Oracle, _ cluster: ClusterHarness) async throws {
        let replicas = [ClusterHarness.identity(0), ClusterHarness.identity(1)]
        /// tid → served labels (bytes), and the raw answer, for one replica and job.
        func served(_ replica: String, _ job: GeneratedJob) async -> (targets: [String: [[UInt8]: [UInt8]]], body: [UInt8])? {
            guard let answer = await cluster.get(replica, "/jobs/\(job.name)/targets"), answer.status == 200 else { return nil }
            let body = Array(answer.body.utf8)
            guard case .object(let collectors)? = try? JSONValue.parse(body) else { return nil }
            var targets: [String: [[UInt8]: [UInt8]]] = [:]
            for collector in collectors {
                guard case .array(let groups)? = collector.value["targets"] else { continue }
                for group in groups {
                    let labels = Self.labels(group["labels"])
                    guard let tid = labels.first(where: { $0.name == "tid" })?.value else { continue }
                    targets[tid] = bytes(labels)
                }
            }
            return (targets, body)
        }
        func kept(_ job: GeneratedJob) -> Set<String> {
            Set(job.targets.compactMap { t in oracle.active[t.tid] == nil ? nil : t.tid })
        }
        // Both replicas on the same snapshot, holding what Prometheus keeps (or the deadline passes).
        let agreed = await eventually(timeout: 120) {
            guard let a = await cluster.served(replicas[0]), let b = await cluster.served(replicas[1]), a == b else { return false }
            for job in jobs {
                guard let s = await served(replicas[0], job), Set(s.targets.keys) == kept(job) else { return false }
            }
            return true
        }
        let leader = cluster.leaders.first ?? "none"
        for job in jobs {
            let expected = kept(job)
            guard let first = await served(replicas[0], job), let second = await served(replicas[1], job) else {
                Issue.record("no answer for job \(job.name) from \(replicas) (agreed: \(agreed))")
                continue
            }
            #expect(first.body == second.body, "leader \(leader): both replicas serve the same bytes for job \(job.name)")
            for (replica, answer) in zip(replicas, [first, second]) {
                let role = replica == leader ? "leader" : "follower"
                let extra = Set(answer.targets.keys).subtracting(expected).sorted()
                let missing = expected.subtracting(answer.targets.keys).sorted()
                #expect(extra.isEmpty && missing.isEmpty, """
                    seed \(Self.seed), job \(job.name), \(role) \(replica): kept by us only \(extra.map { job.describe($0, oracle) }), \
                    kept by Prometheus only \(missing.map { job.describe($0, oracle) }); rules \(job.rules.map(\.serialized))
                    """)
                for (tid, labels) in answer.targets {
                    guard let target = job.targets.first(where: { $0.tid == tid }) else { continue }
                    #expect(labels == target.servedLabels(file: job.filePath), "\(role): discovered labels byte for byte, tid \(tid)")
                }
            }
        }
    }
}
