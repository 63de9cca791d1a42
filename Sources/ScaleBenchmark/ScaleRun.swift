import AsyncHTTPClient
import Foundation
import JSON
import KubernetesClient
import KubernetesEmulator
import Logging
import SampleWorkload

/// One run: starts the processes, drives the phases, then reads the figures off the audit
/// log, the captured snapshots, `/status` and /proc, and prints them.
struct ScaleRun: Sendable {
    let settings: Settings
    let workload: ScaleWorkload
    private let quiet = Logger(label: "scale-bench", factory: { _ in SwiftLogNoOpLogHandler() })

    init(_ settings: Settings) throws {
        for binary in [settings.emulatorBinary, settings.allocatorBinary] where !FileManager.default.isExecutableFile(atPath: binary) {
            throw BenchError("not an executable: \(binary) (pass --emulator-binary and --allocator-binary)")
        }
        self.settings = settings
        var workload = ScaleWorkload(pods: settings.pods)
        workload.namespaces = settings.namespaces
        workload.collectors = settings.collectors
        workload.collectorNamespace = Settings.namespace
        self.workload = workload
    }

    private func path(_ name: String) -> String { (settings.workDir as NSString).appendingPathComponent(name) }

    func execute() async throws {
        let s = settings
        let began = ContinuousClock.now
        print(
            "scale-bench: \(s.pods) pods in \(s.namespaces) namespaces, \(s.collectors) collectors, \(s.replicas) replicas "
                + "(lease \(s.leaseDuration.configString) / renew \(s.renewDeadline.configString) / retry \(s.retryPeriod.configString), "
                + "min_write_interval \(s.minWriteInterval.configString))")
        print(
            "replicas on CPU \(s.replicaCPUs) (sharing it; --event-loop-threads 1), kube-emulator and this load generator on CPU \(s.emulatorCPUs); "
                + "\(ProcessInfo.processInfo.activeProcessorCount) cores, load average \(loadAverage()) at start")
        if s.slowAPI {
            print(
                "slow API: every request of the replicas is delayed \(s.latencyMilliseconds) ms, then \(s.stallMilliseconds) ms for \(s.stallSeconds) s after the steady state")
        }
        print("logs: \(s.workDir)")

        // The API server, seeded in its own process before anyone lists.
        var emulatorArguments = [
            "--host", "127.0.0.1", "--port", "0", "--admin-api", "--history", "500000", "--scale-pods", "\(s.pods)", "--scale-namespaces",
            "\(s.namespaces)", "--scale-collectors", "\(s.collectors)", "--scale-collector-namespace", Settings.namespace,
        ]
        for identity in s.identities + ["loadgen", "bench"] { emulatorArguments += ["--token", "\(identity)=token-\(identity)"] }
        if s.slowAPI {
            emulatorArguments += ["--latency-ms", "\(s.latencyMilliseconds)"]
            for identity in s.identities { emulatorArguments += ["--latency-identity", identity] }
        }
        let seeding = ContinuousClock.now
        let emulator = try Child(
            name: "kube-emulator", binary: s.emulatorBinary, arguments: emulatorArguments, cpus: s.emulatorCPUs, log: path("kube-emulator.log"),
            stdout: path("kube-emulator.url"))
        var replicas: [String: (child: Child, port: Int)] = [:]
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        var clients: [KubernetesClient] = []
        var tasks: [Task<Void, Never>] = []
        func cleanUp() async {
            for task in tasks { task.cancel() }
            for task in tasks { await task.value }
            for (_, replica) in replicas { await replica.child.stop() }
            await emulator.stop()
            for client in clients { try? await client.shutdown() }
            try? await http.shutdown()
        }
        do {
            guard let url = await waitForLine(path("kube-emulator.url"), child: emulator, timeout: .seconds(600)) else {
                throw BenchError("kube-emulator did not start; see \(path("kube-emulator.log"))")
            }
            print(String(format: "kube-emulator at %@ (pid %d): seeded in %.1f s", url, emulator.pid, ms(ContinuousClock.now - seeding) / 1000))

            var benchConfiguration = ClusterConfiguration(server: url, credentials: .token("token-bench"))
            benchConfiguration.queriesPerSecond = 1_000
            benchConfiguration.burst = 1_000
            benchConfiguration.requestTimeout = .seconds(60)
            let bench = try KubernetesClient(configuration: benchConfiguration)
            clients.append(bench)
            var loadConfiguration = ClusterConfiguration(server: url, credentials: .token("token-loadgen"))
            loadConfiguration.queriesPerSecond = 1_000_000
            loadConfiguration.burst = 1_000_000
            loadConfiguration.requestTimeout = .seconds(30)
            let loadgen = try KubernetesClient(configuration: loadConfiguration)
            clients.append(loadgen)
            let auditStart = try await fetchAudit(bench, since: Int.max / 2).total

            let capture = SnapshotCapture(manifestName: Settings.manifestName)
            let statusClient = StatusClient(http: http)
            let poller = StatusPoller(client: statusClient)
            let sampler = CPUSampler()
            sampler.watch(emulator.pid)
            let logger = quiet
            tasks.append(Task { await capture.run(client: bench, namespace: Settings.namespace, logger: logger) })
            tasks.append(Task { await poller.run() })
            tasks.append(Task { await sampler.run() })

            // The replicas, all at once, as a Deployment's pods would start.
            let configPath = path("targetallocator.yaml")
            try workload.allocatorConfig(
                leaseDuration: s.leaseDuration.configString, renewDeadline: s.renewDeadline.configString,
                retryPeriod: s.retryPeriod.configString, minWriteInterval: s.minWriteInterval.configString
            ).write(toFile: configPath, atomically: true, encoding: .utf8)
            let started = Date()
            for identity in s.identities {
                let kubeconfig = path("\(identity).kubeconfig")
                try writeKubeconfig(path: kubeconfig, server: url, token: "token-\(identity)")
                let child = try Child(
                    name: identity, binary: s.allocatorBinary,
                    arguments: [
                        "--config-file", configPath, "--listen-addr", "127.0.0.1:0", "--kubeconfig-path", kubeconfig, "--identity", identity,
                        "--event-loop-threads", "1", "--log-level", "info",
                    ],
                    cpus: s.replicaCPUs, environment: ["POD_NAMESPACE": Settings.namespace], log: path("\(identity).log"))
                sampler.watch(child.pid)
                replicas[identity] = (child, 0)
            }
            for identity in s.identities {
                guard let child = replicas[identity]?.child,
                    let port = await child.waitForLog(timeout: .seconds(60), { Self.listeningPort(in: $0) })
                else { throw BenchError("\(identity) did not start serving; see \(path("\(identity).log"))") }
                replicas[identity] = (child, port)
                poller.add(identity: identity, port: port)
            }

            // Phase 1: the initial list, until every replica serves every scraped pod.
            Report.section("initial list")
            let scraped = (0..<s.pods).count { workload.isScraped(seeded: $0) }
            let everyoneServes = await poller.wait(timeout: .seconds(Int64(s.initialTimeoutSeconds))) { latest in
                s.identities.allSatisfy { (latest[$0]?.targets ?? 0) >= scraped }
            }
            print(
                everyoneServes
                    ? String(format: "every replica serves the %d scraped pods %.1f s after they started", scraped, Date().timeIntervalSince(started))
                    : "not every replica serves the \(scraped) scraped pods after \(s.initialTimeoutSeconds) s; going on")

            // Phase 2: churn.
            Report.section("churn")
            let plan = PodChange.plan(workload, count: s.churnPerSecond * s.churnSeconds)
            let churnStart = Date()
            let benchCPUStart = processCPUSeconds()
            let outcome = await ChurnGenerator(client: loadgen, workload: workload).run(plan, perSecond: Double(s.churnPerSecond))
            let churnEnd = Date()
            let benchCPU = (processCPUSeconds() - benchCPUStart) / churnEnd.timeIntervalSince(churnStart)
            print(
                String(
                    format: "%d changes (%d writes, %d failed) in %.1f s", plan.count, outcome.writes, outcome.failed.count, ms(outcome.elapsed) / 1000))

            // Phase 3: steady state, until the leader has caught up: no snapshot written for 10 s
            // and the leader process nearly idle (under a tenth of a core over the last 5 s).
            Report.section("steady state")
            let steadyStart = ContinuousClock.now
            let steadySettled = await settle(
                bench, capture: capture, sampler: sampler, replicas: replicas, since: churnEnd, minimum: .seconds(s.steadySeconds),
                maximum: .seconds(s.steadyMaxSeconds))
            print(
                String(
                    format: "%.0f s%@; last snapshot %@, %.0f s before its end", ms(ContinuousClock.now - steadyStart) / 1000,
                    steadySettled ? "" : " (the leader had not settled)", capture.latest.map { "\($0.version)" } ?? "none",
                    Date().timeIntervalSince(capture.latest?.seenAt ?? churnEnd)))
            let leader = try await currentLeader(bench)
            var memory: [String: (resident: Int, peak: Int)] = [:]
            for (identity, replica) in replicas { memory[identity] = ProcStats.memory(replica.child.pid) }

            // Phase 4: kill -9 of the leader, or a stall of the API server.
            var failover: (killed: String, at: Date, before: Version?, polls: SurvivorPoller.Tally, served: Date?, settled: Bool)?
            var stall: (leader: String?, from: Date, to: Date, before: Version?, recovered: Bool)?
            if !s.slowAPI, let leader, let victim = replicas[leader] {
                Report.section("kill -9 of the leader (\(leader))")
                let before = capture.latest?.version
                let survivors = replicas.filter { $0.key != leader }.map { (identity: $0.key, port: $0.value.port) }
                let survivorPoller = SurvivorPoller(client: statusClient)
                let collectors = (0..<s.collectors).map { "collector-\($0)" }
                let polling = Task { await survivorPoller.run(survivors: survivors, job: ScaleWorkload.jobName, collectors: collectors) }
                try await Task.sleep(for: .seconds(2))
                let killedAt = Date()
                victim.child.kill9()
                poller.remove(identity: leader)
                let recovered = await poller.wait(timeout: .seconds(180)) { latest in
                    survivors.allSatisfy { (latest[$0.identity]?.epoch ?? 0) > (before?.epoch ?? 0) }
                }
                // The new term's first write is the committed state again; moves would come with
                // the writes after the new leader's own discovery, so wait until it has settled
                // (the poller goes on throughout).
                let settleStart = ContinuousClock.now
                let settled = await settle(
                    bench, capture: capture, sampler: sampler, replicas: replicas, since: killedAt, minimum: .seconds(10), maximum: .seconds(150))
                polling.cancel()
                await polling.value
                // When the last survivor installed the new epoch (its own clock; nil if not yet).
                let served = survivors.map { poller.firstServing($0.identity, atLeast: Version(epoch: (before?.epoch ?? 0) + 1, generation: 0))?.installedAt }
                failover = (leader, killedAt, before, survivorPoller.result, served.contains { $0 == nil } ? nil : served.compactMap { $0 }.max(), settled)
                print(recovered ? "both survivors serve the new leader's epoch" : "the survivors did not serve a new epoch within 180 s")
                print(
                    String(
                        format: "the new leader %@ %.0f s later (no snapshot for 10 s, under a tenth of a core for 5 s)",
                        settled ? "settled" : "had not settled", ms(ContinuousClock.now - settleStart) / 1000))
            } else if s.slowAPI {
                Report.section("API stall: \(s.stallMilliseconds) ms per request for \(s.stallSeconds) s (leader \(leader ?? "none"))")
                let before = capture.latest?.version
                let from = Date()
                for identity in s.identities { try await setLatency(bench, identity: identity, milliseconds: s.stallMilliseconds) }
                try await Task.sleep(for: .seconds(s.stallSeconds))
                for identity in s.identities { try await setLatency(bench, identity: identity, milliseconds: s.latencyMilliseconds) }
                let to = Date()
                let recovered = await poller.wait(timeout: .seconds(120)) { latest in
                    s.identities.allSatisfy { (latest[$0]?.epoch ?? 0) > (before?.epoch ?? 0) }
                }
                stall = (leader, from, to, before, recovered)
                print(recovered ? "every replica serves a new epoch after the stall" : "no new epoch served within 120 s of the stall's end")
                // Watch a while longer for flapping at the slow latency.
                try await Task.sleep(for: .seconds(20))
            }
            let ended = Date()

            // Figures.
            let audit = try await fetchAudit(bench, since: auditStart).entries
            let analysis = Analysis(settings: s, audit: audit, capture: capture, poller: poller)
            let cutoff = failover?.at ?? stall?.from ?? ended
            var report = Figures(settings: s)
            report.leadership(analysis, cutoff: cutoff, slowAPI: s.slowAPI)
            let died = failover.map { [$0.killed: $0.at] } ?? [:]
            let scan = analysis.scan(workload: workload, plan: plan, failed: outcome.failed, replicas: s.identities, died: died)
            report.completeness(scan)
            if s.slowAPI {
                report.showOnly("(slow API: the next figures are shown without a verdict; their targets assume a responsive API server)")
            }
            report.initial(analysis, scan: scan, sampler: sampler, pids: replicas.mapValues { $0.child.pid })
            report.churn(
                scan, outcome: outcome, plan: plan, cpu: (emulatorBusy(sampler, pid: emulator.pid, from: churnStart, to: churnEnd), benchCPU))
            report.memory(memory, leader: leader)
            report.judgeAgain()
            if !s.slowAPI && failover == nil { report.noLeaderToKill() }
            if let failover {
                report.failover(
                    analysis.failover(killed: failover.killed, at: failover.at, before: failover.before), killedAt: failover.at,
                    polls: failover.polls, served: failover.served, settled: failover.settled)
            }
            if let stall {
                report.stall(analysis, leader: stall.leader, before: stall.before, from: stall.from, to: stall.to, recovered: stall.recovered)
            }
            report.fencing(analysis)
            report.summary(loadAverage: loadAverage(), took: ContinuousClock.now - began)
        } catch {
            await cleanUp()
            throw error
        }
        await cleanUp()
    }

    // MARK: - helpers

    /// Waits at least `minimum` and until the leader has caught up: no snapshot seen for 10 s
    /// (or since `since`) and the leader process under a tenth of a core over the last 5 s;
    /// at most `maximum`. False when `maximum` passed first.
    private func settle(
        _ client: KubernetesClient, capture: SnapshotCapture, sampler: CPUSampler, replicas: [String: (child: Child, port: Int)], since: Date,
        minimum: Duration, maximum: Duration
    ) async -> Bool {
        let start = ContinuousClock.now
        while true {
            let elapsed = ContinuousClock.now - start
            let quietFor = Date().timeIntervalSince(max(capture.latest?.seenAt ?? since, since))
            var leaderIdle = false
            if let holder = try? await currentLeader(client), let pid = replicas[holder]?.child.pid,
                let now = sampler.cpu(pid, at: Date()), let before = sampler.cpu(pid, at: Date().addingTimeInterval(-5))
            {
                leaderIdle = now - before < 0.5
            }
            if elapsed >= minimum && quietFor >= 10 && leaderIdle { return true }
            if elapsed >= maximum { return false }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// The port in a replica's "serving HTTP" log line (`http=[IPv4]127.0.0.1/127.0.0.1:PORT`).
    static func listeningPort(in log: String) -> Int? {
        guard let line = log.split(separator: "\n").first(where: { $0.contains("serving HTTP") }),
            let field = line.split(separator: " ").first(where: { $0.hasPrefix("http=") }),
            let colon = field.lastIndex(of: ":")
        else { return nil }
        return Int(field[field.index(after: colon)...])
    }

    private func waitForLine(_ file: String, child: Child, timeout: Duration) async -> String? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, child.isRunning {
            if let text = try? String(contentsOfFile: file, encoding: .utf8), let end = text.firstIndex(of: "\n") { return String(text[..<end]) }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }

    private func fetchAudit(_ client: KubernetesClient, since: Int) async throws -> (entries: [AuditEntry], total: Int) {
        let data = try await client.send(.GET, "/_emulator/audit", query: [("since", String(since))])
        let json = try JSONValue.parse(Array(data))
        guard let total = json["total"]?.integerValue, case .array(let items)? = json["entries"] else {
            throw BenchError("the emulator's audit feed did not parse")
        }
        return (items.compactMap(AuditEntry.init(json:)), Int(total))
    }

    private func setLatency(_ client: KubernetesClient, identity: String, milliseconds: Int) async throws {
        _ = try await client.send(.PUT, "/_emulator/latency", query: [("identity", identity), ("milliseconds", String(milliseconds))])
    }

    private func currentLeader(_ client: KubernetesClient) async throws -> String? {
        let lease = try? await client.get(Lease.self, namespace: Settings.namespace, name: Settings.leaseName)
        return lease?.spec?.holderIdentity.flatMap { $0.isEmpty ? nil : $0 }
    }

    private func emulatorBusy(_ sampler: CPUSampler, pid: Int32, from: Date, to: Date) -> Double? {
        guard let a = sampler.cpu(pid, at: from), let b = sampler.cpu(pid, at: to), to > from else { return nil }
        return (b - a) / to.timeIntervalSince(from)
    }
}

/// CPU seconds this process has used (all threads).
func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
