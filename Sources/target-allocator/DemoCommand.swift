import ArgumentParser
import Foundation
import HTTPServer
import JSON
import KubernetesClient
import KubernetesEmulator
import Logging
import NIOCore
import NIOPosix
import TargetAllocator
import UnixSignals

/// The README's main command: a whole cluster on this machine. An in-memory Kubernetes API
/// server, collector pods, a sample workload and several replicas electing a leader, writing
/// snapshots into ConfigMaps and serving them over HTTP/1.1 and HTTP/2.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Run a local cluster: API emulator, replicas, collectors and a sample workload.")

    @Option(help: "Number of allocator replicas.") var replicas = 3
    @Option(help: "Number of collector pods.") var collectors = 3
    @Option(help: "Number of sample targets.") var targets = 300
    @Option(help: "First replica port (the others follow); 0 picks free ports.") var basePort = 8080
    @Flag(help: "Stop the leader every --chaos-interval and bring it back, to show failover.") var chaos = false
    @Option(help: "Seconds between chaos rounds.") var chaosInterval = 20
    @Option(help: "Seconds between summaries.") var summaryInterval = 5
    @Option(name: .customLong("log-level"), help: "Replica log level.") var logLevel: Logger.Level = .warning

    func validate() throws {
        guard (1...9).contains(replicas) else { throw ValidationError("--replicas: 1 to 9") }
        guard (1...50).contains(collectors) else { throw ValidationError("--collectors: 1 to 50") }
        guard (0...100_000).contains(targets) else { throw ValidationError("--targets: 0 to 100000") }
    }

    func run() async throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let cluster = try await DemoCluster.start(
            replicas: replicas, collectors: collectors, targets: targets, basePort: basePort, logger: Logger(label: "demo"))
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await cluster.report(every: .seconds(summaryInterval)) }
            if chaos { group.addTask { await cluster.chaos(every: .seconds(chaosInterval)) } }
            group.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) { break }
            }
            await group.next()
            group.cancelAll()
        }
        say("\nstopping…")
        await cluster.stop()
        say("stopped.")
    }
}


/// Writes a line to standard output at once (no buffering), so the demo's output interleaves
/// correctly with the replicas' log lines.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
