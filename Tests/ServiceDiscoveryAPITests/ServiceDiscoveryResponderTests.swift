import HTTPServer
import NIOCore
import Prometheus
import Snapshot
import JSON
import Testing

@testable import ServiceDiscoveryAPI

/// Answers the way upstream's server does (routes, JSON shapes, escaping, status codes).
@Suite struct ServiceDiscoveryResponderTests {
    static func snapshot(generation: UInt64 = 1) -> Snapshot {
        let smJob = "serviceMonitor/default/my app/0"
        return Snapshot(
            epoch: 2, generation: generation, createdAtMillis: 1_000_000, leader: "ta-0",
            collectors: [Collector(name: "collector-1"), Collector(name: "collector-0", node: "n1")],
            jobs: [
                Job(
                    name: "app",
                    scrapeConfig: .object([
                        JSONMember("job_name", .string("app")),
                        JSONMember("basic_auth", .object([JSONMember("username", .string("u")), JSONMember("password", .string("hunter2"))])),
                        JSONMember("authorization", .object([JSONMember("credentials", .string("tok"))])),
                        JSONMember(
                            "kubernetes_sd_configs",
                            .array([.object([JSONMember("tls_config", .object([JSONMember("key", .string("PRIVATE")), JSONMember("cert", .string("PUB"))]))])])),
                        JSONMember("oauth2", .object([JSONMember("client_secret", .string("")), JSONMember("client_id", .string("id"))])),
                    ])),
                Job(name: smJob, scrapeConfig: .object([JSONMember("job_name", .string(smJob))])),
                Job(name: "idle", scrapeConfig: .object([JSONMember("job_name", .string("idle"))])),
            ],
            targets: [
                Target(job: "app", labels: Labels([("__address__", "10.0.0.2:80"), ("__meta_x", "<b>")]), collector: "collector-0"),
                Target(job: "app", labels: Labels([("__address__", "10.0.0.1:80")]), collector: "collector-0"),
                Target(job: "app", labels: Labels([("__address__", "10.0.0.3:80")]), collector: "collector-1"),
                Target(job: smJob, labels: Labels([("__address__", "10.0.1.1:9090")]), collector: "collector-1"),
                Target(job: "app", labels: Labels([("__address__", "10.0.0.9:80")]), collector: nil),
            ])
    }

    func responder(clock: Int64 = 2_500_000, allowInsecure: Bool = false) -> ServiceDiscoveryResponder {
        ServiceDiscoveryResponder(
            options: .init(identity: "ta-1", allowInsecureAuthSecrets: allowInsecure), registry: PrometheusCollectorRegistry(),
            leadership: { ("ta-0", false) }, clock: { clock })
    }

    func get(_ r: ServiceDiscoveryResponder, _ target: String, verified: Bool = false) -> (status: Int, body: String, etag: String?) {
        let bytes = Array(target.utf8)
        let resource = bytes.withUnsafeBytes {
            r.respond(to: HTTPRequest(target: $0, version: .http1_1, connection: ConnectionInfo(isTLS: verified, clientCertificateVerified: verified)))
        }
        return (resource.identity.status.code, String(buffer: resource.identity.body), resource.identity.etag)
    }

    @Test func rootPageShowsLeaderAndBalanceWithoutExternalAssets() {
        let r = ServiceDiscoveryResponder(
            options: .init(identity: "ta-<1>"), registry: PrometheusCollectorRegistry(), leadership: { ("ta-0", false) },
            clock: { 2_500_000 })
        let before = get(r, "/")
        #expect(before.status == 200)
        #expect(before.body.contains("none loaded yet"))
        r.install(Self.snapshot())
        let page = get(r, "/")
        #expect(page.status == 200)
        #expect(page.body.contains("ta-&lt;1&gt;"), "identity is escaped")
        #expect(page.body.contains("data-leader=\"ta-0\""))
        #expect(page.body.contains("epoch 2 · generation 1"))
        // One bar per collector, the fullest one at full width (no bound without a known strategy).
        #expect(page.body.contains("data-collector=\"collector-0\" x=\"190\" y=\"4\" width=\"460\""))
        #expect(page.body.contains("data-collector=\"collector-1\" x=\"190\" y=\"24\" width=\"460\""))
        #expect(!page.body.contains("id=\"bound\""))
        #expect(!page.body.contains("src="), "no scripts, images or fonts from elsewhere")
    }

    @Test func servesHTTPSDGroupsPerJobAndCollector() {
        let r = responder()
        r.install(Self.snapshot())
        let c0 = get(r, "/jobs/app/targets?collector_id=collector-0")
        #expect(c0.status == 200)
        #expect(
            c0.body == #"[{"targets":["10.0.0.1:80"],"labels":{"__address__":"10.0.0.1:80"}},{"targets":["10.0.0.2:80"],"labels":{"__address__":"10.0.0.2:80","__meta_x":"\u003cb\u003e"}}]"# + "\n")
        #expect(get(r, "/jobs/app/targets?collector_id=collector-1").body.contains("10.0.0.3:80"))
        #expect(!get(r, "/jobs/app/targets?collector_id=collector-1").body.contains("10.0.0.9"), "unassigned targets are served to nobody")
    }

    @Test func jobNamesUseGoQueryEscaping() {
        let r = responder()
        r.install(Self.snapshot())
        let expected = #"[{"targets":["10.0.1.1:9090"],"labels":{"__address__":"10.0.1.1:9090"}}]"# + "\n"
        for target in [
            "/jobs/serviceMonitor%2Fdefault%2Fmy+app%2F0/targets?collector_id=collector-1",  // what collectors send
            "/jobs/serviceMonitor%2fdefault%2fmy%20app%2f0/targets?collector_id=collector-1",  // other spellings decode the same
            "/jobs/serviceMonitor%2Fdefault%2Fmy+app%2F0/targets?x=1&collector_id=collector%2D1",
        ] {
            #expect(get(r, target).body == expected, "\(target)")
        }
        #expect(get(r, "/jobs/serviceMonitor/default/my+app/0/targets?collector_id=collector-1").status == 404, "raw slashes are not a job")
        #expect(get(r, "/jobs/bad%zz/targets?collector_id=collector-1").status == 400)
    }

    /// Job and collector names are bytes: "é" (U+00E9) and "e\u{301}" are two jobs, each served its
    /// own targets (Swift's `==` and hashing, which a dictionary uses, call them one).
    @Test func jobAndCollectorNamesAreBytes() {
        let (a, b) = ("é", "e\u{301}")
        let snapshot = Snapshot(
            epoch: 1, generation: 1, createdAtMillis: 0, leader: "ta-0", collectors: [Collector(name: "c-" + a), Collector(name: "c-" + b)],
            jobs: [Job(name: a, scrapeConfig: .object([])), Job(name: b, scrapeConfig: .object([]))],
            targets: [
                Target(job: a, labels: Labels([("__address__", "10.0.0.1:80"), ("v", a)]), collector: "c-" + a),
                Target(job: b, labels: Labels([("__address__", "10.0.0.2:80"), ("v", b)]), collector: "c-" + b),
                Target(job: b, labels: Labels([("__address__", "10.0.0.3:80"), ("v", b)]), collector: "c-" + a),
            ])
        let r = responder()
        r.install(snapshot)
        func body(_ target: String) -> [UInt8] {
            let bytes = Array(target.utf8)
            let resource = bytes.withUnsafeBytes {
                r.respond(to: HTTPRequest(target: $0, version: .http1_1, connection: ConnectionInfo(isTLS: false, clientCertificateVerified: false)))
            }
            return Array(resource.identity.body.readableBytesView)
        }
        func group(_ address: String, _ value: String) -> String {
            #"{"targets":[""# + address + #""],"labels":{"__address__":""# + address + #"","v":""# + value + #""}}"#
        }
        let (ea, eb, ca, cb) = ("%C3%A9", "e%CC%81", "c-%C3%A9", "c-e%CC%81")
        #expect(body("/jobs/\(ea)/targets?collector_id=\(ca)") == Array(("[" + group("10.0.0.1:80", a) + "]\n").utf8))
        #expect(body("/jobs/\(eb)/targets?collector_id=\(ca)") == Array(("[" + group("10.0.0.3:80", b) + "]\n").utf8))
        #expect(body("/jobs/\(eb)/targets?collector_id=\(cb)") == Array(("[" + group("10.0.0.2:80", b) + "]\n").utf8))
        #expect(body("/jobs/\(ea)/targets?collector_id=\(cb)") == Array("[]\n".utf8))
        // Without a collector: the job's own targets only, by the parsing path (not the route table).
        let all = body("/jobs/%c3%a9/targets")
        #expect(contains(all, "10.0.0.1:80") && !contains(all, "10.0.0.2:80") && !contains(all, "10.0.0.3:80"))
        #expect(body("/jobs") == Array((#"{""# + b + #"":{"_link":"/jobs/e%CC%81/targets"},""# + a + #"":{"_link":"/jobs/%C3%A9/targets"}}"# + "\n").utf8))
        let status = body("/status")
        #expect(contains(status, #""c-"# + a + #"":2"#) && contains(status, #""c-"# + b + #"":1"#))
    }

    /// Byte subsequence search (`String.contains` would match canonically equivalent text).
    func contains(_ haystack: [UInt8], _ needle: String) -> Bool {
        let n = Array(needle.utf8)
        guard n.count <= haystack.count else { return false }
        return (0...(haystack.count - n.count)).contains { haystack[$0..<($0 + n.count)].elementsEqual(n) }
    }

    @Test func unknownJobsAndCollectorsGetAnEmptyList() {
        let r = responder()
        r.install(Self.snapshot())
        #expect(get(r, "/jobs/app/targets?collector_id=nobody").body == "[]\n")
        #expect(get(r, "/jobs/nojob/targets?collector_id=collector-0").body == "[]\n")
        #expect(get(r, "/jobs/idle/targets?collector_id=collector-0") == (200, "[]\n", get(r, "/jobs/nojob/targets?collector_id=x").etag))
    }

    /// Go's `url.ParseQuery` (what upstream's gin handler reads) keeps a value's bytes without
    /// checking UTF-8, so `%ff` names a collector that does not exist; a pair with a malformed
    /// escape is skipped and later pairs still count.
    @Test func collectorIDsThatAreNotUTF8AreUnknownCollectors() {
        let r = responder()
        r.install(Self.snapshot())
        for id in ["%ff", "%c0%ae", "collector-0%ff", "%ed%a0%80"] {
            #expect(get(r, "/jobs/app/targets?collector_id=\(id)") == (200, "[]\n", get(r, "/jobs/app/targets?collector_id=nobody").etag), "\(id)")
        }
        let everyCollector = get(r, "/jobs/app/targets").body
        #expect(everyCollector.hasPrefix("{"))
        #expect(get(r, "/jobs/app/targets?collector_id=%zz").body == everyCollector, "a malformed pair is dropped, as Go does")
        #expect(
            get(r, "/jobs/app/targets?collector_id=%zz&collector_id=collector-0").body
                == get(r, "/jobs/app/targets?collector_id=collector-0").body)
    }

    @Test func jobsListsOnlyJobsWithTargets() {
        let r = responder()
        r.install(Self.snapshot())
        #expect(
            get(r, "/jobs").body
                == #"{"app":{"_link":"/jobs/app/targets"},"serviceMonitor/default/my app/0":{"_link":"/jobs/serviceMonitor%2Fdefault%2Fmy+app%2F0/targets"}}"# + "\n")
    }

    @Test func jobTargetsWithoutCollectorShowsEveryCollector() {
        let r = responder()
        r.install(Self.snapshot())
        let body = get(r, "/jobs/serviceMonitor%2Fdefault%2Fmy+app%2F0/targets").body
        #expect(
            body
                == #"{"collector-0":{"_link":"/jobs/serviceMonitor%2Fdefault%2Fmy+app%2F0/targets?collector_id=collector-0","targets":[]},"collector-1":{"_link":"/jobs/serviceMonitor%2Fdefault%2Fmy+app%2F0/targets?collector_id=collector-1","targets":[{"targets":["10.0.1.1:9090"],"labels":{"__address__":"10.0.1.1:9090"}}]}}"# + "\n")
        let unknown = get(r, "/jobs/nojob/targets").body
        #expect(unknown.contains(#""collector-0":{"_link":"/jobs/nojob/targets?collector_id=collector-0","targets":[]}"#))
    }

    @Test func secretsAreRedactedUnlessTheClientIsVerified() {
        let r = responder()
        r.install(Self.snapshot())
        let redacted = get(r, "/scrape_configs").body
        #expect(redacted.contains(#""password":"\u003csecret\u003e""#))
        #expect(redacted.contains(#""credentials":"\u003csecret\u003e""#))
        #expect(redacted.contains(#""key":"\u003csecret\u003e","cert":"PUB""#), "tls_config.key is a Secret, cert is not")
        #expect(redacted.contains(#""client_secret":"""#), "empty secrets stay empty")
        #expect(!redacted.contains("hunter2") && !redacted.contains("tok") && !redacted.contains("PRIVATE"))
        #expect(redacted.hasPrefix(#"{"app":{"job_name":"app","#), "jobs sorted by name, config members in order")
        let verified = get(r, "/scrape_configs", verified: true).body
        #expect(verified.contains("hunter2") && verified.contains("PRIVATE"))
        let insecure = responder(allowInsecure: true)
        insecure.install(Self.snapshot())
        #expect(get(insecure, "/scrape_configs").body.contains("hunter2"))
    }

    @Test func nothingIsServedBeforeTheFirstSnapshot() {
        let r = responder()
        #expect(get(r, "/readyz").status == 503)
        #expect(get(r, "/livez").status == 200)
        #expect(get(r, "/jobs/app/targets?collector_id=collector-0").status == 503, "503 keeps Prometheus's last targets; [] would drop them")
        #expect(get(r, "/scrape_configs").status == 503)
        #expect(get(r, "/jobs").status == 503)
        #expect(get(r, "/status").body.contains(#""generation":null"#))
        r.install(Self.snapshot())
        #expect(get(r, "/readyz").status == 200)
    }

    @Test func statusReportsTheSnapshot() {
        let r = responder(clock: 2_500_250)
        r.install(Self.snapshot(generation: 7))
        let body = get(r, "/status").body
        #expect(
            body
                == #"{"identity":"ta-1","leader":"ta-0","is_leader":false,"epoch":2,"generation":7,"snapshot_age_seconds":1500.250,"installed_at_millis":2500250,"targets":5,"unassigned_targets":1,"jobs":3,"collectors":{"collector-0":2,"collector-1":2}}"# + "\n")
    }

    @Test func sameSnapshotSameBytesOnEveryReplica() {
        let a = responder()
        let b = responder()
        a.install(Self.snapshot())
        var shuffled = Self.snapshot()
        shuffled.targets.reverse()
        shuffled.jobs.reverse()
        shuffled.collectors.reverse()
        b.install(shuffled)
        for target in ["/jobs", "/scrape_configs", "/jobs/app/targets?collector_id=collector-0", "/jobs/app/targets"] {
            #expect(get(a, target).body == get(b, target).body, "\(target)")
            #expect(get(a, target).etag != nil && get(a, target).etag == get(b, target).etag)
        }
    }

    @Test func installSwapsWholeSnapshots() async {
        let r = responder()
        r.install(Self.snapshot(generation: 1))
        var next = Self.snapshot(generation: 2)
        next.targets = next.targets.map { var t = $0; t.collector = t.collector.map { _ in "collector-1" }; return t }
        let before = get(r, "/jobs/app/targets?collector_id=collector-0").body
        let installer = Task.detached { for i in 0..<200 { r.install(i % 2 == 0 ? next : Self.snapshot(generation: 1)) } }
        // Every answer is one of the two complete answers, never a mix.
        let after = #"[]"# + "\n"
        for _ in 0..<2000 {
            let body = get(r, "/jobs/app/targets?collector_id=collector-0").body
            #expect(body == before || body == after)
        }
        await installer.value
    }

    @Test func unknownPathsAre404JSON() {
        let r = responder()
        r.install(Self.snapshot())
        #expect(get(r, "/nope") == (404, #"{"error":"not found"}"# + "\n", nil))
        #expect(get(r, "/jobs/app").status == 404)
    }

    @Test func metricsUseThePrometheusTextFormat() {
        let registry = PrometheusCollectorRegistry()
        registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "test", unitName: "total", helpText: "a test counter")).increment()
        let r = ServiceDiscoveryResponder(options: .init(identity: "x"), registry: registry)
        let m = get(r, "/metrics")
        #expect(m.status == 200)
        #expect(m.body.contains("test_total 1"))
    }

    @Test func goQueryEscapeMatchesGo() {
        #expect(GoURLEscaping.queryEscape("serviceMonitor/ns/a b+c/0~_.-") == "serviceMonitor%2Fns%2Fa+b%2Bc%2F0~_.-")
        #expect(GoURLEscaping.queryUnescape(Array("a+b%2Bc%2f".utf8)) == "a b+c/")
        #expect(GoURLEscaping.queryUnescape(Array("%4".utf8)) == nil)
        #expect(GoURLEscaping.queryUnescape(Array("%ff".utf8)) == nil, "not UTF-8")
    }
}
