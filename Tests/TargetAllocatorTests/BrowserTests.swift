import Foundation
import TestSupport
import Testing

/// The `/` page in a real browser (issue 16): Debian's headless Chromium loads a follower's page
/// while the leader hands over, and the rendered DOM (after the page's own scripts ran) must
/// show the new leader and the change. Installed by `scripts/ensure-deps.sh test`.
@Suite(.serialized) struct BrowserTests {
    static var chromium: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs headless Chromium once under `timeout`, which kills the browser's whole process group
    /// if it hangs, so no renderer or zygote is left behind.
    static func chromium(_ arguments: [String], profile: String) async throws -> ToolResult {
        let browser = try #require(chromium, "chromium is missing: run scripts/ensure-deps.sh test")
        return try await runTool(
            "timeout",
            ["-k", "5", "90", browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--disable-crash-reporter", "--disable-breakpad", "--user-data-dir=\(profile)"] + arguments,
            timeout: 120)
    }

    /// The DOM as Chromium rendered it, after `virtualMillis` of (virtual) time for scripts.
    static func dom(_ url: String, profile: String, virtualMillis: Int = 0) async throws -> String {
        var arguments = ["--dump-dom"]
        if virtualMillis > 0 { arguments.append("--virtual-time-budget=\(virtualMillis)") }
        let result = try await chromium(arguments + [url], profile: profile)
        #expect(result.status == 0, "chromium failed: \(result.stderr.suffix(2000))")
        return result.stdout
    }

    /// `data-leader` of the page's live section.
    /// The epoch of the newest "New term" entry of the page's history (0: none).
    static func newestTerm(in dom: String) -> Int {
        dom.range(of: "New term: epoch ").map { Int(dom[$0.upperBound...].prefix { $0.isNumber }) ?? 0 } ?? 0
    }

    static func leader(in dom: String) -> String? {
        guard let live = dom.range(of: "<div id=\"live\" data-leader=\"") else { return nil }
        return dom[live.upperBound...].split(separator: "\"", maxSplits: 1).first.map(String.init)
    }

    @Test func followerPageShowsTheNewLeaderAndTheChangeInARealBrowser() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("browser-test-\(getpid())-\(UInt32.random(in: 0..<1_000_000))")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let profile = scratch.appendingPathComponent("profile").path
        let cluster = try await ClusterHarness(replicas: 3, collectors: 3, targets: 60)
        try await cluster.startReplicas()
        do {
            let first = try #require(await ClusterTests().converged(cluster))
            let old = try #require(cluster.leaders.first)
            let follower = try #require(cluster.running.keys.sorted().first { $0 != old })
            let url = "http://127.0.0.1:\(try #require(cluster.port(follower)))/"

            // Before: the browser shows the current leader, and the page refreshes itself in place
            // (its script swapped the live section at least once within 5 s of virtual time).
            let before = try await Self.dom(url, profile: profile, virtualMillis: 5000)
            #expect(Self.leader(in: before) == old, "before the change: \(before.prefix(600))")
            let refreshes = before.range(of: "data-refreshes=\"").map { before[$0.upperBound...].prefix { $0.isNumber } }
            #expect(Int(refreshes ?? "") ?? 0 >= 1, "the page's script did not refresh the live section")

            // The leader hands over (graceful stop: it releases the Lease); load the page during the
            // change until the browser shows another leader.
            let stopping = Task { await cluster.stop(old, crash: false) }
            var during: [String] = []
            var after = ""
            let switched = await eventually(timeout: 90) {
                guard let dom = try? await Self.dom(url, profile: profile) else { return false }
                during.append(Self.leader(in: dom) ?? "?")
                after = dom
                guard let shown = Self.leader(in: dom), !shown.isEmpty, shown != old else { return false }
                // The Lease may show the new leader before its first commit reached this replica.
                return Self.newestTerm(in: dom) > first.epoch
            }
            await stopping.value
            #expect(switched, "leaders shown while loading: \(during)")
            let new = try #require(Self.leader(in: after))
            #expect(cluster.leaders == [new], "the page shows the leader the replicas report")
            print("browser loads during the handover showed leaders: \(during)")

            // The change itself is on the page: the Lease moved away from the old leader and to the
            // new one, and the new leader's term started with a newer epoch.
            #expect(after.contains("<td class=\"leader-change\">Lease holder changed</td><td>\(old) → "), "\(after)")
            #expect(after.contains(" → <b>\(new)</b></td>"))
            #expect(Self.newestTerm(in: after) > first.epoch)
            #expect(after.contains("<span class=\"muted\">Leader</span><b>\(new)</b>"))

            let screenshot = scratch.appendingPathComponent("status-page.png").path
            let shot = try await Self.chromium(["--screenshot=\(screenshot)", "--window-size=1100,960", "--hide-scrollbars", url], profile: profile)
            #expect(shot.status == 0 && FileManager.default.fileExists(atPath: screenshot), "\(shot.stderr.suffix(2000))")
            print("screenshot of \(follower)'s page after the handover: \(screenshot)")
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
        // Every browser process (renderers, zygotes, utilities) has gone with the runs.
        let gone = await eventually(timeout: 30) { (try? await runTool("pgrep", ["-f", profile]))?.status == 1 }
        #expect(gone, "chromium processes left behind")
        try? FileManager.default.removeItem(atPath: profile)
    }
}
