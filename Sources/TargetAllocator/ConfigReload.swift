import Foundation
public import Logging

/// Follows the config file while leading: each valid new version restarts discovery with it
/// (scrape configs, `prometheus_cr`, `filter_strategy`), so jobs can be added or changed without
/// a restart (upstream has no reload). An invalid version is logged and ignored; the running
/// one stays. Settings read once at start (leader election, allocation strategy, listeners)
/// still need a restart, and a reload that touches them says so.
public struct ConfigReload: Sendable {
    public var path: String
    public var interval: Duration = .seconds(2)

    public init(path: String) {
        self.path = path
    }

    /// Runs `body` with the current config until the file changes to a valid new version, then
    /// with that one, until cancelled.
    public func follow(
        initial: AllocatorConfig, logger: Logger, _ body: @escaping @Sendable (AllocatorConfig) async -> Void
    ) async {
        var contents = try? Data(contentsOf: URL(fileURLWithPath: path))
        var current = initial
        while !Task.isCancelled {
            let config = current
            let running = Task { await body(config) }
            var next: AllocatorConfig?
            while next == nil, !Task.isCancelled {
                do { try await Task.sleep(for: interval) } catch { break }
                guard let data = try? Data(contentsOf: URL(fileURLWithPath: path)), data != contents else { continue }
                contents = data
                do {
                    let parsed = try AllocatorConfig.parse(String(decoding: data, as: UTF8.self), environment: ProcessInfo.processInfo.environment)
                    if parsed.needsRestart(comparedTo: current) {
                        logger.warning("config changed settings that apply only after a restart; reloading discovery only", metadata: ["path": "\(path)"])
                    }
                    next = parsed
                } catch {
                    logger.error("config reload rejected; keeping the running config", metadata: ["path": "\(path)", "error": "\(error)"])
                }
            }
            running.cancel()
            await running.value
            guard let next else { return }
            logger.info("config reloaded; restarting discovery", metadata: ["path": "\(path)"])
            current = next
        }
    }
}

extension AllocatorConfig {
    /// Whether settings outside discovery differ (they are read once, at start).
    func needsRestart(comparedTo other: AllocatorConfig) -> Bool {
        allocationStrategy != other.allocationStrategy || allocationFallbackStrategy != other.allocationFallbackStrategy
            || collectorNamespace != other.collectorNamespace || collectorSelector != other.collectorSelector
            || leaderElection.leaseName != other.leaderElection.leaseName || leaderElection.leaseDuration != other.leaderElection.leaseDuration
            || snapshot.configMapName != other.snapshot.configMapName
    }
}
