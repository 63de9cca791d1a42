import Foundation
import NIOConcurrencyHelpers

/// What the kernel says about a process: CPU time from `/proc/<pid>/stat`, memory from
/// `/proc/<pid>/status`. Read from outside the process, so a replica is measured as it runs.
enum ProcStats {
    private static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// User + system CPU seconds of every thread of `pid`, or nil once it is gone.
    static func cpuSeconds(_ pid: Int32) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        // Fields after the command name start at field 3 (state); utime and stime are fields 14 and 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / ticksPerSecond
    }

    /// `VmRSS` and `VmHWM` (resident now and at its peak), in bytes.
    static func memory(_ pid: Int32) -> (resident: Int, peak: Int)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func kibibytes(_ key: String) -> Int? {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key + ":") }) else { return nil }
            return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
        }
        guard let rss = kibibytes("VmRSS"), let hwm = kibibytes("VmHWM") else { return nil }
        return (rss * 1024, hwm * 1024)
    }
}

/// Samples the CPU time of a few processes every `interval`, timestamped with the wall clock
/// (the emulator's audit log uses the same clock), so the CPU a process spent between two
/// audited events can be read off afterwards.
final class CPUSampler: Sendable {
    private let samples = NIOLockedValueBox<[Int32: [(time: Date, cpu: Double)]]>([:])
    private let pids = NIOLockedValueBox<[Int32]>([])

    func watch(_ pid: Int32) { pids.withLockedValue { $0.append(pid) } }

    func run(interval: Duration = .milliseconds(50)) async {
        while !Task.isCancelled {
            let now = Date()
            for pid in pids.withLockedValue({ $0 }) {
                if let cpu = ProcStats.cpuSeconds(pid) { samples.withLockedValue { $0[pid, default: []].append((now, cpu)) } }
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// CPU seconds of `pid` at `time`, interpolated between the samples around it.
    func cpu(_ pid: Int32, at time: Date) -> Double? {
        let series = samples.withLockedValue { $0[pid] ?? [] }
        guard let after = series.firstIndex(where: { $0.time >= time }) else { return series.last?.cpu }
        guard after > 0 else { return series[after].cpu }
        let a = series[after - 1]
        let b = series[after]
        let span = b.time.timeIntervalSince(a.time)
        return span <= 0 ? b.cpu : a.cpu + (b.cpu - a.cpu) * time.timeIntervalSince(a.time) / span
    }
}
