import ArgumentParser
import Foundation
import JSON
import KubernetesEmulator
import Logging
import NIOCore
import SampleWorkload

struct KubeEmulatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kube-emulator",
        abstract: "An in-memory Kubernetes API server for tests and kubectl.",
        discussion: """
            Serves core v1 pods, services, endpoints, configmaps, secrets, nodes, namespaces; discovery.k8s.io/v1
            endpointslices; coordination.k8s.io/v1 leases; monitoring.coreos.com servicemonitors, podmonitors, probes and
            scrapeconfigs. Example:
              kube-emulator --port 0 --token admin=secret --kubeconfig-out /tmp/emu.kubeconfig
              kubectl --kubeconfig /tmp/emu.kubeconfig get pods
            """)

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port (0 = ephemeral).") var port = 6443
    @Flag(help: "Serve HTTPS (needs --cert and --key).") var https = false
    @Option(help: "PEM certificate chain for HTTPS.") var cert: String?
    @Option(help: "PEM private key for HTTPS.") var key: String?
    @Option(name: .customLong("token"), help: "IDENTITY=TOKEN, repeatable; without any, requests are anonymous.")
    var tokens: [String] = []
    @Option(help: "Write a kubeconfig using the first token to this path.") var kubeconfigOut: String?
    @Option(help: "CA certificate to name in the kubeconfig (HTTPS); without it the kubeconfig skips verification.")
    var kubeconfigCA: String?
    @Option(help: "Seconds between watch bookmarks.") var bookmarkSeconds = 60
    @Option(help: "Watch events kept for resuming.") var history = 100_000
    @Option(help: "Load this many benchmark pods into the default namespace.") var pods = 0
    @Option(
        help: """
            Once the first watch opens, rewrite the --pods benchmark pods this many times in all, as fast as the store \
            takes them (the informer benchmark's update burst, generated here so the measured client process does not pay for it).
            """)
    var burstUpdates = 0
    @Option(help: "Seed the scale benchmark's cluster (SampleWorkload.ScaleWorkload): this many annotated application pods.")
    var scalePods = 0
    @Option(help: "Namespaces the scale pods are spread over.") var scaleNamespaces = 10
    @Option(help: "Nodes of the scale cluster.") var scaleNodes = 100
    @Option(help: "Collector pods of the scale cluster.") var scaleCollectors = 10
    @Option(help: "Namespace of the scale cluster's collectors (the allocator's own).") var scaleCollectorNamespace = "observability"
    @Option(help: "Delay every request of the --latency-identity identities by this many milliseconds (a slow API server).")
    var latencyMs = 0
    @Option(help: "Identity the --latency-ms delay applies to, repeatable; default: everyone (*).")
    var latencyIdentity: [String] = []
    @Flag(help: "Serve /_emulator/audit (the accepted writes) and PUT /_emulator/latency (change delays while running).")
    var adminAPI = false

    func validate() throws {
        if burstUpdates > 0 && pods == 0 { throw ValidationError("--burst-updates needs --pods") }
        if latencyMs < 0 { throw ValidationError("--latency-ms must not be negative") }
        if !latencyIdentity.isEmpty && latencyMs == 0 { throw ValidationError("--latency-identity needs --latency-ms") }
        if scalePods < 0 || scaleNamespaces < 1 || scaleNodes < 1 || scaleCollectors < 0 {
            throw ValidationError("--scale-pods, --scale-collectors ≥ 0; --scale-namespaces, --scale-nodes ≥ 1")
        }
        if https && (cert == nil || key == nil) { throw ValidationError("--https needs --cert and --key") }
        for t in tokens where !t.contains("=") { throw ValidationError("--token wants IDENTITY=TOKEN, got \(t)") }
    }

    func serve() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var configuration = KubernetesEmulator.Configuration()
        configuration.host = host
        configuration.port = port
        if https, let cert, let key { configuration.tls = (cert, key) }
        var first: (identity: String, token: String)?
        for t in tokens {
            let parts = t.split(separator: "=", maxSplits: 1).map(String.init)
            configuration.tokens[parts[1]] = parts[0]
            if first == nil { first = (parts[0], parts[1]) }
        }
        configuration.bookmarkInterval = .seconds(Int64(bookmarkSeconds))
        configuration.historyLimit = history
        configuration.adminAPI = adminAPI
        let emulator = try await KubernetesEmulator.start(configuration)
        if pods > 0 { emulator.loadPods(count: pods) }
        if scalePods > 0 {
            var workload = ScaleWorkload(pods: scalePods)
            workload.namespaces = scaleNamespaces
            workload.nodes = scaleNodes
            workload.collectors = scaleCollectors
            workload.collectorNamespace = scaleCollectorNamespace
            try workload.seed(into: emulator)
        }
        if latencyMs > 0 {
            for identity in latencyIdentity.isEmpty ? ["*"] : latencyIdentity { emulator.setLatency(identity, .milliseconds(Int64(latencyMs))) }
        }
        if let kubeconfigOut {
            try emulator.writeKubeconfig(
                to: kubeconfigOut, token: first?.token, user: first?.identity ?? "anonymous", certificateAuthority: kubeconfigCA)
        }
        FileHandle.standardOutput.write(Data((emulator.url + "\n").utf8))
        let burst = burstUpdates > 0 ? Task { [pods, burstUpdates] in await Self.burst(emulator, pods: pods, updates: burstUpdates) } : nil
        // Serve until interrupted.
        let (signals, continuation) = AsyncStream<Void>.makeStream()
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig)
            source.setEventHandler { continuation.finish() }
            source.resume()
            sources.append(source)
        }
        for await _ in signals {}
        for source in sources { source.cancel() }
        burst?.cancel()
        try await emulator.shutdown()
    }

    /// Waits for a watcher, then writes `updates` pod updates in batches of 1,000 (each pod's
    /// `bench/generation` annotation goes up by one per pass), yielding between batches, as
    /// cluster-bench's in-process informer benchmark does.
    static func burst(_ emulator: KubernetesEmulator, pods: Int, updates: Int) async {
        while emulator.openWatches == 0 {
            guard (try? await Task.sleep(for: .milliseconds(5))) != nil else { return }
        }
        let labels = JSONValue.object([JSONMember("app", .string("bench"))])
        var sent = 0
        while sent < updates, !Task.isCancelled {
            let batch = (sent..<min(sent + 1_000, updates)).map { n in
                KubernetesEmulator.benchmarkPod(index: n % pods, namespace: "default", nodes: 10, labels: labels, generation: n / pods + 1)
            }
            emulator.seed(.pods, batch)
            sent += batch.count
            await Task.yield()
        }
    }
}

let command = KubeEmulatorCommand.parseOrExit()
do {
    try await command.serve()
} catch {
    KubeEmulatorCommand.exit(withError: error)
}
