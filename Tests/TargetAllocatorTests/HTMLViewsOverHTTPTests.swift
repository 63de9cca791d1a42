import Foundation
import HTTPServer
import JSON
import Snapshot
import TargetAllocator
import TestSupport
import Testing

/// The HTML views over real sockets (issue 16): curl asks with `Accept: text/html` over HTTP/1.1,
/// HTTP/2 with prior knowledge and an `Upgrade: h2c`, and gets HTML; without it, the JSON.
@Suite struct HTMLViewsOverHTTPTests {
    @Test func acceptTextHTMLGetsTheViewOnEveryProtocol() async throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let snapshot = Snapshot(
            epoch: 1, generation: 1, createdAtMillis: 0, leader: "ta-0", collectors: [Collector(name: "c-0")],
            jobs: [Job(name: "app", scrapeConfig: .object([JSONMember("job_name", .string("app"))]))],
            targets: [Target(job: "app", labels: Labels([("__address__", "10.0.0.1:80"), ("k", "<v>")]), collector: "c-0")])
        try dir.write("snap.json", snapshotJSON(snapshot))
        var settings = ReplicaSettings(identity: "ta-0")
        settings.listenAddress = ListenAddress(host: "127.0.0.1", port: 0)
        settings.snapshotFile = dir.path("snap.json")
        settings.snapshotPollInterval = .milliseconds(50)
        try await withReplica(settings) { _, ports in
            let url = "http://127.0.0.1:\(ports.plain!)/jobs/app/targets"
            #expect(try await eventually { try await runTool("curl", ["-sS", url]).stdout.contains("10.0.0.1:80") })
            let json = try await runTool("curl", ["-sS", url]).stdout
            #expect(json.hasPrefix("{\"c-0\":"))
            for mode in [[], ["--http2-prior-knowledge"], ["--http2"]] {
                let html = try await runTool(
                    "curl", ["-sS", "-D", "-", "-H", "Accept: text/html,application/xhtml+xml;q=0.9"] + mode + [url])
                #expect(html.stdout.lowercased().contains("content-type: text/html; charset=utf-8"), "\(mode)")
                #expect(html.stdout.contains("<span class=l>k=\"&lt;v&gt;\"</span>"), "\(mode)")
                let plain = try await runTool("curl", ["-sS", "-H", "Accept: application/json"] + mode + [url])
                #expect(plain.stdout == json, "\(mode)")
            }
        }
    }
}
