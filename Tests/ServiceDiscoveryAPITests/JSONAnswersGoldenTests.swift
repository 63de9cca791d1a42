import Foundation
import HTTPServer
import JSON
import NIOCore
import Prometheus
import Snapshot
import Testing

@testable import ServiceDiscoveryAPI

/// What collectors read must not change when the HTML views are added: every JSON answer for
/// a snapshot with hostile labels (`<`, `&`, quotes, canonically equivalent but different
/// UTF-8, U+2028), byte for byte, against `Fixtures/json-answers.golden`, which was written
/// by the responder as it was before the views (commit 2f1dc36) with
/// `WRITE_JSON_GOLDEN=<path> swift test --filter JSONAnswersGoldenTests`; since then only
/// `/status` gained `installed_at_millis` (issue 12's scale benchmark), edited in by hand.
@Suite struct JSONAnswersGoldenTests {
    static func snapshot() -> Snapshot {
        let smJob = "serviceMonitor/ns/a&b <x>/0"
        return Snapshot(
            epoch: 3, generation: 9, createdAtMillis: 1_700_000_000_000, leader: "ta-0",
            collectors: [Collector(name: "collector-b"), Collector(name: "collector-a", node: "node-1")],
            jobs: [
                Job(
                    name: "web",
                    scrapeConfig: .object([
                        JSONMember("job_name", .string("web")),
                        JSONMember("basic_auth", .object([JSONMember("username", .string("u")), JSONMember("password", .string("hunter2"))])),
                    ])),
                Job(name: smJob, scrapeConfig: .object([JSONMember("job_name", .string(smJob))])),
                Job(name: "idle", scrapeConfig: .object([JSONMember("job_name", .string("idle"))])),
            ],
            targets: [
                Target(job: "web", labels: Labels([("__address__", "10.0.0.1:80"), ("team", "<b>&\"q\"'")]), collector: "collector-a"),
                // "é" precomposed and decomposed: equal as Swift Strings, different bytes, two targets.
                Target(job: "web", labels: Labels([("__address__", "10.0.0.2:80"), ("city", "caf\u{e9}")]), collector: "collector-b"),
                Target(job: "web", labels: Labels([("__address__", "10.0.0.3:80"), ("city", "cafe\u{301}")]), collector: "collector-b"),
                Target(job: "web", labels: Labels([("__address__", "10.0.0.4:80"), ("line", "a\u{2028}b\n")]), collector: nil),
                Target(job: smJob, labels: Labels([("__address__", "[fe80::1]:9090"), ("__meta_kubernetes_pod_name", "p-0")]), collector: "collector-a"),
            ])
    }

    /// Every route a collector (or a tool scripting the JSON) uses, with the spellings they send.
    static let targets = [
        "/jobs", "/scrape_configs", "/jobs/web/targets", "/jobs/web/targets?collector_id=collector-a",
        "/jobs/web/targets?collector_id=collector-b", "/jobs/web/targets?collector_id=nobody",
        "/jobs/serviceMonitor%2Fns%2Fa%26b+%3Cx%3E%2F0/targets", "/jobs/serviceMonitor%2Fns%2Fa%26b+%3Cx%3E%2F0/targets?collector_id=collector-a",
        "/jobs/idle/targets", "/jobs/idle/targets?collector_id=collector-a", "/jobs/unknown/targets", "/status", "/readyz",
        "/nope",
    ]

    static func answers(_ respond: (String) -> HTTPResource) -> String {
        var out = ""
        for target in targets {
            let resource = respond(target).identity
            out += "== \(target)\n\(resource.status.code) \(resource.etag ?? "-")\n\(String(buffer: resource.body))"
        }
        return out
    }

    static func responder() -> ServiceDiscoveryResponder {
        let r = ServiceDiscoveryResponder(
            options: .init(identity: "ta-1"), registry: PrometheusCollectorRegistry(), leadership: { ("ta-0", false) },
            clock: { 1_700_000_004_000 })
        r.install(snapshot())
        return r
    }

    static var goldenPath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/json-answers.golden").path
    }

    @Test func jsonAnswersAreByteIdenticalToThoseBeforeTheViews() throws {
        let r = Self.responder()
        let answers = Self.answers { target in
            Array(target.utf8).withUnsafeBytes {
                r.respond(to: HTTPRequest(target: $0, version: .http1_1, connection: ConnectionInfo(isTLS: false, clientCertificateVerified: false)))
            }
        }
        if let path = ProcessInfo.processInfo.environment["WRITE_JSON_GOLDEN"] {
            try answers.write(toFile: path, atomically: true, encoding: .utf8)
        }
        let golden = try String(contentsOfFile: Self.goldenPath, encoding: .utf8)
        #expect(Array(answers.utf8) == Array(golden.utf8))
    }
}
