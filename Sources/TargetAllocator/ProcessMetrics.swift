import Foundation
import NIOConcurrencyHelpers
public import Prometheus
public import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// The standard `process_*` series every Prometheus client library exports (client_golang's
/// process collector, which upstream's allocator serves), so memory and CPU dashboards keep
/// working: read from `/proc/self` (Linux) every `interval` until shutdown. swift-metrics
/// 2.13 no longer ships its `SystemMetrics` (it moved to swift-metrics-extras, which this
/// project does not depend on), and the six series are a few lines of `/proc`.
public struct ProcessMetrics: Service {
    private let cpuSeconds: Counter
    private let residentMemory: Gauge
    private let virtualMemory: Gauge
    private let virtualMemoryMax: Gauge
    private let openFDs: Gauge
    private let maxFDs: Gauge
    private let startTime: Gauge
    /// CPU seconds already added to the counter (it only moves by increments).
    private let reportedCPU = NIOLockedValueBox<Double>(0)
    public var interval: Duration = .seconds(2)

    public init(registry: PrometheusCollectorRegistry) {
        func gauge(_ name: String, _ unit: String, _ help: String) -> Gauge {
            registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "process", metricName: name, unitName: unit, helpText: help))
        }
        cpuSeconds = registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "process", metricName: "cpu_seconds", unitName: "total", helpText: "Total user and system CPU time spent in seconds."))
        residentMemory = gauge("resident_memory", "bytes", "Resident memory size in bytes.")
        virtualMemory = gauge("virtual_memory", "bytes", "Virtual memory size in bytes.")
        virtualMemoryMax = gauge("virtual_memory_max", "bytes", "Maximum amount of virtual memory available in bytes.")
        openFDs = gauge("open", "fds", "Number of open file descriptors.")
        maxFDs = gauge("max", "fds", "Maximum number of open file descriptors.")
        startTime = gauge("start_time", "seconds", "Start time of the process since unix epoch in seconds.")
    }

    public func run() async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                update()
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// Reads `/proc/self` once; a series whose source cannot be read keeps its last value.
    public func update() {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        if let stat = Self.statFields(), stat.count > 21, ticks > 0 {
            // Fields of proc(5) from `state` (field 3) on: utime 14, stime 15, starttime 22, vsize 23, rss 24.
            if let user = Double(stat[11]), let system = Double(stat[12]) {
                let total = (user + system) / ticks
                let delta = reportedCPU.withLockedValue { reported in
                    defer { reported = max(reported, total) }
                    return total - reported
                }
                if delta > 0 { cpuSeconds.increment(by: delta) }
            }
            if let vsize = Double(stat[20]) { virtualMemory.set(to: vsize) }
            if let rss = Double(stat[21]) { residentMemory.set(to: rss * Double(sysconf(Int32(_SC_PAGESIZE)))) }
            if let started = Double(stat[19]), let boot = Self.bootTime() { startTime.set(to: boot + started / ticks) }
        }
        if let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") { openFDs.set(to: Double(fds.count)) }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { maxFDs.set(to: Double(limit.rlim_cur)) }
        if getrlimit(Int32(RLIMIT_AS.rawValue), &limit) == 0 { virtualMemoryMax.set(to: Double(limit.rlim_cur)) }
    }

    /// `/proc/self/stat` from field 3 on (the command name, in parentheses, may hold spaces).
    static func statFields() -> [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8), let close = text.lastIndex(of: ")") else {
            return nil
        }
        return text[text.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
    }

    /// The system's boot time (`btime` of `/proc/stat`), in seconds since the epoch.
    static func bootTime() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst("btime ".count).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }
}
