import Foundation

/// What one run does; `scripts/bench-scale.sh` sets these from the environment.
struct Settings: Sendable {
    var emulatorBinary = ""
    var allocatorBinary = ""
    /// Logs, configs and kubeconfigs of this run.
    var workDir = ""
    var pods = 100_000
    var namespaces = 10
    var collectors = 10
    var replicas = 3
    /// `taskset` CPU lists: the replicas on one, the emulator (and this process) on the other.
    var replicaCPUs = "0"
    var emulatorCPUs = "1"
    // The setup: lease 4 s, renew deadline 3 s, retry 500 ms.
    var leaseDuration: Duration = .seconds(4)
    var renewDeadline: Duration = .seconds(3)
    var retryPeriod: Duration = .milliseconds(500)
    var minWriteInterval: Duration = .milliseconds(500)
    var churnPerSecond = 1_000
    var churnSeconds = 60
    /// Steady state lasts at least this long, and until no snapshot was written for 10 s (at most `steadyMaxSeconds`).
    var steadySeconds = 20
    var steadyMaxSeconds = 90
    /// Time allowed for the first snapshot to reach every replica.
    var initialTimeoutSeconds = 240
    /// > 0: the slow-API mode. Every request of the replicas is delayed this much throughout,
    /// then `stallMilliseconds` for `stallSeconds` (renewals fail), then this much again.
    var latencyMilliseconds = 0
    var stallMilliseconds = 5_000
    var stallSeconds = 15

    static let namespace = "observability"
    static let manifestName = "target-allocator-snapshot"
    static let leaseName = "target-allocator"

    var slowAPI: Bool { latencyMilliseconds > 0 }
    var identities: [String] { (0..<replicas).map { "ta-\($0)" } }

    /// `--name value` pairs; names are the properties' in kebab case, durations in milliseconds.
    static func parse(_ arguments: [String]) -> Settings {
        var s = Settings()
        var values: [String: String] = [:]
        var i = 1
        while i + 1 < arguments.count, arguments[i].hasPrefix("--") {
            values[String(arguments[i].dropFirst(2))] = arguments[i + 1]
            i += 2
        }
        func int(_ key: String, _ target: inout Int) { if let v = values[key].flatMap({ Int($0) }) { target = v } }
        func millis(_ key: String, _ target: inout Duration) { if let v = values[key].flatMap({ Int64($0) }) { target = .milliseconds(v) } }
        s.emulatorBinary = values["emulator-binary"] ?? ""
        s.allocatorBinary = values["allocator-binary"] ?? ""
        s.workDir = values["work-dir"] ?? NSTemporaryDirectory()
        s.replicaCPUs = values["replica-cpus"] ?? s.replicaCPUs
        s.emulatorCPUs = values["emulator-cpus"] ?? s.emulatorCPUs
        int("pods", &s.pods)
        int("namespaces", &s.namespaces)
        int("collectors", &s.collectors)
        int("churn-per-second", &s.churnPerSecond)
        int("churn-seconds", &s.churnSeconds)
        int("steady-seconds", &s.steadySeconds)
        int("steady-max-seconds", &s.steadyMaxSeconds)
        int("initial-timeout-seconds", &s.initialTimeoutSeconds)
        int("latency-ms", &s.latencyMilliseconds)
        int("stall-ms", &s.stallMilliseconds)
        int("stall-seconds", &s.stallSeconds)
        millis("min-write-interval-ms", &s.minWriteInterval)
        // Listing 100,000 pods is 200 pages: with every request delayed, the list alone takes 200 × the delay.
        if s.slowAPI, values["initial-timeout-seconds"] == nil { s.initialTimeoutSeconds += s.pods / 500 * s.latencyMilliseconds / 1000 }
        return s
    }
}

extension Duration {
    /// As the allocator's config file spells durations (`500ms`).
    var configString: String { "\(Int64(ms(self)))ms" }
}
