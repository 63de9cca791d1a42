import Foundation
import TestSupport
import Testing

/// The built `target-allocator` binary's admin commands, run as a person would.
@Suite struct CommandLineTests {
    static var binary: String { EndToEndTests.Cluster.binary }

    @Test func validateReportsEveryProblemWithItsPathAndFails() async throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let badJobs = """
            config:
              scrape_configs:
              - job_name: a
                scrape_interval: 10s
                scrape_timeout: 20s
              - job_name: b
                relabel_configs: [{action: hashmod, source_labels: [x], target_label: y}]
            """
        try dir.write("bad.yaml", "allocation_strategy: round-robin\nleader_election: {lease_duration: 5s, renew_deadline: 10s}\n" + badJobs)
        let bad = try await runTool(Self.binary, ["validate", "--config-file", dir.path("bad.yaml")])
        #expect(bad.status != 0)
        #expect(bad.stdout.contains("allocation_strategy"), "\(bad.stdout)")
        #expect(bad.stdout.contains("leader_election.lease_duration"), "\(bad.stdout)")

        try dir.write("jobs.yaml", badJobs)
        let jobs = try await runTool(Self.binary, ["validate", "--config-file", dir.path("jobs.yaml")])
        #expect(jobs.status != 0)
        #expect(jobs.stdout.contains("scrape_configs[0].scrape_timeout"), "\(jobs.stdout)")
        #expect(jobs.stdout.contains("job b") && jobs.stdout.contains("modulus"), "\(jobs.stdout)")

        try dir.write("good.yaml", "config:\n  scrape_configs:\n  - job_name: a\n    static_configs: [{targets: [\"x:1\", \"y:2\"]}]\n")
        let good = try await runTool(Self.binary, ["validate", "--config-file", dir.path("good.yaml")])
        #expect(good.status == 0, "\(good.stdout)")
        #expect(good.stdout.contains("1 jobs, 2 static targets"))
    }

    @Test func statusShowsUnreachableReplicasAndFailsWhenNoneAnswers() async throws {
        let port = try freePort()
        let result = try await runTool(Self.binary, ["status", "http://127.0.0.1:\(port)"])
        #expect(result.status != 0)
        #expect(result.stdout.contains("unreachable"))
    }
}
