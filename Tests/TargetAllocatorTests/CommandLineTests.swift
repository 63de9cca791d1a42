import Foundation
import JSON
import TestSupport
import Testing

/// The built `target-allocator` binary, run as a person (or the operator) runs it.
@Suite(.serialized) struct CommandLineTests {
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
        #expect(bad.stdout.contains("error: allocation_strategy"), "\(bad.stdout)")
        #expect(bad.stdout.contains("error: leader_election.lease_duration"), "\(bad.stdout)")

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

    /// Unknown keys are printed as warnings and do not fail the check; `prometheus_cr` is read.
    @Test func validateMarksWarningsAndReadsPrometheusCR() async throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        try dir.write("warn.yaml", "colector_namespace: x\nprometheus_cr: {enabled: true, scrape_interval: 2.5s, newer_key: 1}\n")
        let warn = try await runTool(Self.binary, ["validate", "--config-file", dir.path("warn.yaml")])
        #expect(warn.status == 0, "\(warn.stdout)")
        #expect(warn.stdout.contains("warning: colector_namespace: unknown key, ignored"), "\(warn.stdout)")
        #expect(warn.stdout.contains("warning: prometheus_cr.newer_key: unknown key, ignored"), "\(warn.stdout)")
        #expect(warn.stdout.contains("valid — 0 jobs, 0 static targets, prometheus_cr enabled"), "\(warn.stdout)")

        try dir.write("cr.yaml", "prometheus_cr: {enabled: true, scrape_interval: 1d, pod_monitor_selector: {matchExpressions: [{key: a}]}}\n")
        let cr = try await runTool(Self.binary, ["validate", "--config-file", dir.path("cr.yaml")])
        #expect(cr.status == 1)
        #expect(cr.stdout.contains("error: prometheus_cr.scrape_interval: \"1d\": unknown unit \"d\""), "\(cr.stdout)")

        // A mechanism Prometheus has and this allocator does not discover with: valid upstream,
        // so a warning here (its job is served, its targets are not discovered).
        try dir.write("ec2.yaml", "config:\n  scrape_configs:\n  - job_name: cloud\n    ec2_sd_configs: [{region: eu-west-1}]\n")
        let ec2 = try await runTool(Self.binary, ["validate", "--config-file", dir.path("ec2.yaml")])
        #expect(ec2.status == 0, "\(ec2.stdout)")
        #expect(ec2.stdout.contains("warning: scrape_configs[0].ec2_sd_configs: job \"cloud\""), "\(ec2.stdout)")

        // A file without scrape configs is valid for a replica started with the watcher flag.
        try dir.write("empty.yaml", "collector_namespace: x\n")
        #expect(try await runTool(Self.binary, ["validate", "--config-file", dir.path("empty.yaml")]).status == 1)
        let flagged = try await runTool(Self.binary, ["validate", "--config-file=\(dir.path("empty.yaml"))", "--enable-prometheus-cr-watcher=true"])
        #expect(flagged.status == 0, "\(flagged.stdout)")
    }

    /// pflag's boolean syntax and controller-runtime's zap values, refused as upstream refuses
    /// them (a usage error, exit status 64), before anything starts.
    @Test func badFlagValuesAreUsageErrors() async throws {
        for (arguments, message) in [
            (["--enable-https-server=maybe"], "invalid argument \"maybe\" for \"--enable-https-server\" flag"),
            (["--allow-insecure-auth-secrets=yes"], "invalid argument \"yes\" for \"--allow-insecure-auth-secrets\" flag"),
            (["--zap-log-level=loud"], "invalid log level \"loud\""), (["--zap-log-level=0"], "invalid log level \"0\""),
            (["--zap-encoder=xml"], "invalid encoder value \"xml\""), (["--zap-time-encoding=nano"], "invalid time-encoding value \"nano\""),
            (["--zap-stacktrace-level=warn"], "invalid stacktrace level \"warn\""), (["--no-such-flag=1"], "Unknown option"),
        ] {
            let result = try await runTool(Self.binary, ["--config-file=/nonexistent"] + arguments)
            #expect(result.status == 64, "\(arguments): \(result.status) \(result.stderr)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
    }

    /// The operator's `spec.args` rendered as `--name=value`: the CR watcher enabled by flag
    /// (the file has no scrape config), zap's JSON encoder and time encoding, the listener
    /// from the file's `listen_addr`; then the standard process metrics on `/metrics`.
    @Test func startsWithTheOperatorsCommandLine() async throws {
        let harness = try await ReplicaProcessHarness()
        do {
            let port = try freePort()
            try await harness.addCollector("collector-0", labels: ["app": "collector"])
            try harness.dir.write(
                "config.yaml",
                """
                collector_namespace: observability
                collector_selector: {matchlabels: {app: collector}}
                listen_addr: 127.0.0.1:\(port)
                leader_election: {lease_duration: 3s, renew_deadline: 2s, retry_period: 500ms}
                snapshot: {min_write_interval: 100ms}
                prometheus_cr: {scrape_interval: 2.5s, service_monitor_selector: {}}
                """)
            let started = Date().timeIntervalSince1970
            try harness.start([
                "--config-file=\(harness.dir.path("config.yaml"))", "--enable-prometheus-cr-watcher=true", "--zap-devel=false",
                "--zap-encoder=json", "--zap-log-level=debug", "--zap-stacktrace-level=error", "--zap-time-encoding=iso8601",
            ])
            let base = "http://127.0.0.1:\(port)"
            #expect(await ReplicaProcessHarness.ready(base + "/readyz"), "\(harness.log().suffix(3000))")

            // Every line is a zap JSON object with an ISO 8601 UTC time.
            let lines = harness.log().split(separator: "\n").filter { !$0.isEmpty }
            #expect(!lines.isEmpty)
            let iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/
            for line in lines {
                let object = try? JSONValue.parse(String(line))
                let ts = object?["ts"]?.stringValue ?? ""
                #expect(
                    object?["level"]?.stringValue != nil && object?["msg"]?.stringValue != nil && object?["logger"]?.stringValue != nil
                        && ts.wholeMatch(of: iso) != nil, "not a zap JSON line: \(line)")
            }
            #expect(lines.contains { $0.contains(#""level":"debug""#) }, "--zap-log-level=debug lets debug lines through")

            try await Self.checkProcessMetrics(base: base, pidFile: harness.dir.path("replica.log.pid"), startedAfter: started)
        } catch {
            await harness.shutdown()
            throw error
        }
        await harness.shutdown()
    }

    /// `process_*` as client_golang reports them, checked against procps' view of the process.
    static func checkProcessMetrics(base: String, pidFile: String, startedAfter: Double) async throws {
        let pid = try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        var metrics: [String: Double] = [:]
        _ = await eventually(timeout: 30) {
            guard let answer = await ReplicaProcessHarness.get(base + "/metrics") else { return false }
            metrics = [:]
            for line in answer.body.split(separator: "\n") where line.hasPrefix("process_") {
                let parts = line.split(separator: " ")
                if parts.count == 2, let value = Double(parts[1]) { metrics[String(parts[0])] = value }
            }
            return metrics["process_open_fds"] != nil && metrics["process_cpu_seconds_total", default: 0] > 0
        }
        let beforePS = Date().timeIntervalSince1970
        let ps = try await runTool("ps", ["-o", "rss=,vsz=,etimes=,times=", "-p", pid])
        let afterPS = Date().timeIntervalSince1970
        let fields = ps.stdout.split(whereSeparator: \.isWhitespace).compactMap { Double($0) }
        try #require(fields.count == 4, "ps: \(ps.stdout)")
        let (rss, vsz, elapsed, cpu) = (fields[0] * 1024, fields[1] * 1024, fields[2], fields[3])
        let now = Date().timeIntervalSince1970
        let limits = try String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8)
        let maxOpenFiles = limits.split(separator: "\n").first { $0.hasPrefix("Max open files") }?.split(separator: " ", omittingEmptySubsequences: true)[3]
        let openFDs = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count

        let resident = try #require(metrics["process_resident_memory_bytes"])
        #expect(resident > rss / 2 && resident < rss * 2, "resident \(resident) vs ps \(rss)")
        let virtual = try #require(metrics["process_virtual_memory_bytes"])
        #expect(virtual > vsz * 0.8 && virtual < vsz * 1.25, "virtual \(virtual) vs ps \(vsz)")
        let start = try #require(metrics["process_start_time_seconds"])
        #expect(start >= startedAfter - 2 && start <= now, "start \(start), launched at \(startedAfter)")
        // ps counted whole seconds of `elapsed` at some moment between beforePS and afterPS,
        // from the boot time in whole seconds: up to 2 s either way.
        #expect(start >= beforePS - elapsed - 2 && start <= afterPS - elapsed + 2, "start \(start) vs ps \(beforePS - elapsed)–\(afterPS - elapsed)")
        let cpuSeconds = try #require(metrics["process_cpu_seconds_total"])
        #expect(cpuSeconds > 0 && cpuSeconds <= cpu + 1, "cpu \(cpuSeconds) vs ps \(cpu)")
        #expect(metrics["process_max_fds"] == maxOpenFiles.flatMap { Double($0) }, "max fds vs /proc/limits \(maxOpenFiles ?? "")")
        let open = try #require(metrics["process_open_fds"])
        // Sockets come and go (API watches, HTTP clients), and the metric is up to 2 s old.
        #expect(open > 5 && abs(open - Double(openFDs)) <= max(10, Double(openFDs) / 2), "open fds \(open) vs \(openFDs)")
        #expect(metrics["process_virtual_memory_max_bytes"] != nil)
    }

    @Test func statusShowsUnreachableReplicasAndFailsWhenNoneAnswers() async throws {
        let port = try freePort()
        let result = try await runTool(Self.binary, ["status", "http://127.0.0.1:\(port)"])
        #expect(result.status != 0)
        #expect(result.stdout.contains("unreachable"))
    }
}
