import Foundation
import Logging
import NIOConcurrencyHelpers
import TestSupport
import Testing

@testable import TargetAllocator

@Suite struct ConfigReloadTests {
    static func yaml(jobs: [String]) -> String {
        "config:\n  scrape_configs:\n" + jobs.map { "  - job_name: \($0)\n    static_configs: [{targets: [\"10.0.0.1:80\"]}]\n" }.joined()
    }

    /// Follows the file as one leadership term would, until `until` holds for the jobs run.
    static func term(_ reload: ConfigReload, initial: AllocatorConfig, until: @escaping @Sendable ([String]) -> Bool) async -> [String]? {
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let running = NIOLockedValueBox<[String]?>(nil)
        let term = Task {
            await reload.follow(initial: initial, logger: logger) { config in
                running.withLockedValue { $0 = config.scrapeConfigs.compactMap { $0["job_name"]?.stringValue } }
                // Discovery runs until the term ends or the file changes.
                while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(10)) }
            }
        }
        _ = await eventually(timeout: 30) { running.withLockedValue { $0 }.map(until) ?? false }
        term.cancel()
        await term.value
        return running.withLockedValue { $0 }
    }

    /// A replica that leads again must not go back to the config it started with: the file
    /// may have changed while another replica led. An invalid file keeps the last valid one.
    @Test func aNewTermStartsFromTheLatestValidFile() async throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        try dir.write("config.yaml", Self.yaml(jobs: ["a"]))
        let initial = try AllocatorConfig.parse(Self.yaml(jobs: ["a"]))
        var reload = ConfigReload(path: dir.path("config.yaml"))
        reload.interval = .milliseconds(20)

        #expect(await Self.term(reload, initial: initial) { _ in true } == ["a"])
        // Changed while not leading: the next term starts with it.
        try dir.write("config.yaml", Self.yaml(jobs: ["a", "b"]))
        #expect(await Self.term(reload, initial: initial) { $0 == ["a", "b"] } == ["a", "b"])
        // Broken while not leading: the next term keeps the last valid version, not the first.
        try dir.write("config.yaml", Self.yaml(jobs: ["a", "b"]) + "  - job_name: a\n")
        #expect(await Self.term(reload, initial: initial) { _ in true } == ["a", "b"])
        // Within a term, a valid change restarts discovery with it.
        #expect(
            await Self.term(reload, initial: initial) { jobs in
                if jobs == ["a", "b"] { try? dir.write("config.yaml", Self.yaml(jobs: ["c"])) }
                return jobs == ["c"]
            } == ["c"])
        // Files a leader must refuse without harm (issue 15): an alias bomb, and a file larger
        // than any config (read only up to the limit).
        var bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n"
        for (name, previous) in zip("bcdefghi", "abcdefgh") { bomb += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ",") + "]\n" }
        try dir.write("config.yaml", bomb)
        #expect(await Self.term(reload, initial: initial) { _ in true } == ["c"])
        try dir.write("config.yaml", Self.yaml(jobs: ["d"]) + "# " + String(repeating: "x", count: 9 << 20) + "\n")
        #expect(await Self.term(reload, initial: initial) { _ in true } == ["c"])
    }
}
