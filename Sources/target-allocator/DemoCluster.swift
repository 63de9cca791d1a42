import AsyncHTTPClient
import Foundation
import HTTPServer
import JSON
import KubernetesClient
import KubernetesEmulator
import Logging
import NIOCore
import NIOPosix
import SampleWorkload
import TargetAllocator

/// The demo's cluster: the emulator, its sample objects and the replicas, with the means to
/// stop and restart a replica (chaos) and to print what every replica serves.
actor DemoCluster {
    static let namespace = "observability"

    struct Member {
        var identity: String
        var port: Int
        var client: KubernetesClient
        var replica: Replica?
        var task: Task<Void, Never>?
    }

    private let emulator: KubernetesEmulator
    private let admin: KubernetesClient
    private let group: MultiThreadedEventLoopGroup
    private let http: HTTPClient
    private let config: AllocatorConfig
    private let logger: Logger
    private var members: [Member]
    private let started = ContinuousClock.now

    private init(
        emulator: KubernetesEmulator, admin: KubernetesClient, group: MultiThreadedEventLoopGroup, config: AllocatorConfig,
        members: [Member], logger: Logger
    ) {
        self.emulator = emulator
        self.admin = admin
        self.group = group
        self.config = config
        self.members = members
        self.logger = logger
        http = HTTPClient(eventLoopGroupProvider: .shared(group))
    }

    static func start(replicas: Int, collectors: Int, targets: Int, basePort: Int, logger: Logger) async throws -> DemoCluster {
        var tokens = ["demo-admin-token": "demo-admin"]
        for i in 0..<replicas { tokens["replica-\(i)-token"] = "target-allocator-\(i)" }
        var emulatorConfiguration = KubernetesEmulator.Configuration()
        emulatorConfiguration.tokens = tokens
        emulatorConfiguration.port = 0
        let emulator = try await KubernetesEmulator.start(emulatorConfiguration)
        let admin = try KubernetesClient(configuration: ClusterConfiguration(server: emulator.url, credentials: .token("demo-admin-token")))
        try await SampleWorkload.seed(admin: admin, emulator: emulator, namespace: namespace, collectors: collectors, targets: targets)
        let config = try AllocatorConfig.parse(SampleWorkload.config(namespace: namespace, targets: targets))

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var members: [Member] = []
        for i in 0..<replicas {
            let client = try KubernetesClient(
                configuration: ClusterConfiguration(server: emulator.url, credentials: .token("replica-\(i)-token")))
            members.append(Member(identity: "target-allocator-\(i)", port: basePort == 0 ? 0 : basePort + i, client: client))
        }
        let cluster = DemoCluster(emulator: emulator, admin: admin, group: group, config: config, members: members, logger: logger)
        say("Kubernetes API emulator: \(emulator.url)   (kubectl: --server \(emulator.url) --token demo-admin-token)")
        for i in 0..<replicas { try await cluster.startMember(i) }
        return cluster
    }

    private func startMember(_ index: Int) async throws {
        var member = members[index]
        var settings = ReplicaSettings(identity: member.identity)
        settings.listenAddress = ListenAddress(host: "127.0.0.1", port: member.port)
        settings.cluster = try ClusterRole.standard(
            config: config, client: member.client, identity: member.identity, namespace: Self.namespace,
            logger: Logger(label: member.identity))
        let replica = try Replica(settings: settings, group: group, logger: Logger(label: member.identity))
        member.replica = replica
        member.task = Task { try? await replica.run() }
        let bound = try await replica.addresses()
        if member.port == 0 { member.port = bound.plain?.port ?? 0 }
        members[index] = member
        say("replica \(member.identity): http://127.0.0.1:\(member.port)  (try /jobs, /status, /metrics)")
    }

    private func stopMember(_ index: Int) async {
        members[index].task?.cancel()
        await members[index].task?.value
        members[index].task = nil
        members[index].replica = nil
    }

    func stop() async {
        for i in members.indices { await stopMember(i) }
        try? await http.shutdown()
        for member in members { try? await member.client.shutdown() }
        try? await admin.shutdown()
        try? await emulator.shutdown()
        try? await group.shutdownGracefully()
    }

    /// Stops the leader, waits for another replica to take over, then brings it back.
    /// Rounds alternate between a crash (the API server stops answering the leader, which
    /// then dies without releasing its Lease) and a graceful shutdown (which releases it).
    func chaos(every interval: Duration) async {
        var round = 0
        while !Task.isCancelled {
            round += 1
            let crash = round % 2 == 1
            do { try await Task.sleep(for: interval) } catch { return }
            guard let index = members.firstIndex(where: { $0.replica?.elector?.leadership.isLeader == true }) else { continue }
            let name = members[index].identity
            let stopped = ContinuousClock.now
            if crash {
                say("chaos: crashing the leader \(name) (its Lease is not released)")
                emulator.partition(name, mode: .refuse)
                await stopMember(index)
                emulator.heal(name)
            } else {
                say("chaos: shutting the leader \(name) down gracefully (it releases its Lease)")
                await stopMember(index)
            }
            var successor: String?
            while successor == nil, !Task.isCancelled, ContinuousClock.now - stopped < .seconds(60) {
                successor = members.first { $0.replica?.elector?.leadership.isLeader == true }?.identity
                if successor == nil { try? await Task.sleep(for: .milliseconds(100)) }
            }
            if let successor {
                say("chaos: \(successor) leads after \(format(ContinuousClock.now - stopped))")
            }
            do {
                try await startMember(index)
                say("chaos: \(name) is back as a follower")
            } catch {
                say("chaos: restarting \(name) failed: \(error)")
            }
        }
    }

    /// Prints, per replica, what it serves (leader, epoch/generation, per-collector counts).
    func report(every interval: Duration) async {
        while !Task.isCancelled {
            await printSummary()
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }

    private func printSummary() async {
        say("\n— \(format(ContinuousClock.now - started)) —")
        var loads: String?
        for member in members {
            guard member.replica != nil else {
                say("  \(member.identity.padding(toLength: 20, withPad: " ", startingAt: 0)) stopped")
                continue
            }
            guard let status = await fetchStatus(port: member.port) else {
                say("  \(member.identity.padding(toLength: 20, withPad: " ", startingAt: 0)) not answering")
                continue
            }
            let role = status["is_leader"] == .bool(true) ? "LEADER  " : "follower"
            let epoch = status["epoch"]?.numberText ?? "-"
            let generation = status["generation"]?.numberText ?? "-"
            let targets = status["targets"]?.numberText ?? "-"
            say(
                "  \(member.identity.padding(toLength: 20, withPad: " ", startingAt: 0)) \(role) epoch \(epoch) generation \(generation) targets \(targets)  http://127.0.0.1:\(member.port)"
            )
            if loads == nil, case .object(let collectors)? = status["collectors"] {
                loads = collectors.map { "\($0.key)=\($0.value.numberText)" }.joined(separator: "  ")
            }
        }
        if let loads { say("  targets per collector: \(loads)") }
    }

    private func fetchStatus(port: Int) async -> JSONValue? {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/status")
        request.method = .GET
        do {
            let response = try await http.execute(request, timeout: .seconds(2))
            let body = try await response.body.collect(upTo: 1 << 20)
            return try JSONValue.parse(String(buffer: body))
        } catch {
            return nil
        }
    }

    private func format(_ duration: Duration) -> String {
        let ms = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        return String(format: "%.1fs", Double(ms) / 1000)
    }
}

