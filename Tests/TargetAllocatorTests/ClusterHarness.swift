import AsyncHTTPClient
import Foundation
import HTTPServer
import JSON
import KubernetesClient
import KubernetesEmulator
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import TargetAllocator
import Testing

/// Several in-process replicas against the emulator, with short lease timings: what the
/// cluster tests start, crash, partition and poll.
final class ClusterHarness: Sendable {
    static let namespace = "observability"
    static let leaseDuration = 3
    static let renewDeadline = Duration.seconds(2)
    static let retryPeriod = Duration.milliseconds(500)

    let emulator: KubernetesEmulator
    let admin: KubernetesClient
    let http: HTTPClient
    let group: MultiThreadedEventLoopGroup
    let config: AllocatorConfig
    private let members: NIOLockedValueBox<[String: Member]>

    struct Member: Sendable {
        var replica: Replica
        var client: KubernetesClient
        var task: Task<Void, Never>
        var port: Int
    }

    static func identity(_ i: Int) -> String { "ta-\(i)" }

    /// Set to follow a config file (hot reload), checked every 200 ms.
    let reloadPath: String?
    /// Wraps each replica's leader work (tests that load the leader).
    let wrapLeaderWork: (@Sendable (any LeaderWork) -> any LeaderWork)?

    init(
        replicas: Int, collectors: Int, targets: Int, configYAML: String? = nil, reloadPath: String? = nil,
        wrapLeaderWork: (@Sendable (any LeaderWork) -> any LeaderWork)? = nil
    ) async throws {
        self.reloadPath = reloadPath
        self.wrapLeaderWork = wrapLeaderWork
        var tokens = ["admin-token": "admin"]
        for i in 0..<6 { tokens["token-\(i)"] = Self.identity(i) }
        var configuration = KubernetesEmulator.Configuration()
        configuration.tokens = tokens
        configuration.logger = Logger(label: "emulator", factory: { _ in SwiftLogNoOpLogHandler() })
        emulator = try await KubernetesEmulator.start(configuration)
        admin = try KubernetesClient(configuration: ClusterConfiguration(server: emulator.url, credentials: .token("admin-token")))
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        http = HTTPClient(eventLoopGroupProvider: .shared(group))
        config = try AllocatorConfig.parse(configYAML ?? Self.configYAML(targets: targets))
        members = NIOLockedValueBox([:])
        replicaCount = replicas
        _ = try await admin.create(Namespace(metadata: ObjectMeta(name: Self.namespace)))
        for c in 0..<collectors { try await addCollector(c) }
    }

    private let replicaCount: Int

    /// Starts the replicas (after a test has put its workload in place, if it wants to).
    func startReplicas() async throws {
        for i in 0..<replicaCount { try await start(i) }
    }

    static func configYAML(targets: Int) -> String {
        var yaml = """
            collector_namespace: \(namespace)
            collector_selector:
              matchlabels:
                app: collector
            collector_not_ready_grace_period: 1s
            leader_election:
              lease_duration: \(leaseDuration)s
              renew_deadline: 2s
              retry_period: 500ms
            snapshot:
              min_write_interval: 100ms
            config:
              scrape_configs:

            """
        for job in ["web", "db/main"] {
            yaml += "  - job_name: \(job)\n    static_configs:\n"
            for g in 0..<(targets / 2 / 10) {
                let addresses = (0..<10).map { "\"\(job == "web" ? 10 : 11).0.\(g).\($0 + 1):9100\"" }
                yaml += "      - targets: [\(addresses.joined(separator: ", "))]\n        labels: {group: g\(g)}\n"
            }
        }
        return yaml
    }

    func addCollector(_ c: Int) async throws {
        try await Self.addCollector(c, admin: admin, namespace: Self.namespace)
    }

    func removeCollector(_ c: Int) async throws {
        try await admin.delete(Pod.self, namespace: Self.namespace, name: "collector-\(c)")
    }

    /// Creates collector pod `collector-<c>` and reports it Running and Ready (the API server
    /// resets status on create, as the kubelet would set it later).
    static func addCollector(_ c: Int, admin: KubernetesClient, namespace: String) async throws {
        var pod = Pod(
            metadata: ObjectMeta(name: "collector-\(c)", namespace: namespace, labels: ["app": "collector"]),
            spec: .init(nodeName: "node-\(c)", containers: [.init(name: "otelcol")]))
        pod = try await admin.create(pod)
        pod.status = .init(phase: "Running", podIP: "10.9.0.\(c + 1)", conditions: [.init(type: "Ready", status: "True")])
        _ = try await admin.updateStatus(pod)
    }

    func start(_ i: Int) async throws {
        let identity = Self.identity(i)
        var clientConfiguration = ClusterConfiguration(server: emulator.url, credentials: .token("token-\(i)"))
        clientConfiguration.requestTimeout = .seconds(5)
        let client = try KubernetesClient(configuration: clientConfiguration)
        var settings = ReplicaSettings(identity: identity)
        settings.listenAddress = ListenAddress(host: "127.0.0.1", port: 0)
        var logger = Logger(label: identity)
        logger.logLevel = ProcessInfo.processInfo.environment["CLUSTER_TEST_LOG"] == nil ? .critical : .info
        var reload = reloadPath.map { ConfigReload(path: $0) }
        reload?.interval = .milliseconds(200)
        var role = try ClusterRole.standard(
            config: config, client: client, identity: identity, namespace: Self.namespace, logger: logger, reload: reload)
        if let wrapLeaderWork {
            let standard = role.pipeline
            role.pipeline = { writer, metrics, committed in wrapLeaderWork(standard(writer, metrics, committed)) }
        }
        settings.cluster = role
        let replica = try Replica(settings: settings, group: group, logger: logger)
        let task = Task { _ = try? await replica.run() }
        let port = try #require(try await replica.addresses().plain?.port)
        members.withLockedValue { $0[identity] = Member(replica: replica, client: client, task: task, port: port) }
    }

    /// Stops a replica: gracefully (it releases the Lease) or as a crash (the API server
    /// refuses it first, so it dies holding the Lease).
    func stop(_ identity: String, crash: Bool) async {
        guard let member = members.withLockedValue({ $0.removeValue(forKey: identity) }) else { return }
        if crash { emulator.partition(identity, mode: .refuse) }
        member.task.cancel()
        await member.task.value
        try? await member.client.shutdown()
        if crash { emulator.heal(identity) }
    }

    var running: [String: Member] { members.withLockedValue { $0 } }

    func port(_ identity: String) -> Int? { running[identity]?.port }

    /// Who leads, as the replicas themselves report it.
    var leaders: [String] {
        running.filter { $0.value.replica.elector?.leadership.isLeader == true }.map(\.key).sorted()
    }

    func shutdown() async {
        for identity in running.keys { await stop(identity, crash: false) }
        try? await http.shutdown()
        try? await admin.shutdown()
        try? await emulator.shutdown()
        try? await group.shutdownGracefully()
    }

    // MARK: - HTTP

    struct Answer: Sendable, Equatable {
        var status: UInt
        var etag: String?
        var body: String
    }

    func get(_ identity: String, _ path: String) async -> Answer? {
        guard let port = port(identity) else { return nil }
        return await get(port: port, path)
    }

    func get(port: Int, _ path: String) async -> Answer? {
        let request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        do {
            let response = try await http.execute(request, timeout: .seconds(5))
            let body = try await response.body.collect(upTo: 16 << 20)
            return Answer(status: response.status.code, etag: response.headers.first(name: "etag"), body: String(buffer: body))
        } catch {
            return nil
        }
    }

    func status(_ identity: String) async -> JSONValue? {
        guard let answer = await get(identity, "/status"), answer.status == 200 else { return nil }
        return try? JSONValue.parse(answer.body)
    }

    /// (epoch, generation) a replica serves.
    func served(_ identity: String) async -> (epoch: Int, generation: Int)? {
        guard let status = await status(identity), case .number(let e)? = status["epoch"], case .number(let g)? = status["generation"],
            let epoch = Int(e), let generation = Int(g)
        else { return nil }
        return (epoch, generation)
    }

    static let jobs = ["web", "db/main"]
    static func targetsPath(job: String, collector: String) -> String {
        "/jobs/\(job.replacingOccurrences(of: "/", with: "%2F"))/targets?collector_id=\(collector)"
    }

    /// Every job × collector answer of one replica.
    func answers(_ identity: String, collectors: [String]) async -> [String: Answer]? {
        var result: [String: Answer] = [:]
        for job in Self.jobs {
            for collector in collectors {
                let path = Self.targetsPath(job: job, collector: collector)
                guard let answer = await get(identity, path), answer.status == 200 else { return nil }
                result[path] = answer
            }
        }
        return result
    }

    /// target address → collector, from one replica's answers.
    static func assignment(_ answers: [String: Answer]) -> [String: String] {
        var result: [String: String] = [:]
        for (path, answer) in answers {
            let collector = String(path.split(separator: "=").last ?? "")
            guard case .array(let groups)? = try? JSONValue.parse(answer.body) else { continue }
            for group in groups {
                guard case .array(let targets)? = group["targets"] else { continue }
                for target in targets { if let t = target.stringValue { result[t] = collector } }
            }
        }
        return result
    }
}
