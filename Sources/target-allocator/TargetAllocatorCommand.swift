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

    /// Parses the command line as upstream's pflag does for its boolean flags (the operator
    /// renders `spec.args` as `--name=value`, so `--enable-https-server=true` must work).
    static func main() async {
        do {
            let arguments = try GoBooleanFlags.rewrite(Array(CommandLine.arguments.dropFirst()), flags: RunCommand.booleanFlags)
            var command = try parseAsRoot(arguments)
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

/// Runs one replica. Flags keep the upstream allocator's names and meaning; each applies only
/// when given, over the config file and the environment, field by field (upstream's `Load`).
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run one replica (the default).")

    /// Boolean flags, which also take `=true`/`=false` (and Go's other spellings).
    static let booleanFlags: Set<String> = ["enable-prometheus-cr-watcher", "enable-https-server", "allow-insecure-auth-secrets", "zap-devel"]

    @Option(name: .customLong("config-file"), help: "Path to the allocator config (YAML).")
    var configFile = "/conf/targetallocator.yaml"

    @Option(name: .customLong("listen-addr"), help: "Plain HTTP listener, HTTP/1.1 and h2c (default: the file's listen_addr, then :8080).")
    var listenAddress: String?

    @Flag(name: .customLong("enable-prometheus-cr-watcher"), inversion: .prefixedNo, help: "Discover from prometheus-operator resources.")
    var enablePrometheusCRWatcher: Bool?

    @Option(name: .customLong("kubeconfig-path"), help: "Kubeconfig to reach the API server (default: in-cluster, then $KUBECONFIG).")
    var kubeconfigPath: String?

    @Flag(name: .customLong("enable-https-server"), inversion: .prefixedNo, help: "Also serve HTTPS (ALPN h2/http/1.1).")
    var enableHTTPS: Bool?

    @Option(name: .customLong("listen-addr-https"), help: "HTTPS listener (default: the file's https.listen_addr, then :8443).")
    var httpsAddress: String?

    @Option(name: .customLong("https-ca-file"), help: "CA bundle; when set, clients must present a certificate it issued.")
    var caFile: String?

    @Option(name: .customLong("https-tls-cert-file"), help: "Server certificate chain (PEM).")
    var certFile: String?

    @Option(name: .customLong("https-tls-key-file"), help: "Server private key (PEM).")
    var keyFile: String?

    @Flag(name: .customLong("allow-insecure-auth-secrets"), inversion: .prefixedNo, help: "Serve scrape-config secrets to clients without mTLS.")
    var allowInsecureAuthSecrets: Bool?

    @Flag(name: .customLong("zap-devel"), inversion: .prefixedNo, help: "zap development mode: debug level, console encoding.")
    var zapDevel: Bool?

    @Option(name: .customLong("zap-encoder"), help: "Log encoding: json (one JSON object per line) or console.")
    var zapEncoder: String?

    @Option(name: .customLong("zap-log-level"), help: "Log level: debug, info, error, panic, or an integer > 0 (more verbose).")
    var zapLogLevel: String?

    @Option(name: .customLong("zap-stacktrace-level"), help: "Accepted for compatibility (info, error or panic); no effect.")
    var zapStacktraceLevel: String?

    @Option(name: .customLong("zap-time-encoding"), help: "Time format of JSON logs: epoch, millis, nanos, iso8601, rfc3339 or rfc3339nano.")
    var zapTimeEncoding: String?

    @Option(name: .customLong("identity"), help: "Replica identity (default: env POD_NAME, then the host name).")
    var identity: String?

    @Option(
        name: .customLong("snapshot-file"),
        help: "Serve this JSON snapshot and follow its changes, instead of the cluster's snapshot ConfigMaps.")
    var snapshotFile: String?

    @Option(name: .customLong("event-loop-threads"), help: "Event-loop threads serving HTTP (default: one per core).")
    var eventLoopThreads: Int = System.coreCount

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (wins over --zap-log-level).")
    var logLevel: Logger.Level?

    func validate() throws {
        _ = try zapOptions()
    }

    func zapOptions() throws -> ZapOptions {
        try ZapOptions(
            development: zapDevel, encoder: zapEncoder, level: zapLogLevel, stacktraceLevel: zapStacktraceLevel, timeEncoding: zapTimeEncoding)
    }

    var overrides: AllocatorConfig.Overrides {
        var o = AllocatorConfig.Overrides()
        o.listenAddress = listenAddress
        o.kubeConfigPath = kubeconfigPath
        o.prometheusCREnabled = enablePrometheusCRWatcher
        o.httpsEnabled = enableHTTPS
        o.httpsListenAddress = httpsAddress
        o.httpsCAFile = caFile
        o.httpsCertFile = certFile
        o.httpsKeyFile = keyFile
        o.allowInsecureAuthSecrets = allowInsecureAuthSecrets
        return o
    }

    func run() async throws {
        let zap = try zapOptions()
        zap.bootstrap(level: zap.effectiveLevel(explicit: logLevel))
        let environment = ProcessInfo.processInfo.environment
        let name = identity ?? environment["POD_NAME"] ?? ProcessInfo.processInfo.hostName
        let logger = Logger(label: "target-allocator")

        let config: AllocatorConfig
        do {
            config =
                snapshotFile == nil
                ? try AllocatorConfig.load(path: configFile, environment: environment, overrides: overrides)
                : try AllocatorConfig.withoutFile(environment: environment, overrides: overrides)
        } catch let error as AllocatorConfig.Problems {
            for warning in error.warnings { logger.warning("config: \(warning)", metadata: ["path": "\(configFile)"]) }
            for problem in error.problems { logger.error("config: \(problem)", metadata: ["path": "\(configFile)"]) }
            throw ExitCode(1)
        }
        for warning in config.warnings { logger.warning("config: \(warning)", metadata: ["path": "\(configFile)"]) }
        logger.debug(
            "settings after the config file, environment and flags",
            metadata: [
                "listen_addr": "\(config.listenAddress)", "https": "\(config.https.enabled ? config.https.listenAddress : "off")",
                "prometheus_cr": "\(config.prometheusCREnabled)", "allow_insecure_auth_secrets": "\(config.allowInsecureAuthSecrets)",
                "collector_namespace": "\(config.collectorNamespace ?? "")",
            ])

        var settings = ReplicaSettings(identity: name)
        settings.listenAddress = ListenAddress(config.listenAddress)
        if config.https.enabled, let cert = config.https.tlsCertFilePath, let key = config.https.tlsKeyFilePath {
            settings.httpsAddress = ListenAddress(config.https.listenAddress)
            settings.tls = TLSFiles(certificateChain: cert, privateKey: key, clientCA: config.https.caFilePath)
        }
        settings.allowInsecureAuthSecrets = config.allowInsecureAuthSecrets
        settings.snapshotFile = snapshotFile
        var client: KubernetesClient?
        if snapshotFile == nil {
            let clusterConfiguration = try Self.clusterConfiguration(path: config.kubeConfigPath, environment: environment)
            let namespace = environment["POD_NAMESPACE"] ?? clusterConfiguration.namespace ?? "default"
            let kubernetes = try KubernetesClient(configuration: clusterConfiguration)
            client = kubernetes
            var reload = ConfigReload(path: configFile)
            reload.overrides = overrides
            settings.cluster = try ClusterRole.standard(
                config: config, client: kubernetes, identity: name, namespace: namespace, logger: logger, reload: reload)
        }

        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, eventLoopThreads))
        let replica = try Replica(settings: settings, group: group, logger: logger)
        // Process metrics first: services stop in reverse order, so they outlive the replica.
        let services = ServiceGroup(
            configuration: .init(
                services: [ProcessMetrics(registry: replica.registry), replica], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
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

    /// The API server as upstream finds it: the kubeconfig at the given path if that file
    /// exists, else in-cluster (upstream falls back the same way on a missing file), else the
    /// default kubeconfig (`$KUBECONFIG`, `~/.kube/config`).
    static func clusterConfiguration(path: String?, environment: [String: String]) throws -> ClusterConfiguration {
        if let path, FileManager.default.fileExists(atPath: path) { return try .kubeconfig(path: path) }
        if environment["KUBERNETES_SERVICE_HOST"] != nil { return try .inCluster() }
        if let path { return try .kubeconfig(path: path) }  // reports the missing file
        return try .kubeconfig()
    }
}

/// pflag's boolean flags: `--flag`, `--flag=true`, `--flag=false`, with the spellings of Go's
/// `strconv.ParseBool` (`1 t T TRUE true True`, `0 f F FALSE false False`). Rewritten to
/// ArgumentParser's `--flag` / `--no-flag` before parsing.
enum GoBooleanFlags {
    static func rewrite(_ arguments: [String], flags: Set<String>) throws -> [String] {
        var out: [String] = []
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            if argument == "--" {
                out.append(argument)
                out += rest
                break
            }
            guard argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") else {
                out.append(argument)
                continue
            }
            let name = String(argument[argument.index(argument.startIndex, offsetBy: 2)..<equals])
            guard flags.contains(name) else {
                out.append(argument)
                continue
            }
            let value = String(argument[argument.index(after: equals)...])
            switch value {
            case "1", "t", "T", "TRUE", "true", "True": out.append("--\(name)")
            case "0", "f", "F", "FALSE", "false", "False": out.append("--no-\(name)")
            default:
                throw ValidationError("invalid argument \"\(value)\" for \"--\(name)\" flag: expected true or false")
            }
        }
        return out
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
