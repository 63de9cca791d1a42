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

    /// Issue 15: a 200 MiB file that was rejected had taken 927 MB to parse. A file over the size
    /// limit is now rejected before it is read: measured on a replica process by its peak memory,
    /// which reading this (sparse, zero-filled) 129 MiB file alone would pass.
    @Test func filesOverTheSizeLimitAreRejectedUnread() async throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let oversized = dir.path("snap.json")
        try #require(FileManager.default.createFile(atPath: oversized, contents: nil))
        let handle = try #require(FileHandle(forWritingAtPath: oversized))
        try handle.truncate(atOffset: UInt64(SnapshotFileSource.defaultMaxBytes + 1024 * 1024))
        try handle.close()
        let port = try freePort()
        let replica = try BackgroundProcess(
            EndToEndTests.Cluster.binary, ["--snapshot-file", oversized, "--listen-addr", "127.0.0.1:\(port)"],
            log: dir.path("replica.log"))
        defer { replica.terminate() }
        let metrics = "http://127.0.0.1:\(port)/metrics"
        #expect(
            await eventually(timeout: 60) {
                (try? await runTool("curl", ["-sS", metrics])).map { rejectedCount($0.stdout) >= 1 } ?? false
            }, "the oversized file is rejected and counted")
        let log = (try? String(contentsOfFile: dir.path("replica.log"), encoding: .utf8)) ?? ""
        #expect(log.contains("more than the limit"), "the log says why: \(log.suffix(500))")
        let peak = try #require(replica.peakResidentBytes)
        #expect(peak < SnapshotFileSource.defaultMaxBytes / 2, "peak \(peak / 1_000_000) MB: the file was read")
        // A good file is then taken as usual.
        try dir.write("snap.json", snapshotJSON(Self.snapshot(generation: 1, address: "10.0.0.1:80")))
        #expect(
            await eventually(timeout: 60) {
                (try? await runTool("curl", ["-sS", "http://127.0.0.1:\(port)/jobs/app/targets?collector_id=c-0"]))?.stdout
                    .contains("10.0.0.1:80") ?? false
            })
    }

    func rejectedCount(_ metrics: String) -> Int {
        metrics.split(separator: "\n").first { $0.hasPrefix("target_allocator_snapshots_rejected_total") }
            .flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
    }
}
