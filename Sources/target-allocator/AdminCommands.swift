import ArgumentParser
import AsyncHTTPClient
import Discovery
import Foundation
import JSON
import Relabel
import TargetAllocator

/// `target-allocator validate`: checks a config file the way a replica would load it, and
/// reports every problem with its path (exit status 1 if there is any). Warnings (unknown
/// keys, settings without effect here) are printed as such and do not fail the check.
struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "validate", abstract: "Check an allocator config file.")

    @Option(name: .customLong("config-file"), help: "Path to the allocator config (YAML).")
    var configFile = "/conf/targetallocator.yaml"

    @Flag(
        name: .customLong("enable-prometheus-cr-watcher"), inversion: .prefixedNo,
        help: "Check the file as a replica started with this flag reads it.")
    var enablePrometheusCRWatcher: Bool?

    func run() async throws {
        var overrides = AllocatorConfig.Overrides()
        overrides.prometheusCREnabled = enablePrometheusCRWatcher
        let config: AllocatorConfig
        do {
            config = try AllocatorConfig.load(path: configFile, environment: ProcessInfo.processInfo.environment, overrides: overrides)
        } catch let problems as AllocatorConfig.Problems {
            for warning in problems.warnings { say("\(configFile): warning: \(warning)") }
            for problem in problems.problems { say("\(configFile): error: \(problem)") }
            throw ExitCode(1)
        }
        for warning in config.warnings { say("\(configFile): warning: \(warning)") }
        var problems: [String] = []
        do { _ = try config.allocatorConfiguration() } catch let error as AllocatorConfig.Problems { problems += error.problems }
        let found = ScrapeConfigModel.check(global: config.global, scrapeConfigs: config.scrapeConfigs)
        for warning in found.warnings { say("\(configFile): warning: \(ConfigText.bounded(warning))") }
        problems += found.problems.map { ConfigText.bounded($0) }
        for job in found.jobs {
            do throws(RelabelError) {
                _ = try JobTargetBuilder(job: job.name, scrapeConfig: job.scrapeConfig, filter: true)
            } catch {
                problems.append(ConfigText.bounded("job \(job.name): \(error)"))
            }
        }
        for problem in problems { say("\(configFile): error: \(problem)") }
        guard problems.isEmpty else { throw ExitCode(1) }
        let targets = found.jobs.reduce(0) { $0 + $1.staticGroups.reduce(0) { $0 + $1.targets.count } }
        let crWatcher = config.prometheusCREnabled ? ", prometheus_cr enabled" : ""
        say(
            "\(configFile): valid — \(found.jobs.count) jobs, \(targets) static targets\(crWatcher), strategy \(config.allocationStrategy), lease \(config.leaderElection.leaseName)"
        )
    }
}

/// `target-allocator status`: asks each replica for `/status` and prints one readable table.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show replicas, leader, epoch, generation and targets per collector.")

    @Argument(help: "Replica base URLs (for example http://10.0.0.5:8080).")
    var replicas: [String] = ["http://127.0.0.1:8080"]

    func run() async throws {
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        var rows: [[String]] = [["REPLICA", "ROLE", "LEADER", "EPOCH", "GENERATION", "AGE", "TARGETS", "UNASSIGNED"]]
        var loads: [String: [String: String]] = [:]
        var unreachable = 0
        for url in replicas {
            let base = url.hasSuffix("/") ? String(url.dropLast()) : url
            guard let status = await Self.fetch(http, base + "/status") else {
                rows.append([base, "unreachable", "-", "-", "-", "-", "-", "-"])
                unreachable += 1
                continue
            }
            func text(_ key: String) -> String {
                switch status[key] {
                case .string(let s)?: s
                case .number(let n)?: n
                case .bool(let b)?: b ? "true" : "false"
                default: "-"
                }
            }
            rows.append([
                text("identity"), status["is_leader"] == .bool(true) ? "leader" : "follower", text("leader"), text("epoch"),
                text("generation"), text("snapshot_age_seconds") + "s", text("targets"), text("unassigned_targets"),
            ])
            if case .object(let members)? = status["collectors"] {
                loads[text("identity")] = Dictionary(members.map { ($0.key, $0.value.numberText) }, uniquingKeysWith: { a, _ in a })
            }
        }
        try? await http.shutdown()
        say(Self.table(rows))
        if let (_, perCollector) = loads.first {
            let agree = Set(loads.values.map { $0.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined() }).count == 1
            say("\ntargets per collector\(agree ? "" : " (replicas disagree; showing one)"):")
            say(Self.table([["COLLECTOR", "TARGETS"]] + perCollector.sorted { $0.key < $1.key }.map { [$0.key, $0.value] }))
        }
        if unreachable == replicas.count { throw ExitCode(1) }
    }

    static func fetch(_ http: HTTPClient, _ url: String) async -> JSONValue? {
        do {
            let response = try await http.execute(HTTPClientRequest(url: url), timeout: .seconds(5))
            guard response.status == .ok else { return nil }
            return try JSONValue.parse(String(buffer: try await response.body.collect(upTo: 4 << 20)))
        } catch {
            return nil
        }
    }

    static func table(_ rows: [[String]]) -> String {
        let widths = (0..<(rows.first?.count ?? 0)).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}

extension JSONValue {
    var numberText: String {
        if case .number(let text) = self { return text }
        return stringValue ?? "-"
    }
}
