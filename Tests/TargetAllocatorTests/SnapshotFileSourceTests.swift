import Foundation
import HTTPServer
import Logging
import Metrics
import Snapshot
import JSON
import TargetAllocator
import TestSupport
import Testing

/// A replica serving a snapshot file follows it, and never serves a bad or older one.
@Suite struct SnapshotFileSourceTests {
    static func snapshot(generation: UInt64, address: String) -> Snapshot {
        Snapshot(
            epoch: 1, generation: generation, createdAtMillis: 0, leader: "ta-0", collectors: [Collector(name: "c-0")],
            jobs: [Job(name: "app", scrapeConfig: .object([JSONMember("job_name", .string("app"))]))],
            targets: [Target(job: "app", labels: Labels([("__address__", address)]), collector: "c-0")])
    }

    @Test func followsTheFileAndKeepsTheLastGoodSnapshot() async throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        try dir.write("snap.json", snapshotJSON(Self.snapshot(generation: 5, address: "10.0.0.1:80")))
        var settings = ReplicaSettings(identity: "ta-0")
        settings.listenAddress = ListenAddress(host: "127.0.0.1", port: 0)
        settings.snapshotFile = dir.path("snap.json")
        settings.snapshotPollInterval = .milliseconds(50)
        try await withReplica(settings) { replica, ports in
            let url = "http://127.0.0.1:\(ports.plain!)/jobs/app/targets?collector_id=c-0"
            func body() async throws -> String { try await runTool("curl", ["-sS", url]).stdout }
            #expect(try await eventually { try await body().contains("10.0.0.1:80") })

            try dir.write("snap.json", snapshotJSON(Self.snapshot(generation: 6, address: "10.0.0.2:80")))
            #expect(try await eventually { try await body().contains("10.0.0.2:80") }, "a newer snapshot is picked up")

            for bad in ["{\"epoch\": 1, \"generation\": 7, \"targets\": [", snapshotJSON(Self.snapshot(generation: 3, address: "10.0.0.3:80")),
                "{\"generation\": 8, \"targets\": [{\"job\": \"missing\", \"labels\": {\"__address__\": \"x:1\"}}]}"]
            {
                let metrics = "http://127.0.0.1:\(ports.plain!)/metrics"
                let before = rejectedCount(try await runTool("curl", ["-sS", metrics]).stdout)
                try dir.write("snap.json", bad)
                #expect(try await eventually { rejectedCount(try await runTool("curl", ["-sS", metrics]).stdout) > before }, "rejection is counted")
                #expect(try await body().contains("10.0.0.2:80"), "the last good snapshot stays served")
            }
            #expect(replica.responder.installed! == (1, 6))
        }
    }

    func rejectedCount(_ metrics: String) -> Int {
        metrics.split(separator: "\n").first { $0.hasPrefix("target_allocator_snapshots_rejected_total") }
            .flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
    }
}
