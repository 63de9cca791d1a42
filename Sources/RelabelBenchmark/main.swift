// Relabel benchmark (issue 13). Run: make bench-relabel (swift run -c release relabel-bench [--quick]).
//
// 1. Throughput of relabel chains over many targets (targets/s, median of several runs).
// 2. Pathological regexes (nested and alternating repetitions) against long values that do not
//    match: each decision runs in a child process with a deadline, so an exponential engine shows
//    up as FAIL instead of hanging the benchmark.
import Foundation
import Relabel

let quick = CommandLine.arguments.contains("--quick")

func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

/// Milliseconds of CPU this thread spent in `body`: unlike wall-clock time, it does not count the
/// time the thread waited for a core, so figures stay comparable on a busy shared machine.
func cpuMilliseconds(_ body: () -> Void) -> Double {
    func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) * 1e3 + Double(t.tv_nsec) / 1e6
    }
    let start = now()
    body()
    return now() - start
}

// MARK: - Pathological regexes (also the child process's entry point)

struct Pathological {
    let pattern: String
    /// A value of about `length` bytes that the pattern does not match.
    let value: @Sendable (Int) -> String
}

let pathological: [Pathological] = [
    Pathological(pattern: "(a+)+b") { String(repeating: "a", count: $0) + "!" },
    Pathological(pattern: "(a|aa)*c") { String(repeating: "a", count: $0) + "!" },
    Pathological(pattern: "(.*a){25}") { String(repeating: "a", count: 24) + String(repeating: "b", count: $0) },
    Pathological(pattern: "(x+x+)+y") { String(repeating: "x", count: $0) },
]

/// Child mode: `--decide <index> <length>` times one keep rule and one replace rule (which needs the
/// capture groups) on the value, prints the slower decision in ms and whether either matched.
if let i = CommandLine.arguments.firstIndex(of: "--decide") {
    let index = Int(CommandLine.arguments[i + 1])!
    let length = Int(CommandLine.arguments[i + 2])!
    let p = pathological[index]
    let value = p.value(length)
    let keep = try RelabelConfig(sourceLabels: ["v"], regex: p.pattern, action: .keep)
    let replace = try RelabelConfig(sourceLabels: ["v"], regex: p.pattern, targetLabel: "t", replacement: "$1")
    var worst = 0.0
    var matched = false
    for rule in [keep, replace] {
        var times: [Double] = []
        for _ in 0..<3 {
            var builder = LabelBuilder([Label(name: "v", value: value)])
            var kept = true
            times.append(cpuMilliseconds { kept = Relabeler.apply(rule, to: &builder) })
            if rule.action == .keep && kept { matched = true }
            if rule.action == .replace && !builder.get("t").isEmpty { matched = true }
        }
        worst = max(worst, median(times))
    }
    print(String(format: "%.4f %@", worst, matched ? "matched" : "nomatch"))
    exit(0)
}

// MARK: - Throughput

func inputs(_ n: Int) -> [[Label]] {
    (0..<n).map { i in
        var ls = [
            Label(name: "__address__", value: "10.\(i / 65536).\(i / 256 % 256).\(i % 256):8080"),
            Label(name: "__meta_kubernetes_namespace", value: "ns-\(i % 50)"),
            Label(name: "__meta_kubernetes_service_label_app", value: i % 2 == 0 ? "web" : "API-gateway"),
            Label(name: "__meta_kubernetes_endpoint_port_name", value: "http-metrics"),
            Label(name: "__meta_kubernetes_pod_name", value: "web-\(i)"),
            Label(name: "__meta_kubernetes_pod_annotation_prometheus_io_port", value: "9090"),
            Label(name: "__meta_kubernetes_pod_phase", value: "Running"),
            Label(name: "job", value: "serviceMonitor/default/web/0"),
        ]
        for k in 0..<5 { ls.append(Label(name: "__meta_kubernetes_pod_label_l\(k)", value: "v\(k)")) }
        return ls
    }
}

struct Scenario {
    let name: String
    let rules: [RelabelConfig]
    /// Minimum targets/s on the project's machine (2 shared vCPUs, release build).
    let target: Double
}

let scenarios: [Scenario] = [
    Scenario(
        name: "typical chain, 5 rules (literal/affix fast paths)",
        rules: try RelabelConfig.parseList([
            ["source_labels": ["__meta_kubernetes_service_label_app"], "regex": "web|API-gateway", "action": "keep"],
            ["source_labels": ["__meta_kubernetes_endpoint_port_name"], "regex": "http-metrics|metrics", "action": "keep"],
            ["source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"],
            ["regex": "__meta_kubernetes_pod_label_(.+)", "action": "labelmap"],
            ["source_labels": ["__address__"], "target_label": "__tmp_hash", "modulus": 3, "action": "hashmod"],
        ]), target: 300_000),
    Scenario(
        name: "address rewrite (.+?)(\\:\\d+)?;(\\d+) (regex engine, groups)",
        rules: try RelabelConfig.parseList([
            ["source_labels": ["__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port"],
             "regex": "(.+?)(\\:\\d+)?;(\\d+)", "target_label": "__address__", "replacement": "$1:$3"],
        ]), target: 300_000),
    Scenario(
        name: "keep (?i)(web|api-.*) + drop (Failed|Succeeded) (regex engine, match only)",
        rules: try RelabelConfig.parseList([
            ["source_labels": ["__meta_kubernetes_service_label_app"], "regex": "(?i)(web|api-.*)", "action": "keep"],
            ["source_labels": ["__meta_kubernetes_pod_phase"], "regex": "(Failed|Succeeded)x?", "action": "drop"],
        ]), target: 300_000),
    Scenario(
        name: "labelmap __meta_kubernetes_pod_label_([a-z0-9_]+) (regex engine, every label)",
        rules: try RelabelConfig.parseList([
            ["regex": "__meta_kubernetes_pod_label_([a-z0-9_]+)", "action": "labelmap"],
        ]), target: 50_000),
]

let count = quick ? 20_000 : 100_000
let data = inputs(count)
var failures = 0
print("relabel throughput, \(count) targets, best of \(quick ? 3 : 7) runs, per CPU-second of the benchmark's thread")
// `--only <i>` runs one throughput scenario and nothing else (for profiling).
let only = CommandLine.arguments.firstIndex(of: "--only").map { Int(CommandLine.arguments[$0 + 1])! }
for (index, s) in scenarios.enumerated() where only == nil || only == index {
    var times: [Double] = []
    var kept = 0
    for _ in 0..<(quick ? 3 : 7) {
        kept = 0
        times.append(cpuMilliseconds {
            for ls in data where Relabeler.process(ls, rules: s.rules) != nil { kept += 1 }
        })
    }
    let perSecond = Double(count) / (times.min()! / 1000)
    let pass = perSecond >= s.target && kept == count
    if !pass { failures += 1 }
    print("  " + s.name.padding(toLength: 80, withPad: " ", startingAt: 0)
        + String(format: " %9.0f targets/s  (target ≥ %.0f, kept %d)  ", perSecond, s.target, kept) + (pass ? "PASS" : "FAIL"))
}

if only != nil { exit(failures == 0 ? 0 : 1) }

// Each decision on its own, in a child process that is killed at the deadline.
let deadline = 10.0
let boundMs = 20.0
let lengths = quick ? [1_000] : [1_000, 10_000]
print("pathological regexes, CPU time of the slower of keep and replace per decision (bound \(boundMs) ms; killed after \(deadline) s)")
let executable = URL(fileURLWithPath: CommandLine.arguments[0]).path
for (index, p) in pathological.enumerated() {
    for length in lengths {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: executable)
        child.arguments = ["--decide", String(index), String(length)]
        let out = Pipe()
        child.standardOutput = out
        try child.run()
        let started = Date()
        while child.isRunning && Date().timeIntervalSince(started) < deadline { usleep(10_000) }
        var line: String
        var pass = false
        if child.isRunning {
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            line = String(format: "did not decide within %.0f s", deadline)
        } else {
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let parts = text.split(separator: " ")
            let decided = parts.first.flatMap { Double($0) } ?? .infinity
            let matched = parts.count > 1 && parts[1].hasPrefix("matched")
            pass = decided <= boundMs && !matched && child.terminationStatus == 0
            line = String(format: "%9.3f ms", decided) + (matched ? " (matched: wrong)" : "")
        }
        if !pass { failures += 1 }
        print("  " + p.pattern.padding(toLength: 12, withPad: " ", startingAt: 0)
            + String(format: " %6d bytes  ", length) + line + "  " + (pass ? "PASS" : "FAIL"))
    }
}
print(failures == 0 ? "relabel-bench: PASS" : "relabel-bench: FAIL (\(failures))")
