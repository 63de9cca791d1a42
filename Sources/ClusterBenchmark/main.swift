// Cluster benchmarks against the in-process API emulator:
//  1. informer over 10,000 pods: initial list, then a burst of updates through the watch
//     (issue 3 target: ≥ 20,000 events/s applied into the cache), and memory;
//  2. snapshot propagation: leader write → every follower serving it (issue 5 target: p99 ≤ 1 s);
//  3. failover: crashed leader → new leader, and → every survivor serving the new epoch;
//  4. graceful handover: stopped leader releases → new leader.
// Run: swift run -c release cluster-bench [--quick]
// The informer alone on one core, the emulator on another: make bench-informer (scripts/bench-informer.sh).
import Foundation
import HTTPServer
import JSON
import KubernetesClient
import KubernetesEmulator
import Logging
import NIOConcurrencyHelpers
import NIOPosix
import TargetAllocator

let quick = CommandLine.arguments.contains("--quick")
let quiet = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
let clock = ContinuousClock()

func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }
func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
}
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
        let pages = Int(text.split(separator: " ").dropFirst().first ?? "")
    else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}
/// CPU seconds this process has used (all threads): the informer's own cost, whatever else runs on its core.
func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
/// The CPUs this process may run on (taskset), as the kernel lists them.
func allowedCPUs() -> String {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") }
    return line.map { $0.dropFirst("Cpus_allowed_list:".count).trimmingCharacters(in: .whitespaces) } ?? "?"
}
func row(_ name: String, _ value: String, _ target: String = "", _ pass: Bool? = nil) {
    let verdict = pass.map { $0 ? "PASS" : "FAIL" } ?? ""
    print(
        name.padding(toLength: 52, withPad: " ", startingAt: 0) + " | " + value.padding(toLength: 26, withPad: " ", startingAt: 0)
            + " | " + target.padding(toLength: 14, withPad: " ", startingAt: 0) + " | " + verdict)
}

func startEmulator(tokens: [String: String]) async throws -> KubernetesEmulator {
    var configuration = KubernetesEmulator.Configuration()
    configuration.tokens = tokens
    configuration.logger = quiet
    return try await KubernetesEmulator.start(configuration)
}

// MARK: - 1. informer

/// Lists through an informer, then counts `updates` watch updates as the cache applies them.
/// `feed` writes the updates; without it the server generates them (`kube-emulator --burst-updates`).
func measureInformer(server: String, token: String, pods: Int, updates: Int, feed: (@Sendable () async -> Void)?) async throws {
    let client = try KubernetesClient(configuration: ClusterConfiguration(server: server, credentials: .token(token)))
    let before = residentBytes()
    let informer = Informer<Pod>(client: client, options: .init(), logger: quiet)
    let events = informer.events()
    let listStart = clock.now
    let running = Task { await informer.run() }
    await informer.waitForSync()
    let listTime = clock.now - listStart
    let afterList = residentBytes()
    row("informer: initial list of \(informer.count) pods", String(format: "%.0f ms (%.0f objects/s)", ms(listTime), Double(informer.count) / ms(listTime) * 1000))
    row("informer: cache memory for \(pods) pods", String(format: "%.1f MiB (%.1f KiB/pod)", Double(afterList - before) / 1_048_576, Double(afterList - before) / 1024 / Double(pods)))

    // Count updates as the cache applies them; a stalled feed ends the informer after a minute.
    let counted = Task {
        var n = 0
        var first: (time: ContinuousClock.Instant, cpu: Double)?
        for await event in events {
            if case .updated = event {
                if first == nil { first = (clock.now, processCPUSeconds()) }
                n += 1
                if n == updates { break }
            }
        }
        let last = (time: clock.now, cpu: processCPUSeconds())
        return (n, first ?? last, last)
    }
    let watchdog = Task {
        try await Task.sleep(for: .seconds(60))
        running.cancel()
    }
    let feedStart = clock.now
    await feed?()
    let (n, first, last) = await counted.value
    watchdog.cancel()
    let applyRate = Double(n) / ms(last.time - first.time) * 1000
    row(
        "informer: \(n)\(n < updates ? " of \(updates)" : "") watch updates applied", String(format: "%.0f/s = %.2f× target", applyRate, applyRate / 20_000),
        "≥ 20000/s", n == updates && applyRate >= 20_000)
    if feed != nil {
        row("  (end-to-end incl. emulator encode)", String(format: "%.0f events/s", Double(n) / ms(last.time - feedStart) * 1000))
    } else {
        // The informer's own cost: the wall-clock rate is capped by the server and by whatever else shares the core.
        let cpu = last.cpu - first.cpu
        row("  per CPU-second of this process", String(format: "%.0f events (%.0f%% busy)", Double(n) / cpu, cpu / ms(last.time - first.time) * 100_000))
    }
    row("informer: resident memory after the updates", String(format: "%.1f MiB", Double(residentBytes()) / 1_048_576))
    running.cancel()
    await running.value
    try await client.shutdown()
}

/// The informer and the emulator in this process; the updates are written straight into its store.
func informerBenchmark() async throws {
    let pods = 10_000
    let updates = quick ? 20_000 : 100_000
    let emulator = try await startEmulator(tokens: ["t": "bench"])
    emulator.loadPods(count: pods, namespace: "default", nodes: 50)
    // A burst: updates fed through the watch as fast as the emulator emits them.
    try await measureInformer(server: emulator.url, token: "t", pods: pods, updates: updates) {
        let labels = JSONValue.object([JSONMember("app", .string("bench"))])
        var generation = 1
        var sent = 0
        while sent < updates {
            let batch = (0..<min(1_000, updates - sent)).map { i in
                KubernetesEmulator.benchmarkPod(index: (sent + i) % pods, namespace: "default", nodes: 50, labels: labels, generation: generation)
            }
            emulator.seed(.pods, batch)
            sent += batch.count
            if sent % pods == 0 { generation += 1 }
            await Task.yield()
        }
    }
    try await emulator.shutdown()
}

// MARK: - 2 and 3. a cluster of replicas

final class BenchCluster: Sendable {
    let emulator: KubernetesEmulator
    let admin: KubernetesClient
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    let config: AllocatorConfig
    let members: NIOLockedValueBox<[String: (replica: Replica, client: KubernetesClient, task: Task<Void, Never>)]> = .init([:])

    init(targets: Int) async throws {
        var tokens = ["admin": "admin"]
        for i in 0..<3 { tokens["t\(i)"] = "ta-\(i)" }
        emulator = try await startEmulator(tokens: tokens)
        admin = try KubernetesClient(configuration: ClusterConfiguration(server: emulator.url, credentials: .token("admin")))
        var yaml = """
            collector_namespace: ta
            collector_selector: {matchlabels: {app: collector}}
            leader_election: {lease_duration: 3s, renew_deadline: 2s, retry_period: 500ms}
            snapshot: {min_write_interval: 100ms}
            config:
              scrape_configs:
              - job_name: bench
                static_configs:

            """
        for g in 0..<(targets / 100) {
            let addresses = (0..<100).map { "\"10.\(g / 250).\(g % 250).\($0 + 1):9100\"" }
            yaml += "      - targets: [\(addresses.joined(separator: ","))]\n        labels: {group: g\(g), team: t\(g % 7)}\n"
        }
        config = try AllocatorConfig.parse(yaml)
        _ = try await admin.create(Namespace(metadata: ObjectMeta(name: "ta")))
        for c in 0..<3 { try await setCollector(c, present: true) }
        for i in 0..<3 { try await start(i) }
    }

    func setCollector(_ c: Int, present: Bool) async throws {
        if !present {
            try await admin.delete(Pod.self, namespace: "ta", name: "collector-\(c)")
            return
        }
        var pod = Pod(
            metadata: ObjectMeta(name: "collector-\(c)", namespace: "ta", labels: ["app": "collector"]),
            spec: .init(nodeName: "node-\(c)", containers: [.init(name: "otelcol")]))
        pod = try await admin.create(pod)
        pod.status = .init(phase: "Running", podIP: "10.9.0.\(c + 1)", conditions: [.init(type: "Ready", status: "True")])
        _ = try await admin.updateStatus(pod)
    }

    func start(_ i: Int) async throws {
        let client = try KubernetesClient(configuration: ClusterConfiguration(server: emulator.url, credentials: .token("t\(i)")))
        var settings = ReplicaSettings(identity: "ta-\(i)")
        settings.listenAddress = ListenAddress(host: "127.0.0.1", port: 0)
        settings.cluster = try ClusterRole.standard(config: config, client: client, identity: "ta-\(i)", namespace: "ta", logger: quiet)
        let replica = try Replica(settings: settings, group: group, logger: quiet)
        let task = Task { _ = try? await replica.run() }
        _ = try await replica.addresses()
        members.withLockedValue { $0["ta-\(i)"] = (replica, client, task) }
    }

    /// Stops a replica: a crash cuts it off from the API server first (no release), a graceful
    /// stop lets it release the lease as SIGTERM would.
    func stop(_ identity: String, crash: Bool) async {
        guard let member = members.withLockedValue({ $0.removeValue(forKey: identity) }) else { return }
        if crash { emulator.partition(identity, mode: .refuse) }
        member.task.cancel()
        await member.task.value
        try? await member.client.shutdown()
        if crash { emulator.heal(identity) }
    }

    /// When the API server accepted the first Lease write by someone else after `previous`'s last one.
    func takeover(from previous: String) -> Date? { emulator.auditLog.leaseTakeover(from: previous)?.next.time }

    var leader: String? { members.withLockedValue { $0.first { $0.value.replica.elector?.leadership.isLeader == true }?.key } }
    func served() -> [String: (epoch: UInt64, generation: UInt64)?] {
        members.withLockedValue { $0.mapValues { $0.replica.responder.installed } }
    }

    /// Waits (polling every millisecond) until every replica serves at least `target`; returns when each got there.
    func waitServed(atLeast target: (UInt64, UInt64), timeout: Duration = .seconds(60)) async -> [String: ContinuousClock.Instant]? {
        var reached: [String: ContinuousClock.Instant] = [:]
        let start = clock.now
        while clock.now - start < timeout {
            for (identity, value) in served() where reached[identity] == nil {
                if let value, (value.epoch, value.generation) >= target { reached[identity] = clock.now }
            }
            if reached.count == members.withLockedValue({ $0.count }) { return reached }
            try? await Task.sleep(for: .milliseconds(1))
        }
        return nil
    }

    func shutdown() async {
        for identity in members.withLockedValue({ Array($0.keys) }) {
            guard let member = members.withLockedValue({ $0.removeValue(forKey: identity) }) else { continue }
            member.task.cancel()
            await member.task.value
            try? await member.client.shutdown()
        }
        try? await admin.shutdown()
        try? await emulator.shutdown()
        try? await group.shutdownGracefully()
    }
}

func clusterBenchmarks() async throws {
    let targets = 10_000
    let cluster = try await BenchCluster(targets: targets)
    guard await cluster.waitServed(atLeast: (1, 1)) != nil else {
        print("cluster did not converge")
        await cluster.shutdown()
        return
    }
    // Propagation: each round changes the collector set, which makes the leader write; the
    // latency runs from the API server accepting the manifest update (its audit time) to each
    // follower serving that generation (wall clock, both on this machine).
    var latencies: [Double] = []
    let rounds = quick ? 10 : 40
    for round in 0..<rounds {
        guard let leader = cluster.leader, let current = cluster.served()[leader] ?? nil else { continue }
        try await cluster.setCollector(3, present: round % 2 == 0)
        var served: [String: Date] = [:]
        var target: (UInt64, UInt64)?
        let started = clock.now
        while clock.now - started < .seconds(30) {
            for (identity, value) in cluster.served() where identity != leader && served[identity] == nil {
                if let value, (value.epoch, value.generation) > (current.epoch, current.generation) {
                    served[identity] = Date()
                    target = (value.epoch, value.generation)
                }
            }
            if served.count == 2 { break }
            try await Task.sleep(for: .milliseconds(1))
        }
        let manifestWrites = cluster.emulator.auditLog.filter {
            $0.resource == "configmaps" && $0.name == "target-allocator-snapshot" && $0.identity == leader
        }
        guard target != nil, served.count == 2, let written = manifestWrites.last?.time else { continue }
        for instant in served.values { latencies.append(max(0, instant.timeIntervalSince(written) * 1000)) }
        _ = await cluster.waitServed(atLeast: target!)
    }
    let p50 = percentile(latencies, 0.5)
    let p99 = percentile(latencies, 0.99)
    row("propagation, \(targets)-target snapshot (\(latencies.count) samples)", String(format: "p50 %.0f ms, p99 %.0f ms", p50, p99), "p99 ≤ 1000 ms", p99 <= 1000)

    // Failover after a crash (no release), lease 3 s / renew 2 s / retry 0.5 s.
    var elections: [Double] = []
    var serving: [Double] = []
    let crashes = quick ? 2 : 5
    for i in 0..<crashes {
        guard let leader = cluster.leader, let epoch = cluster.served()[leader]??.epoch else { break }
        let crashed = clock.now
        let crashedAt = Date()
        await cluster.stop(leader, crash: true)
        while cluster.leader == nil, clock.now - crashed < .seconds(60) { try await Task.sleep(for: .milliseconds(1)) }
        // When the API server accepted the successor's takeover, not when we noticed it.
        if let acquired = cluster.takeover(from: leader) { elections.append(max(0, acquired.timeIntervalSince(crashedAt) * 1000)) }
        if let reached = await cluster.waitServed(atLeast: (epoch + 1, 0)) {
            serving.append(ms((reached.values.max() ?? clock.now) - crashed))
        }
        try await cluster.start(Int(leader.dropFirst(3)) ?? i)
    }
    row("failover: crash → new leader (\(elections.count) runs)", String(format: "median %.0f ms, max %.0f ms", percentile(elections, 0.5), elections.max() ?? .nan), "≤ 4000 ms", (elections.max() ?? .infinity) <= 4000)
    row("failover: crash → all serve the new epoch", String(format: "median %.0f ms, max %.0f ms", percentile(serving, 0.5), serving.max() ?? .nan))

    // Graceful handover (SIGTERM): the leader winds down, releases, a follower takes over on
    // its next retry. Target: about 2 × retry period (client-go's jitter makes it 0.5–1.1 s).
    var handovers: [Double] = []
    for i in 0..<(quick ? 3 : 8) {
        guard let leader = cluster.leader else { break }
        let stopped = clock.now
        let stoppedAt = Date()
        await cluster.stop(leader, crash: false)
        while cluster.leader == nil, clock.now - stopped < .seconds(60) { try await Task.sleep(for: .milliseconds(1)) }
        if let acquired = cluster.takeover(from: leader) { handovers.append(max(0, acquired.timeIntervalSince(stoppedAt) * 1000)) }
        try await cluster.start(Int(leader.dropFirst(3)) ?? i)
    }
    row(
        "graceful handover: stop → new leader (\(handovers.count) runs)",
        String(format: "median %.0f ms, max %.0f ms", percentile(handovers, 0.5), handovers.max() ?? .nan), "≤ 1200 ms",
        (handovers.max() ?? .infinity) <= 1200)
    await cluster.shutdown()
}

/// `--informer-only --server URL`: only the informer, in this process, against an API server
/// elsewhere that generates the updates itself (scripts/bench-informer.sh pins each to its own core).
func option(_ name: String) -> String? {
    CommandLine.arguments.firstIndex(of: name).flatMap { $0 + 1 < CommandLine.arguments.count ? CommandLine.arguments[$0 + 1] : nil }
}

if CommandLine.arguments.contains("--informer-only") {
    guard let server = option("--server") else { fatalError("--informer-only needs --server URL") }
    let pods = Int(option("--pods") ?? "") ?? 10_000
    let updates = Int(option("--updates") ?? "") ?? 100_000
    print("cluster-bench informer only, on CPU \(allowedCPUs()), server \(server)")
    try await measureInformer(server: server, token: option("--token") ?? "t", pods: pods, updates: updates, feed: nil)
} else {
    print("cluster-bench (\(quick ? "quick" : "full")), \(ProcessInfo.processInfo.activeProcessorCount) cores")
    try await informerBenchmark()
    try await clusterBenchmarks()
}
