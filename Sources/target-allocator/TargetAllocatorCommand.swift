public import ArgumentParser
import Foundation
import HTTPServer
import KubernetesClient
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import TargetAllocator

@main
struct TargetAllocatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "target-allocator",
        abstract: "A highly-available target allocator for Prometheus-style scraping.",
        subcommands: [RunCommand.self, DemoCommand.self, ValidateCommand.self, StatusCommand.self],
        defaultSubcommand: RunCommand.self)
}

/// Runs one replica. Flags keep the upstream allocator's names.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run one replica (the default).")

    @Option(name: .customLong("config-file"), help: "Path to the allocator config (YAML).")
    var configFile = "/conf/targetallocator.yaml"

    @Option(name: .customLong("listen-addr"), help: "Plain HTTP listener (HTTP/1.1 and h2c).")
    var listenAddress = ":8080"

    @Flag(name: .customLong("enable-https-server"), help: "Also serve HTTPS (ALPN h2/http/1.1).")
    var enableHTTPS = false

    @Option(name: .customLong("listen-addr-https"), help: "HTTPS listener.")
    var httpsAddress = ":8443"

    @Option(name: .customLong("https-ca-file"), help: "CA bundle; when set, clients must present a certificate it issued.")
    var caFile: String?

    @Option(name: .customLong("https-tls-cert-file"), help: "Server certificate chain (PEM).")
    var certFile: String?

    @Option(name: .customLong("https-tls-key-file"), help: "Server private key (PEM).")
    var keyFile: String?

    @Flag(name: .customLong("allow-insecure-auth-secrets"), help: "Serve scrape-config secrets to clients without mTLS.")
    var allowInsecureAuthSecrets = false

    @Option(name: .customLong("identity"), help: "Replica identity (default: env POD_NAME, then the host name).")
    var identity: String?

    @Option(
        name: .customLong("snapshot-file"),
        help: "Serve this JSON snapshot and follow its changes, instead of the cluster's snapshot ConfigMaps.")
    var snapshotFile: String?

    @Option(name: .customLong("kubeconfig-path"), help: "Kubeconfig to reach the API server (default: in-cluster, then $KUBECONFIG).")
    var kubeconfigPath: String?

    @Option(name: .customLong("event-loop-threads"), help: "Event-loop threads serving HTTP (default: one per core).")
    var eventLoopThreads: Int = System.coreCount

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    func validate() throws {
        guard ListenAddress(listenAddress) != nil else { throw ValidationError("--listen-addr: expected host:port, got \(listenAddress)") }
        if enableHTTPS {
            guard ListenAddress(httpsAddress) != nil else {
                throw ValidationError("--listen-addr-https: expected host:port, got \(httpsAddress)")
            }
            guard certFile != nil, keyFile != nil else {
                throw ValidationError("--enable-https-server needs --https-tls-cert-file and --https-tls-key-file")
            }
        }
    }

    func run() async throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let name = identity ?? ProcessInfo.processInfo.environment["POD_NAME"] ?? ProcessInfo.processInfo.hostName
        let logger = Logger(label: "target-allocator")
        var settings = ReplicaSettings(identity: name)
        settings.listenAddress = ListenAddress(listenAddress)
        if enableHTTPS, let certFile, let keyFile {
            settings.httpsAddress = ListenAddress(httpsAddress)
            settings.tls = TLSFiles(certificateChain: certFile, privateKey: keyFile, clientCA: caFile)
        }
        settings.allowInsecureAuthSecrets =
            allowInsecureAuthSecrets || ProcessInfo.processInfo.environment["ALLOW_INSECURE_AUTH_SECRETS"] == "true"
        settings.snapshotFile = snapshotFile
        var client: KubernetesClient?
        if snapshotFile == nil {
            let environment = ProcessInfo.processInfo.environment
            let config = try AllocatorConfig.load(path: configFile, environment: environment)
            // Upstream's config-file `https` block, when the flags did not already turn HTTPS on.
            if !enableHTTPS, config.https.enabled, let cert = config.https.tlsCertFilePath, let key = config.https.tlsKeyFilePath {
                settings.httpsAddress = ListenAddress(config.https.listenAddress)
                settings.tls = TLSFiles(certificateChain: cert, privateKey: key, clientCA: config.https.caFilePath)
            }
            let clusterConfiguration: ClusterConfiguration
            if let path = kubeconfigPath ?? config.kubeConfigPath {
                clusterConfiguration = try .kubeconfig(path: path)
            } else if environment["KUBERNETES_SERVICE_HOST"] != nil {
                clusterConfiguration = try .inCluster()
            } else {
                clusterConfiguration = try .kubeconfig()
            }
            let namespace = environment["POD_NAMESPACE"] ?? clusterConfiguration.namespace ?? "default"
            let kubernetes = try KubernetesClient(configuration: clusterConfiguration)
            client = kubernetes
            settings.cluster = try ClusterRole.standard(
                config: config, client: kubernetes, identity: name, namespace: namespace, logger: logger,
                reload: ConfigReload(path: configFile))
        }

        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, eventLoopThreads))
        let replica = try Replica(settings: settings, group: group, logger: logger)
        let services = ServiceGroup(
            configuration: .init(services: [replica], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await services.run()
        } catch {
            try? await client?.shutdown()
            try? await group.shutdownGracefully()
            throw error
        }
        try? await client?.shutdown()
        try await group.shutdownGracefully()
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
