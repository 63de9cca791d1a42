import Allocation
import JSON
import NIOConcurrencyHelpers
import NIOCore
import Prometheus
import Snapshot
import Testing

@testable import HTTPServer
@testable import ServiceDiscoveryAPI

/// The HTML views (issue 16): what a browser gets, escaping of hostile labels, the upstream
/// `/debug/...` routes, search, paging, and the `/` page's history.
@Suite struct OperatorViewsTests {
    struct Page {
        let status: Int
        let body: String
        let contentType: String?
        let headers: String
        /// Whether the body holds these exact bytes (no Unicode equivalence).
        func has(_ text: String) -> Bool { Array(body.utf8).firstRange(of: Array(text.utf8)) != nil }
    }

    static func get(_ r: ServiceDiscoveryResponder, _ target: String, html: Bool = true) -> Page {
        let resource = Array(target.utf8).withUnsafeBytes {
            r.respond(
                to: HTTPRequest(
                    target: $0, version: .http1_1, connection: ConnectionInfo(isTLS: false, clientCertificateVerified: false), acceptsHTML: html))
        }.identity
        let head = String(decoding: resource.h1Headers, as: UTF8.self)
        let type = head.split(separator: "\r\n").first { $0.hasPrefix("Content-Type: ") }.map { String($0.dropFirst(14)) }
        return Page(status: resource.status.code, body: String(buffer: resource.body), contentType: type, headers: head)
    }

    static func responder(_ snapshot: Snapshot = JSONAnswersGoldenTests.snapshot(), leader: @escaping @Sendable () -> (String?, Bool) = { ("ta-0", false) })
        -> ServiceDiscoveryResponder
    {
        let r = ServiceDiscoveryResponder(
            options: .init(identity: "ta-<1>", allocation: AllocationDescription(strategy: "consistent-hashing", slack: 0.05)),
            registry: PrometheusCollectorRegistry(), leadership: leader, clock: { 1_700_000_004_000 })
        r.install(snapshot)
        return r
    }

    static let smJobEscaped = "serviceMonitor%2Fns%2Fa%26b+%3Cx%3E%2F0"

    @Test func browsersGetHTMLAndEveryoneElseTheSameJSON() {
        let r = Self.responder()
        for target in ["/jobs", "/scrape_configs", "/jobs/web/targets", "/jobs/web/targets?collector_id=collector-a"] {
            let json = Self.get(r, target, html: false)
            #expect(json.contentType == "application/json", "\(target)")
            let page = Self.get(r, target)
            #expect(page.status == 200, "\(target)")
            #expect(page.contentType == "text/html; charset=utf-8", "\(target)")
            #expect(page.headers.contains("Vary: Accept\r\n") && page.headers.contains("X-Content-Type-Options: nosniff\r\n"))
            #expect(page.body.hasPrefix("<!doctype html>") && page.body.hasSuffix("</html>\n"))
        }
        // Upstream's /debug routes answer HTML without asking.
        for target in ["/debug/jobs", "/debug/scrape_configs", "/debug/targets", "/debug/job?job_id=web", "/debug/collector?collector_id=collector-a"] {
            let page = Self.get(r, target, html: false)
            #expect(page.status == 200 && page.contentType == "text/html; charset=utf-8", "\(target)")
        }
        #expect(Self.get(r, "/debug/pprof/", html: false).status == 404)
    }

    @Test func jobsViewCountsTargetsPerCollectorAndEscapesNames() {
        let page = Self.get(Self.responder(), "/jobs")
        #expect(page.body.contains("<a href=\"/debug/job?job_id=\(Self.smJobEscaped)\">serviceMonitor/ns/a&amp;b &lt;x&gt;/0</a>"))
        // web: 4 targets, 1 unassigned, collector-a 1, collector-b 2; idle has none.
        #expect(page.body.contains("<a href=\"/debug/job?job_id=web\">web</a></td><td class=n>4</td><td class=n>1</td>"))
        #expect(page.body.contains("<a href=\"/debug/job?job_id=web&amp;collector_id=collector-b\">collector-b</a> 2"))
        #expect(page.body.contains("<a href=\"/debug/job?job_id=idle\">idle</a></td><td class=n>0</td>"))
        #expect(!page.body.contains("<x>") && !page.body.contains("a&b"), "nothing from the snapshot unescaped")
    }

    @Test func jobViewShowsEachTargetsLabelsCollectorAndTheRedactedConfig() throws {
        let r = Self.responder()
        let page = Self.get(r, "/jobs/web/targets")
        #expect(page.status == 200)
        #expect(page.body.contains("<span class=l>team=\"&lt;b&gt;&amp;&quot;q&quot;&#39;\"</span>"))
        // Canonically equivalent values with different bytes are two targets, each shown as stored.
        #expect(page.has("city=\"caf\u{e9}\""))
        #expect(page.has("city=\"cafe\u{301}\""))
        #expect(page.has("line=\"a\u{2028}b\n\""))
        // The unassigned target is listed, without a collector.
        let unassignedRow = try #require(page.body.range(of: "10.0.0.4:80</a></td><td>"))
        #expect(page.body[unassignedRow.upperBound...].hasPrefix("<span class=bad>none</span>"))
        #expect(page.body.contains("<a href=\"/jobs/web/targets?collector_id=collector-b\">/jobs/web/targets?collector_id=collector-b</a>"))
        // Secrets redacted exactly as /scrape_configs does, whatever the client.
        #expect(page.body.contains("&quot;password&quot;: &quot;&lt;secret&gt;&quot;"))
        #expect(!page.body.contains("hunter2"))
        #expect(Self.get(r, "/debug/job?job_id=\(Self.smJobEscaped)").body.contains("[fe80::1]:9090"))
        // Filtered to one collector.
        let b = Self.get(r, "/debug/job?job_id=web&collector_id=collector-b").body
        #expect(b.contains("10.0.0.2:80") && b.contains("10.0.0.3:80") && !b.contains("10.0.0.1:80</a>"))
        #expect(Self.get(r, "/debug/job?job_id=nope").status == 404)
        #expect(Self.get(r, "/debug/job").status == 400)
        #expect(Self.get(r, "/debug/job?job_id=web&job_id=idle").status == 400, "upstream wants exactly one job_id")
        #expect(Self.get(r, "/jobs/bad%zz/targets").status == 400)
    }

    @Test func collectorViewListsItsJobsAndTargets() {
        let r = Self.responder()
        let a = Self.get(r, "/debug/collector?collector_id=collector-a")
        #expect(a.status == 200)
        #expect(a.body.contains("2 targets, on node <code>node-1</code>"))
        #expect(a.body.contains("serviceMonitor/ns/a&amp;b &lt;x&gt;/0</a></td><td class=n>1</td>"))
        #expect(a.body.contains("10.0.0.1:80") && a.body.contains("[fe80::1]:9090") && !a.body.contains("10.0.0.2:80"))
        let missing = Self.get(r, "/debug/collector?collector_id=ghost")
        #expect(missing.status == 404 && missing.body.contains("ghost"))
        #expect(Self.get(r, "/debug/collector").status == 400)
        let hostile = Self.get(r, "/debug/collector?collector_id=%3Cscript%3E")
        #expect(hostile.status == 404 && hostile.body.contains("&lt;script&gt;") && !hostile.body.contains("<script>"))
    }

    /// Addresses of the target rows on a page, in order.
    static func rows(_ body: String) -> [String] {
        body.components(separatedBy: "<a href=\"/debug/target?target_hash=").dropFirst().compactMap { $0.split(separator: "<").first }
            .map { String($0.split(separator: ">", maxSplits: 1).last ?? "") }
    }

    @Test func searchFindsTargetsByAddressOrLabelAcrossJobs() {
        let r = Self.responder()
        #expect(Self.rows(Self.get(r, "/debug/targets").body).count == 5)
        #expect(Self.rows(Self.get(r, "/debug/targets?q=10.0.0.1").body) == ["10.0.0.1:80"])
        #expect(Self.rows(Self.get(r, "/debug/targets?q=p-0").body) == ["[fe80::1]:9090"], "across jobs, by any label value")
        #expect(Self.rows(Self.get(r, "/debug/targets?q=__meta_kubernetes_pod_name%3Dp").body) == ["[fe80::1]:9090"], "name=value")
        #expect(Self.rows(Self.get(r, "/debug/targets?q=%3Cb%3E%26").body) == ["10.0.0.1:80"], "characters JSON escapes")
        #expect(Self.rows(Self.get(r, "/debug/targets?q=u003c").body).isEmpty, "no match inside an escape sequence")
        #expect(Self.rows(Self.get(r, "/debug/targets?q=__address__").body).isEmpty, "names are not values")
        // Bytes, not canonical equivalence: each spelling of "café" finds only itself.
        #expect(Self.rows(Self.get(r, "/debug/targets?q=city%3Dcaf%C3%A9").body) == ["10.0.0.2:80"])
        #expect(Self.rows(Self.get(r, "/debug/targets?q=city%3Dcafe%CC%81").body) == ["10.0.0.3:80"])
        #expect(Self.rows(Self.get(r, "/debug/targets?q=city%3D+10.0.0").body).count == 2, "every term must match")
        let page = Self.get(r, "/debug/targets?q=%22%3E%3Cscript%3E")
        #expect(page.body.contains("value=\"&quot;&gt;&lt;script&gt;\"") && !page.body.contains("\"><script>"))
        #expect(Self.get(r, "/debug/targets?q=" + String(repeating: "a", count: 600)).status == 400)
    }

    @Test func targetViewByStableHash() throws {
        let r = Self.responder()
        let list = Self.get(r, "/debug/targets?q=10.0.0.1").body
        let hash = try #require(list.components(separatedBy: "target_hash=").dropFirst().first?.split(separator: "\"").first)
        let page = Self.get(r, "/debug/target?target_hash=\(hash)")
        #expect(page.status == 200)
        #expect(page.body.contains("<h1>Target: 10.0.0.1:80</h1>"))
        #expect(page.body.contains("<a href=\"/debug/collector?collector_id=collector-a\">collector-a</a>"))
        #expect(page.body.contains("<td><code>team</code></td><td><code>&lt;b&gt;&amp;&quot;q&quot;&#39;</code></td>"))
        #expect(page.body.contains("consistent-hashing: collectors are ranked"))
        // Another replica, given the same snapshot in another order, links the same hash.
        var shuffled = JSONAnswersGoldenTests.snapshot()
        shuffled.targets.reverse()
        shuffled.collectors.reverse()
        #expect(Self.get(Self.responder(shuffled), "/debug/target?target_hash=\(hash)").body == page.body)
        #expect(Self.get(r, "/debug/target").status == 400)
        #expect(Self.get(r, "/debug/target?target_hash=x1").status == 400)
        #expect(Self.get(r, "/debug/target?target_hash=12345").status == 404)
    }

    @Test func bigJobsArePaged() {
        let targets = (0..<250).map { i in
            Target(job: "big", labels: Labels([("__address__", "10.1.\(i / 256).\(i % 256):80")]), collector: i % 5 == 0 ? nil : "c")
        }
        let r = Self.responder(
            Snapshot(
                epoch: 1, generation: 1, createdAtMillis: 0, leader: "ta-0", collectors: [Collector(name: "c")],
                jobs: [Job(name: "big", scrapeConfig: .object([]))], targets: targets))
        let first = Self.get(r, "/debug/job?job_id=big")
        #expect(Self.rows(first.body).count == OperatorViews.perPage)
        #expect(first.body.contains("Page 1 of 3") && first.body.contains("<a href=\"/debug/job?job_id=big&amp;page=1\">next →</a>"))
        let last = Self.get(r, "/debug/job?job_id=big&page=2")
        #expect(Self.rows(last.body).count == 50 && last.body.contains("← previous"))
        #expect(Self.rows(Self.get(r, "/debug/job?job_id=big&page=99").body).isEmpty)
        var seen = Set<String>()
        for p in 0..<3 { seen.formUnion(Self.rows(Self.get(r, "/debug/job?job_id=big&page=\(p)").body)) }
        #expect(seen.count == 250, "every target on exactly one page")
        #expect(Self.rows(Self.get(r, "/debug/collector?collector_id=c&page=1").body).count == 100)
        #expect(Self.rows(Self.get(r, "/debug/targets?q=10.1.0&page=2").body).count == 50)
    }

    @Test func pagesFetchNothingFromElsewhere() {
        let r = Self.responder()
        for target in ["/", "/jobs", "/scrape_configs", "/jobs/web/targets", "/debug/targets", "/debug/collector?collector_id=collector-a"] {
            let body = Self.get(r, target).body
            for forbidden in ["src=", "<link", "@import", "url(", "href=\"http", "href=\"//"] {
                #expect(!body.contains(forbidden), "\(target) contains \(forbidden)")
            }
        }
    }

    @Test func viewsAnswer503BeforeTheFirstSnapshot() {
        let r = ServiceDiscoveryResponder(options: .init(identity: "ta-1"), registry: PrometheusCollectorRegistry())
        #expect(Self.get(r, "/debug/jobs", html: false).status == 503)
        #expect(Self.get(r, "/jobs").status == 503)
        let root = Self.get(r, "/")
        #expect(root.status == 200 && root.body.contains("none loaded yet") && root.body.contains("not ready"))
    }

    // MARK: - the / page

    @Test func statusPageTellsTheClusterStory() throws {
        let holder = NIOLockedValueBox<String?>("ta-0")
        let r = Self.responder(leader: { (holder.withLockedValue { $0 }, false) })
        var page = Self.get(r, "/", html: false).body
        #expect(page.contains("<div id=\"live\" data-leader=\"ta-0\" data-epoch=\"3\" data-generation=\"9\">"))
        #expect(page.contains("ta-&lt;1&gt;"), "identity escaped")
        #expect(page.contains("leading for at least"), "a holder already there when this replica looked")
        #expect(page.contains("loaded: 5 targets"))

        // Bars: collector-a 2, collector-b 2 of 4 assigned, bound ⌈1.05 · 4/2⌉ = 3.
        #expect(page.contains("<line id=\"bound\" data-bound=\"3\""))
        #expect(page.contains("data-collector=\"collector-a\"") && page.contains("data-collector=\"collector-b\""))

        // A leadership change, then the new leader's term and a commit that moves, adds and removes targets.
        holder.withLockedValue { $0 = "ta-2" }
        var next = JSONAnswersGoldenTests.snapshot()
        next.epoch = 4
        next.generation = 1
        next.leader = "ta-2"
        next.collectors.append(Collector(name: "collector-c"))
        next.targets[0].collector = "collector-c"  // moved
        next.targets.remove(at: 1)  // removed
        next.targets.append(Target(job: "web", labels: Labels([("__address__", "10.0.0.9:80")]), collector: "collector-a"))  // added
        page = Self.get(r, "/").body
        #expect(page.contains("data-leader=\"ta-2\""))
        #expect(page.contains("<td class=\"leader-change\">Lease holder changed</td><td>ta-0 → <b>ta-2</b></td>"))
        #expect(page.contains("leading for 0 s, since"))
        #expect(page.contains("<td>ta-0</td><td class=muted>held the Lease until"), "the former leader is a known replica")
        r.install(next)
        page = Self.get(r, "/").body
        #expect(page.contains("<td class=\"term\">New term: epoch 4</td><td>first commit of <b>ta-2</b> seen here</td>"))
        #expect(page.contains("<td class=\"commit\">Commit 4 / 1</td><td>+1 added, −1 removed, 1 moved; collectors joined: collector-c"))
        #expect(page.contains("10.0.0.1:80</a> (web) collector-a → collector-c"))
        // Newest first.
        let term = try #require(page.range(of: "New term: epoch 4"))
        let change = try #require(page.range(of: "Lease holder changed"))
        #expect(term.lowerBound < change.lowerBound)
        #expect(page.contains("<script>") && page.contains("getElementById('live')"), "refreshes itself")
        #expect(page.contains("<noscript><meta http-equiv=\"refresh\""), "and without JavaScript too")
    }

    @Test func historyIsBounded() {
        let r = Self.responder()
        var s = JSONAnswersGoldenTests.snapshot()
        for g in 10..<(10 + 3 * ClusterHistory.capacity) {
            s.generation = UInt64(g)
            r.install(s)
        }
        #expect(r.history.events.count == ClusterHistory.capacity)
    }

    // MARK: - oracles

    /// The diff against a plain implementation keyed on (job, label bytes), on random snapshots.
    @Test func diffCountsMatchANaiveComparison() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<30 {
            let collectors = ["a", "b", "c", "d"].filter { _ in Bool.random(using: &rng) }
            // The new snapshot gains "0", which sorts first and shifts every collector's index, and may lose "b".
            let newCollectors = ["0"] + collectors.filter { $0 != "b" || Bool.random(using: &rng) }
            func random(_ collectors: [String]) -> Snapshot {
                var targets: [Target] = []
                for i in 0..<60 where Bool.random(using: &rng) {
                    let collector = collectors.isEmpty || Int.random(in: 0..<8, using: &rng) == 0 ? nil : collectors.randomElement(using: &rng)
                    targets.append(Target(job: i % 3 == 0 ? "x" : "y", labels: Labels([("__address__", "h\(i % 40)"), ("k", "\(i)")]), collector: collector))
                }
                return Snapshot(
                    epoch: 1, generation: 1, createdAtMillis: 0, leader: "l", collectors: collectors.map { Collector(name: $0) },
                    jobs: [Job(name: "x", scrapeConfig: .object([])), Job(name: "y", scrapeConfig: .object([]))], targets: targets)
            }
            let old = random(collectors)
            let new = random(newCollectors)
            func key(_ t: Target) -> [UInt8] { Array(t.job.utf8) + [0] + t.labels.flatMap { Array($0.name.utf8) + [1] + Array($0.value.utf8) + [2] } }
            var before: [[UInt8]: String] = [:]
            for t in old.targets { before[key(t)] = t.collector ?? "" }
            var after: [[UInt8]: String] = [:]
            for t in new.targets { after[key(t)] = t.collector ?? "" }
            let added = after.keys.filter { before[$0] == nil }.count
            let removed = before.keys.filter { after[$0] == nil }.count
            let moved = after.filter { before[$0.key] != nil && before[$0.key] != $0.value }.count
            let diff = SnapshotDiff(from: RenderedSnapshot(old).index, to: RenderedSnapshot(new).index)
            #expect(diff.added == added && diff.removed == removed && diff.moved == moved)
            #expect(diff.collectorsAdded == ["0"])
            #expect(diff.collectorsRemoved == collectors.filter { !newCollectors.contains($0) })
        }
    }

    /// The bound drawn on `/` is the allocator's own capacity (consistent hashing, equal weights).
    @Test func balanceBoundIsTheAllocatorsCapacity() {
        for (targets, collectors) in [(4, 2), (1000, 3), (999, 7), (100_000, 100), (5, 9), (1, 1)] {
            let allocator = Allocator(
                configuration: AllocatorConfiguration(strategy: .consistentHashing),
                collectors: (0..<collectors).map { CollectorInfo(name: "c\($0)") },
                targets: (0..<targets).map { AllocationTarget(id: TargetID(rawValue: UInt64($0))) })
            let description = AllocationDescription(strategy: "consistent-hashing", slack: AllocatorConfiguration().epsilon)
            #expect(description.bound(assigned: targets, collectors: collectors) == allocator.capacity(of: "c0"), "\(targets) over \(collectors)")
        }
    }
}
