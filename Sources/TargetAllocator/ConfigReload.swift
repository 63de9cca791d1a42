import Foundation
public import CoreMetrics
public import Logging
import NIOConcurrencyHelpers

/// Follows the config file while leading: each valid new version restarts discovery with it
/// (scrape configs, `prometheus_cr`, `filter_strategy`), so jobs can be added or changed without
/// a restart (upstream has no reload). An invalid version is logged and ignored; the running
/// one stays. Settings read once at start (leader election, allocation strategy, listeners)
/// still need a restart, and a reload that touches them says so.
public struct ConfigReload: Sendable {
    public var path: String
    public var interval: Duration = .seconds(2)
    /// The command line's settings, applied over every version of the file as at start (a
    /// reload must not lose `--enable-prometheus-cr-watcher`).
    public var overrides = AllocatorConfig.Overrides()
    /// The last valid version and the file bytes last looked at, kept across leadership terms:
    /// a replica that leads again starts from the file as it is now, not from the config it
    /// started with (the file may have changed while another replica led).
    private let latest = NIOLockedValueBox<(config: AllocatorConfig, contents: Data?)?>(nil)

    public init(path: String) {
        self.path = path
    }

    /// Runs `body` with the current config until the file changes to a valid new version, then
    /// with that one, until cancelled.
    /// - Parameter metrics: counts each change seen in upstream's
    ///   `opentelemetry_allocator_events_total{source="EventSourceConfigMap"}`.
    public func follow(
        initial: AllocatorConfig, logger: Logger, metrics: any MetricsFactory = NOOPMetricsHandler.instance,
        _ body: @escaping @Sendable (AllocatorConfig) async -> Void
    ) async {
        let events = Counter(label: "opentelemetry_allocator_events_total", dimensions: [("source", "EventSourceConfigMap")], factory: metrics)
        var (current, contents) = latest.withLockedValue { $0 } ?? (initial, nil)
        // Catch up with what changed while this replica did not follow the file.
        if let data = read(), data != contents {
            contents = data
            current = parse(data, replacing: current, logger: logger) ?? current
            latest.withLockedValue { $0 = (current, contents) }
        }
        while !Task.isCancelled {
            let config = current
            let running = Task { await body(config) }
            var next: AllocatorConfig?
            while next == nil, !Task.isCancelled {
                do { try await Task.sleep(for: interval) } catch { break }
                guard let data = read(), data != contents else { continue }
                events.increment()
                contents = data
                next = parse(data, replacing: current, logger: logger)
                latest.withLockedValue { $0 = (next ?? current, contents) }
            }
            running.cancel()
            await running.value
            guard let next else { return }
            logger.info("config reloaded; restarting discovery", metadata: ["path": "\(path)"])
            current = next
        }
    }

    /// The file's bytes, nil if unreadable; never more than one byte past the size limit, so
    /// an oversized file costs bounded memory and is refused by the parser.
    private func read() -> Data? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        return try? handle.read(upToCount: ConfigYAML.maxFileBytes + 1) ?? Data()
    }

    /// The new version if valid; nil (logged) if not, so the running config stays.
    private func parse(_ data: Data, replacing current: AllocatorConfig, logger: Logger) -> AllocatorConfig? {
        do {
            let parsed = try AllocatorConfig.parse(
                String(decoding: data, as: UTF8.self), environment: ProcessInfo.processInfo.environment, overrides: overrides)
            for warning in parsed.warnings { logger.warning("config: \(warning)", metadata: ["path": "\(path)"]) }
            if parsed.needsRestart(comparedTo: current) {
                logger.warning("config changed settings that apply only after a restart; reloading discovery only", metadata: ["path": "\(path)"])
            }
            return parsed
        } catch {
            logger.error("config reload rejected; keeping the running config", metadata: ["path": "\(path)", "error": "\(error)"])
            return nil
        }
    }
}

extension AllocatorConfig {
    /// Whether settings outside discovery differ (they are read once, at start).
    func needsRestart(comparedTo other: AllocatorConfig) -> Bool {
        allocationStrategy != other.allocationStrategy || allocationFallbackStrategy != other.allocationFallbackStrategy
            || collectorNamespace != other.collectorNamespace || collectorSelector != other.collectorSelector
            || leaderElection.leaseName != other.leaderElection.leaseName || leaderElection.leaseDuration != other.leaderElection.leaseDuration
            || snapshot.configMapName != other.snapshot.configMapName || listenAddress != other.listenAddress || https != other.https
            || allowInsecureAuthSecrets != other.allowInsecureAuthSecrets || collectorNotReadyGracePeriod != other.collectorNotReadyGracePeriod
    }
}
