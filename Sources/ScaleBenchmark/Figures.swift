import Foundation
import KubernetesEmulator
import SampleWorkload

/// Prints each figure beside its target and verdict, and counts the verdicts.
struct Figures {
    let settings: Settings
    private var verdicts: [(name: String, pass: Bool)] = []
    /// Rows judged in this run: all of them, or with a slow API server only flapping, stepping
    /// down and fencing (the other targets are set for a responsive API server).
    private var judging = true

    init(settings: Settings) { self.settings = settings }

    private mutating func row(_ name: String, _ value: String, _ target: String = "", _ pass: Bool? = nil) {
        let judged = judging ? pass : nil
        Report.row(name, value, judged == nil && pass != nil ? "(\(target))" : target, judged)
        if let judged { verdicts.append((name, judged)) }
    }

    /// With a slow API server, the rows until `judgeAgain()` are shown without a verdict.
    mutating func showOnly(_ why: String) {
        judging = false
        Report.note(why)
    }

    mutating func judgeAgain() { judging = true }

    private func seconds(_ from: Date, _ to: Date) -> String { String(format: "%.2f s", to.timeIntervalSince(from)) }

    mutating func leadership(_ a: Analysis, cutoff: Date, slowAPI: Bool) {
        Report.section("leadership (the emulator's audit log)")
        let changes = a.leadershipChanges(before: cutoff)
        let detail = changes.prefix(4).map { "\($0.from)→\($0.to.holder)" }.joined(separator: ", ") + (changes.count > 4 ? ", …" : "")
        row(
            "leadership changes before the \(slowAPI ? "stall" : "kill")", "\(changes.count)\(changes.isEmpty ? "" : " (\(detail))")", "0",
            changes.isEmpty)
        let renew = a.renewLatencies(before: cutoff)
        let retry = ms(settings.retryPeriod)
        row(
            "renew latency (\(renew.count) renewals)",
            "p50 \(format(ms: percentile(renew, 0.5))), p99 \(format(ms: percentile(renew, 0.99))), max \(format(ms: renew.max() ?? .nan))",
            "p99 ≤ \(format(ms: retry))", slowAPI ? nil : !renew.isEmpty && percentile(renew, 0.99) <= retry)
        Report.note("renew latency: gap between consecutive successful Lease updates by the holder (commit times) minus retry_period")
        if slowAPI {
            Report.note("(not judged here: with every request delayed \(settings.latencyMilliseconds) ms each renewal's gap includes the delay)")
        }
    }

    mutating func initial(_ a: Analysis, scan: Analysis.Scan, sampler: CPUSampler, pids: [String: Int32]) {
        let expected = (0..<settings.pods).count { ScaleWorkload(pods: settings.pods).isScraped(seeded: $0) }
        Report.section("initial list of \(settings.pods) pods (\(expected) scraped)")
        guard let i = a.initial(scan.generations), let pid = pids[i.leader] else {
            row("first complete snapshot after the term starts", "none holds every scraped pod", "≤ 10 s", false)
            row("leader CPU per discovered pod", "n/a", "≤ 50 µs", false)
            return
        }
        for g in i.earlier {
            Report.note("\(i.leader) first committed \(g.version) with \(g.targets) targets, \(seconds(i.termStart, g.committedAt)) into its term")
        }
        let latency = i.complete.committedAt.timeIntervalSince(i.termStart)
        row("first complete snapshot after the term starts (\(i.leader))", String(format: "%.2f s", latency), "≤ 10 s", latency <= 10)
        if let a = sampler.cpu(pid, at: i.termStart), let b = sampler.cpu(pid, at: i.complete.committedAt) {
            let perPod = (b - a) / Double(settings.pods) * 1e6
            row("leader CPU per discovered pod", String(format: "%.0f µs (%.2f CPU-s)", perPod, b - a), "≤ 50 µs", perPod <= 50)
        } else {
            row("leader CPU per discovered pod", "no CPU samples", "≤ 50 µs", false)
        }
        Report.note("term start: the Lease write that began the writer's term; complete snapshot: the first manifest write (audit")
        Report.note("log) whose snapshot holds every scraped pod; CPU: utime+stime of the leader (/proc/<pid>/stat) in between,")
        Report.note("divided by all \(settings.pods) pods listed")
    }

    mutating func churn(_ scan: Analysis.Scan, outcome: ChurnGenerator.Outcome, plan: [PodChange], cpu: (emulator: Double?, bench: Double?)) {
        Report.section("churn: \(settings.churnPerSecond) pod changes/s for \(settings.churnSeconds) s")
        let c = scan.churn
        let seconds = ms(outcome.elapsed) / 1000
        row(
            "changes made (half new pods, half no longer scraped)",
            String(format: "%d in %.1f s = %.0f/s (%.0f writes/s)", plan.count, seconds, Double(plan.count) / seconds, Double(outcome.writes) / seconds),
            "\(settings.churnPerSecond)/s")
        row(
            "  API write latency seen by the load generator",
            "p50 \(format(ms: percentile(outcome.writeLatencies, 0.5))), p99 \(format(ms: percentile(outcome.writeLatencies, 0.99)))")
        func share(_ v: Double?) -> String { v.map { String(format: "%.0f%%", $0 * 100) } ?? "n/a" }
        row("  CPU during the churn: kube-emulator, scale-bench", "\(share(cpu.emulator)), \(share(cpu.bench)) of one core")
        let p99 = percentile(c.latencies, 0.99)
        row(
            "write → every follower serving it (\(c.latencies.count) changes)",
            "p50 \(format(ms: percentile(c.latencies, 0.5))), p99 \(format(ms: p99)), max \(format(ms: c.latencies.max() ?? .nan))",
            "p99 ≤ 1 s", !c.latencies.isEmpty && p99 <= 1000 && c.unwritten == 0)
        if !c.toCommit.isEmpty {
            row(
                "  of which write → committed (the leader's part)",
                "p50 \(format(ms: percentile(c.toCommit, 0.5))), p99 \(format(ms: percentile(c.toCommit, 0.99)))", "", nil)
        }
        let neverServed = c.latencies.filter(\.isInfinite).count
        row(
            "  changes never served (never committed) / writes failed", "\(neverServed) (\(c.unreflected)) / \(c.unwritten)", "0",
            neverServed == 0 && c.unwritten == 0)
        Report.note("per change: its write's commit time (audit log) → the first complete generation committed after it that")
        Report.note("reflects it (decoded from the ConfigMaps) → the last replica other than that generation's writer to install it")
        Report.note("or a later one (/status installed_at_millis, polled every 25 ms); never served counts as infinite.")
        Report.note("\(scan.generations.count) generations decoded")
        for problem in scan.undecodable.prefix(3) { Report.note("undecodable: \(problem)") }
    }

    /// Generations missing targets that existed all along: followers served them (an empty
    /// list drops every target from Prometheus).
    mutating func completeness(_ scan: Analysis.Scan) {
        let incomplete = scan.generations.filter { !$0.complete }
        let detail = incomplete.prefix(4).map { "\($0.version) \($0.targets) targets by \($0.leader)" }.joined(separator: ", ")
        row(
            "committed snapshots missing stable targets", "\(incomplete.count) of \(scan.generations.count)\(incomplete.isEmpty ? "" : " (\(detail))")", "0",
            incomplete.isEmpty)
        Report.note("stable targets: seeded scraped pods the churn never touches; every complete snapshot holds all of them")
    }

    mutating func memory(_ memory: [String: (resident: Int, peak: Int)], leader: String?) {
        Report.section("memory at the end of the steady state")
        if let leader, let m = memory[leader] {
            row("resident memory, leader (\(leader))", "\(megabytes(m.resident)) (peak \(megabytes(m.peak)))", "≤ 600 MB", m.resident <= 600_000_000)
        } else {
            row("resident memory, leader", "no leader", "≤ 600 MB", false)
        }
        let followers = memory.filter { $0.key != leader }
        if let worst = followers.max(by: { $0.value.resident < $1.value.resident }) {
            row(
                "resident memory, largest follower (\(worst.key))", "\(megabytes(worst.value.resident)) (peak \(megabytes(worst.value.peak)))",
                "≤ 150 MB", worst.value.resident <= 150_000_000)
        }
        Report.note("VmRSS (peak: VmHWM) from /proc/<pid>/status")
    }

    mutating func noLeaderToKill() {
        Report.section("kill -9 of the leader")
        row("kill → new leader's first snapshot write", "no leader to kill", "", false)
    }

    mutating func failover(_ f: Analysis.Failover, killedAt: Date, polls: SurvivorPoller.Tally, served: Date?, settled: Bool) {
        Report.section("kill -9 of the leader")
        let limit = ms(settings.leaseDuration) / 1000 + 3
        if let write = f.firstManifest {
            let took = write.time.timeIntervalSince(killedAt)
            let detail = [
                f.takeover.map { "Lease taken " + seconds(killedAt, $0.time) },
                f.firstChunk.map { "first chunk " + seconds(killedAt, $0.time) },
            ].compactMap { $0 }.joined(separator: ", ")
            row(
                "kill → new leader's first snapshot write (\(write.identity))", String(format: "%.2f s (%@)", took, detail),
                String(format: "≤ %.0f s", limit), took <= limit)
        } else {
            row("kill → new leader's first snapshot write", f.takeover.map { "none (Lease taken by \($0.identity))" } ?? "none", String(format: "≤ %.0f s", limit), false)
        }
        if let problem = f.problem {
            row("targets moved by the failover", problem, "0", false)
        } else if !settled {
            row("targets moved by the failover", "\(f.moved) of \(f.compared), but the new leader had not settled", "0", false)
        } else {
            row(
                "targets moved by the failover", "\(f.moved) of \(f.compared) (only before \(f.onlyBefore), only after \(f.onlyAfter))", "0",
                f.moved == 0 && f.compared > 0)
        }
        row(
            "survivors' SD answers (poller throughout)",
            "\(polls.complete) of \(polls.answered) complete, \(polls.failed) failed, \(polls.raced) across a swap",
            "all 200, complete", polls.failed == 0 && polls.complete > 0)
        row("  kill → both survivors serve the new epoch", served.map { seconds(killedAt, $0) } ?? "not within 180 s")
        for example in polls.examples { Report.note("failed: \(example)") }
        Report.note("first snapshot write: the new leader's first manifest write (audit log); moved: targets whose collector in any")
        let compared = f.after.count <= 4 ? f.after.map(\.description).joined(separator: ", ") : "\(f.after.first!) … \(f.after.last!)"
        Report.note("generation of the new epoch (\(f.after.count): \(compared)) differs from the last one of the killed leader's term")
        Report.note("(\(f.before.map(\.description) ?? "none")), compared until the new leader settled; the poller ran until then too;")
        Report.note("complete: as many targets as /status counts for that collector")
    }

    /// Whether the leader whose renewals failed during the stall stepped down: its Lease
    /// writes stopped for longer than the renew deadline, and the next snapshot anyone wrote
    /// carries a new epoch (a new term, even if the same replica re-acquired the Lease it still
    /// named). Writes inside the gap are the fencing check's.
    mutating func stall(_ a: Analysis, leader: String?, before: Version?, from: Date, to: Date, recovered: Bool) {
        Report.section("API stall (\(settings.stallMilliseconds) ms per request for \(settings.stallSeconds) s)")
        guard let leader else {
            row("leader stepped down during the stall", "no leader when it began", "", false)
            return
        }
        let gap = a.longestRenewGap(of: leader, from: from, to: to)
        row(
            "longest gap between \(leader)'s renewals across the stall", gap.map { format(ms: ms($0)) } ?? "no renewal after it",
            "> \(format(ms: ms(settings.renewDeadline)))", gap.map { $0 > settings.renewDeadline } ?? true)
        Report.note("(the stall must make renewals fail for longer than the renew deadline, or it tests nothing)")
        let after = a.leadershipChanges(before: .distantFuture).filter { $0.to.writes[0].time > from }
        row(
            "leadership changes after the stall began, beyond the first", "\(max(0, after.count - 1))"
                + (after.isEmpty ? "" : " (" + after.prefix(4).map { "\($0.from)→\($0.to.holder)" }.joined(separator: ", ") + ")"),
            "0", after.count <= 1)
        if let next = a.firstSnapshot(after: from, epochAfter: before?.epoch ?? 0) {
            row(
                "leader stepped down: a snapshot of a new epoch", "\(before.map { "\($0.epoch)" } ?? "none") → \(next.version.epoch), by \(next.entry.identity)",
                "a new epoch", true)
            row(
                "  written after the stall ended", seconds(to, next.entry.time) + (recovered ? "; every replica serves it" : "; not served by all"))
        } else {
            row("leader stepped down: a snapshot of a new epoch", "none written after the stall began", "a new epoch", false)
        }
    }

    mutating func fencing(_ a: Analysis) {
        Report.section("fencing (the emulator's audit log, whole run)")
        let outside = a.writesOutsideTerm
        var late = 0
        var notHolder = 0
        var overshoot = Duration.zero
        for w in outside {
            switch w.reason {
            case .afterRenewDeadline(let o):
                late += 1
                overshoot = max(overshoot, o)
            case .notHolder: notHolder += 1
            }
        }
        row(
            "snapshot writes outside the writer's term", "\(outside.count) (\(late) after its renew deadline, max +\(format(ms: ms(overshoot))); \(notHolder) not holding)",
            "0", outside.isEmpty)
        for w in outside.prefix(3) { Report.note("outside: \(w.entry) \(w.reason)") }
        Report.note("a ConfigMap write by a replica committed while the Lease named someone else, or more than renew_deadline after its")
        Report.note("own last Lease write (by then a client-go elector must have stopped: no renewal succeeded within the deadline)")
    }

    func summary(loadAverage: String, took: Duration) {
        let passed = verdicts.filter(\.pass).count
        print(String(format: "\n%d of %d targets met; the run took %.1f min; load average %@ at the end", passed, verdicts.count, ms(took) / 60_000, loadAverage))
        for v in verdicts where !v.pass { print("  FAIL: \(v.name.trimmingCharacters(in: .whitespaces))") }
    }
}
