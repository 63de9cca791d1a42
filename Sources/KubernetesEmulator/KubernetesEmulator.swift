import Foundation
public import JSON
public import Logging
import NIOConcurrencyHelpers
public import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// State shared by every connection.
final class EmulatorCore: Sendable {
    let configuration: KubernetesEmulator.Configuration
    let store: Store
    let faults = FaultTable()
    let requests = RequestLog()
    let tokens: NIOLockedValueBox<[String: String]>
    let addressBox = NIOLockedValueBox("")
    var address: String { addressBox.withLockedValue { $0 } }

    init(configuration: KubernetesEmulator.Configuration) {
        self.configuration = configuration
        store = Store(historyLimit: configuration.historyLimit, namespaceFinalizeDelay: configuration.namespaceFinalizeDelay)
        tokens = NIOLockedValueBox(configuration.tokens)
    }

    /// The identity of a request, or nil (401). Without configured tokens everyone is anonymous.
    func authenticate(_ headers: HTTPHeaders) -> String? {
        let header = headers.first(name: "Authorization") ?? ""
        return tokens.withLockedValue { tokens in
            if header.hasPrefix("Bearer ") {
                let token = String(header.dropFirst(7)).trimmingSpaces
                return tokens[token]
            }
            return tokens.isEmpty && header.isEmpty ? "system:anonymous" : nil
        }
    }
}

/// An in-memory Kubernetes API server for tests and for pointing `kubectl` at: one global
/// resourceVersion, the real error Status objects, watches with history and bookmarks,
/// validation of the kinds we use, and fault injection per identity (bearer token).
public final class KubernetesEmulator: Sendable {
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        public var port = 0
        /// PEM files of the serving certificate (chain) and key; nil serves plain HTTP.
        public var tls: (certificateChain: String, privateKey: String)?
        /// Bearer token → identity. Empty: every request without a token is `system:anonymous`.
        public var tokens: [String: String] = [:]
        /// BOOKMARK interval of watches that allow bookmarks (the real cacher: about a minute).
        public var bookmarkInterval: TimeAmount = .seconds(60)
        /// Server-side watch timeout when the client sends no `timeoutSeconds`.
        public var defaultWatchTimeout: TimeAmount = .minutes(30)
        /// Events kept for resuming watches; older resourceVersions get 410 Expired.
        public var historyLimit = 100_000
        public var maxRequestBodyBytes = 3 * 1024 * 1024
        /// Created at start.
        public var namespaces = ["default", "kube-system", "kube-public", "kube-node-lease"]
        /// How long a deleted namespace stays Terminating before its content and itself go.
        public var namespaceFinalizeDelay: TimeAmount = .zero
        public var logger = Logger(label: "kube-emulator")
        /// Serves the emulator's own routes under `/_emulator/` (the audit feed, latency faults)
        /// to authenticated callers, for benchmarks that run it as a separate process.
        public var adminAPI = false

        public init() {}
    }

    public let configuration: Configuration
    /// `http://127.0.0.1:PORT` or `https://…`.
    public let url: String
    public let port: Int
    let core: EmulatorCore
    private let channel: any Channel
    private let group: MultiThreadedEventLoopGroup

    private init(configuration: Configuration, core: EmulatorCore, channel: any Channel, group: MultiThreadedEventLoopGroup, url: String, port: Int) {
        self.configuration = configuration
        self.core = core
        self.channel = channel
        self.group = group
        self.url = url
        self.port = port
    }

    /// Starts listening (port 0 = ephemeral) with the configured namespaces created.
    public static func start(_ configuration: Configuration = Configuration()) async throws -> KubernetesEmulator {
        let core = EmulatorCore(configuration: configuration)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        core.store.schedule = { delay, work in
            if delay <= .zero { work() } else { loop.scheduleTask(in: delay) { work() } }
        }
        for ns in configuration.namespaces {
            _ = try? core.store.create(
                .namespaces, namespace: nil, body: .object([JSONMember("metadata", .object([JSONMember("name", .string(ns))]))]),
                identity: "system:apiserver")
        }
        let sslContext: NIOSSLContext?
        if let tls = configuration.tls {
            var tlsConfiguration = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(tls.certificateChain).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: tls.privateKey, format: .pem)))
            tlsConfiguration.applicationProtocols = ["http/1.1"]
            sslContext = try NIOSSLContext(configuration: tlsConfiguration)
        } else {
            sslContext = nil
        }
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let sslContext {
                            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
                        }
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(EmulatorHandler(core: core))
                    }
                }
                .bind(host: configuration.host, port: configuration.port).get()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        let port = channel.localAddress?.port ?? configuration.port
        let hostPart = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        core.addressBox.withLockedValue { $0 = "\(hostPart):\(port)" }
        let url = "\(configuration.tls == nil ? "http" : "https")://\(hostPart):\(port)"
        configuration.logger.info("kube-emulator listening", metadata: ["url": "\(url)"])
        return KubernetesEmulator(configuration: configuration, core: core, channel: channel, group: group, url: url, port: port)
    }

    /// Stops listening and closes every connection.
    public func shutdown() async throws {
        for held in core.faults.clearAll() { held.close(promise: nil) }
        _ = core.store.cutWatches(identity: nil)
        try? await channel.close()
        try await group.shutdownGracefully()
    }

    // MARK: - identities

    public func addToken(_ token: String, identity: String) {
        core.tokens.withLockedValue { $0[token] = identity }
    }

    /// Revokes a token: its requests get 401 from now on.
    public func removeToken(_ token: String) {
        _ = core.tokens.withLockedValue { $0.removeValue(forKey: token) }
    }

    // MARK: - faults

    /// Cuts an identity (or "*" = everyone) off: its open watches are dropped and new requests
    /// are refused or left hanging until `heal`.
    public func partition(_ identity: String, mode: PartitionMode = .hang) {
        core.faults.partition(identity, mode: mode)
        _ = core.store.cutWatches(identity: identity == "*" ? nil : identity)
    }

    public func heal(_ identity: String) {
        for channel in core.faults.heal(identity) { channel.close(promise: nil) }
    }

    /// Answers an identity's requests (or "*") with an error status until cleared or `count` ran out.
    public func injectFailure(_ identity: String, _ failure: InjectedFailure) {
        core.faults.inject(identity, failure)
    }

    public func clearFailure(_ identity: String) {
        core.faults.inject(identity, nil)
    }

    /// Delays every request of an identity (or "*"); nil removes the delay.
    public func setLatency(_ identity: String, _ latency: TimeAmount?) {
        core.faults.setLatency(identity, latency)
    }

    /// Drops the connection of every open watch (of one identity, or all). Returns how many.
    @discardableResult
    public func dropWatches(identity: String? = nil) -> Int {
        core.store.cutWatches(identity: identity)
    }

    /// Forgets the event history: watches resuming from any older resourceVersion get
    /// an ERROR event with 410 Expired; older continue tokens get 410.
    public func compact() {
        core.store.compact()
    }

    /// Open watches right now.
    public var openWatches: Int { core.store.watcherCount }

    // MARK: - state

    /// The current global resourceVersion.
    public var resourceVersion: Int64 { core.store.currentRevision }

    /// Every accepted write so far, oldest first.
    public var auditLog: [AuditEntry] { core.store.auditLog }

    /// The accepted writes from index `since` on, and the log's length (the next `since`).
    public func auditLog(since: Int) -> (entries: [AuditEntry], total: Int) { core.store.auditLog(since: since) }

    /// Every distinct resource request so far (reads, watches and refused writes included),
    /// first seen first; the RBAC attributes of what each identity asked for.
    public var requestLog: [RequestRecord] { core.requests.records }

    /// How many times each distinct resource request was made.
    public var requestCounts: [RequestRecord: Int] { core.requests.counts }

    /// Creates an object through the same validation as POST.
    @discardableResult
    public func create(_ resource: ResourceDefinition, _ object: JSONValue, namespace: String? = nil, as identity: String = "emulator") throws -> JSONValue {
        let ns = namespace ?? object.at("metadata", "namespace")?.stringValue ?? (resource.namespaced ? "default" : nil)
        return try core.store.create(resource, namespace: ns, body: object, identity: identity).value
    }

    /// Updates (PUT semantics) through the same validation.
    @discardableResult
    public func update(_ resource: ResourceDefinition, _ object: JSONValue, subresource: String? = nil, as identity: String = "emulator") throws -> JSONValue {
        let ns = object.at("metadata", "namespace")?.stringValue ?? (resource.namespaced ? "default" : nil)
        let name = object.at("metadata", "name")?.stringValue ?? ""
        return try core.store.update(resource, namespace: ns, name: name, body: object, subresource: subresource, identity: identity).0.value
    }

    public func delete(_ resource: ResourceDefinition, namespace: String? = nil, name: String, as identity: String = "emulator") throws {
        _ = try core.store.delete(
            resource, namespace: resource.namespaced ? (namespace ?? "default") : nil, name: name, preconditions: .init(), identity: identity)
    }

    public func get(_ resource: ResourceDefinition, namespace: String? = nil, name: String) -> JSONValue? {
        try? core.store.get(resource, namespace: resource.namespaced ? (namespace ?? "default") : nil, name: name).value
    }

    /// Every object of a resource, ordered by namespace/name.
    public func objects(_ resource: ResourceDefinition) -> [JSONValue] {
        core.store.allObjects(resource)
    }

    /// Stores objects exactly as given (status included, no validation, namespaces need not
    /// exist), each a normal write with its own revision and watch event. For fixtures.
    public func seed(_ resource: ResourceDefinition, _ objects: [JSONValue], as identity: String = "emulator") {
        _ = core.store.seed(resource, objects, identity: identity)
    }

    /// Loads `count` running pods (`pod-00000`…) spread over `nodes` nodes with pod IPs
    /// from 10.0.0.0/8 and one container port 8080 named `metrics`; for benchmarks.
    public func loadPods(count: Int, namespace: String = "default", nodes: Int = 10, labels: [String: String] = ["app": "bench"]) {
        let labelObject = JSONValue.object(labels.sorted { $0.key < $1.key }.map { JSONMember($0.key, .string($0.value)) })
        var batch: [JSONValue] = []
        batch.reserveCapacity(min(count, 1000))
        for i in 0..<count {
            batch.append(Self.benchmarkPod(index: i, namespace: namespace, nodes: nodes, labels: labelObject))
            if batch.count == 1000 {
                seed(.pods, batch)
                batch.removeAll(keepingCapacity: true)
            }
        }
        if !batch.isEmpty { seed(.pods, batch) }
    }

    public static func benchmarkPod(index i: Int, namespace: String, nodes: Int, labels: JSONValue, generation: Int = 0) -> JSONValue {
        let name = "pod-" + String(repeating: "0", count: max(0, 5 - String(i).count)) + String(i)
        let ip = "10.\((i >> 16) & 255).\((i >> 8) & 255).\(i & 255)"
        return .object([
            JSONMember(
                "metadata",
                .object([
                    JSONMember("name", .string(name)), JSONMember("namespace", .string(namespace)), JSONMember("labels", labels),
                    JSONMember("annotations", .object([JSONMember("bench/generation", .string(String(generation)))])),
                ])),
            JSONMember(
                "spec",
                .object([
                    JSONMember("nodeName", .string("node-\(i % max(nodes, 1))")),
                    JSONMember(
                        "containers",
                        .array([
                            .object([
                                JSONMember("name", .string("app")), JSONMember("image", .string("example/app:1")),
                                JSONMember(
                                    "ports",
                                    .array([
                                        .object([
                                            JSONMember("name", .string("metrics")), JSONMember("containerPort", .int(8080)),
                                            JSONMember("protocol", .string("TCP")),
                                        ])
                                    ])),
                            ])
                        ])),
                ])),
            JSONMember(
                "status",
                .object([
                    JSONMember("phase", .string("Running")), JSONMember("podIP", .string(ip)), JSONMember("hostIP", .string("192.168.0.\(i % max(nodes, 1))")),
                    JSONMember(
                        "conditions", .array([.object([JSONMember("type", .string("Ready")), JSONMember("status", .string("True"))])])),
                ])),
        ])
    }

    // MARK: - kubeconfig

    /// A kubeconfig for `kubectl` (or `ClusterConfiguration.kubeconfig`) using `token`.
    /// Over HTTPS it trusts `certificateAuthority` (a PEM file) or skips verification.
    public func kubeconfig(token: String?, user: String = "emulator-user", namespace: String = "default", certificateAuthority: String? = nil) -> String {
        var cluster = "    server: \(url)\n"
        if url.hasPrefix("https") {
            if let ca = certificateAuthority { cluster += "    certificate-authority: \(ca)\n" } else { cluster += "    insecure-skip-tls-verify: true\n" }
        }
        let userBlock = token.map { "    token: \($0)\n" } ?? "    {}\n"
        return """
            apiVersion: v1
            kind: Config
            clusters:
            - name: emulator
              cluster:
            \(cluster)users:
            - name: \(user)
              user:
            \(userBlock)contexts:
            - name: emulator
              context:
                cluster: emulator
                user: \(user)
                namespace: \(namespace)
            current-context: emulator

            """
    }

    public func writeKubeconfig(to path: String, token: String?, user: String = "emulator-user", namespace: String = "default", certificateAuthority: String? = nil) throws {
        try kubeconfig(token: token, user: user, namespace: namespace, certificateAuthority: certificateAuthority)
            .write(toFile: path, atomically: true, encoding: .utf8)
    }
}

extension Duration {
    var timeAmount: TimeAmount {
        let c = components
        return .nanoseconds(c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000)
    }
}
