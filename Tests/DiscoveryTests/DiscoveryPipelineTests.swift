import Discovery
import Foundation
import JSON
import KubernetesClient
import KubernetesEmulator
import MetricsTestKit
import NIOConcurrencyHelpers
import Snapshot
import TestSupport
import Testing

/// The whole discovery pipeline (`TargetDiscovery`): what the leader serves and counts.
@Suite(.serialized) struct DiscoveryPipelineTests {
    /// Runs discovery until the deltas it published, merged, satisfy `done`.
    static func run(
        _ settings: TargetDiscovery.Settings, client: KubernetesClient?, metrics: TestMetrics, until done: @escaping @Sendable (DiscoveryDelta) -> Bool
    ) async -> DiscoveryDelta? {
        let latest = NIOLockedValueBox<DiscoveryDelta?>(nil)
        var settings = settings
        settings.coalesce = .milliseconds(20)
        let discovery = TargetDiscovery(settings: settings)
        let task = Task {
            await discovery.run(client: client, logger: quietLogger, metrics: metrics) { delta in
                latest.withLockedValue { merged in
                    if merged == nil { merged = delta } else { merged!.merge(delta) }
                }
            }
        }
        _ = await eventually(timeout: 60) { latest.withLockedValue { $0 }.map(done) ?? false }
        task.cancel()
        await task.value
        return latest.withLockedValue { $0 }
    }

    /// A job with a mechanism we cannot discover with keeps its other targets; the mechanism is
    /// counted with the job's name.
    @Test func unsupportedMechanismsAreCountedAndTheJobKept() async throws {
        let configs = [
            try JSONValue.parse(#"{"job_name":"cloud","ec2_sd_configs":[{"region":"eu-west-1"}],"static_configs":[{"targets":["a:9100"]}]}"#)
        ]
        let metrics = TestMetrics()
        let result = await Self.run(
            .init(global: nil, scrapeConfigs: configs, prometheusCR: nil, ownNamespace: "default"), client: nil, metrics: metrics
        ) { $0.upserted.count == 1 }
        #expect(result?.upserted.values.map { $0.labels["__address__"] } == ["a:9100"])
        #expect(result?.jobs?.map(\.name) == ["cloud"])
        #expect(metrics.counterTotal(label: "target_allocator_unsupported_sd_configs_total", dimensions: [("job_name", "cloud"), ("mechanism", "ec2")]) == 1)
    }

    /// Two files whose names differ only in Unicode normalization ("café" composed and
    /// decomposed) are two files to the filesystem and to Prometheus: both groups are served,
    /// and each target keeps its own file's bytes in `__meta_filepath`.
    @Test func fileNamesAreBytes() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sd-bytes-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let composed = dir + "/caf\u{E9}.json"
        let decomposed = dir + "/cafe\u{301}.json"
        try Data(#"[{"targets":["a:1"]}]"#.utf8).write(to: URL(fileURLWithPath: composed))
        try Data(#"[{"targets":["b:2"]}]"#.utf8).write(to: URL(fileURLWithPath: decomposed))
        let configs = [try JSONValue.parse(#"{"job_name":"files","file_sd_configs":[{"files":["\#(dir)/*.json"]}]}"#)]
        let result = await Self.run(
            .init(global: nil, scrapeConfigs: configs, prometheusCR: nil, ownNamespace: "default"), client: nil, metrics: TestMetrics()
        ) { $0.upserted.count == 2 }
        let byAddress = Dictionary(uniqueKeysWithValues: (result?.upserted.values ?? [:].values).map { ($0.labels["__address__"] ?? "", $0.labels["__meta_filepath"] ?? "") })
        #expect(byAddress.keys.sorted() == ["a:1", "b:2"])
        #expect(byAddress["a:1"].map { Array($0.utf8) } == Array(composed.utf8))
        #expect(byAddress["b:2"].map { Array($0.utf8) } == Array(decomposed.utf8))
    }

    /// Operator jobs are loaded against the generated `global` (as upstream's watcher loads the
    /// generated configuration), file jobs against the file's: a file-wide `scrape_protocols`
    /// or `sample_limit` does not leak into ServiceMonitor jobs. Untranslatable resources are
    /// counted by kind.
    @Test func operatorJobsTakeTheGeneratedGlobal() async throws {
        try await withEmulator(namespaces: ["default", "observability", "team"]) { emulator, client in
            emulator.seed(.serviceMonitors, [json(#"{"apiVersion":"monitoring.coreos.com/v1","kind":"ServiceMonitor","metadata":{"name":"nh","namespace":"team"},"spec":{"selector":{},"endpoints":[{"port":"web"}],"scrapeNativeHistograms":true}}"#)])
            emulator.seed(.podMonitors, [json(#"{"apiVersion":"monitoring.coreos.com/v1","kind":"PodMonitor","metadata":{"name":"bad","namespace":"team"},"spec":{"selector":{},"podMetricsEndpoints":[{"port":"web","relabelings":[{"action":"explode"}]}]}}"#)])
            let global = try JSONValue.parse(#"{"scrape_interval":"15s","scrape_protocols":["PrometheusProto"],"sample_limit":5}"#)
            let file = [try JSONValue.parse(#"{"job_name":"file","static_configs":[{"targets":["a:9100"]}]}"#)]
            let cr = try JSONValue.parse(#"{"enabled":true,"service_monitor_selector":{},"pod_monitor_selector":{}}"#)
            let metrics = TestMetrics()
            let result = await Self.run(.init(global: global, scrapeConfigs: file, prometheusCR: cr, ownNamespace: "observability"), client: client, metrics: metrics) {
                $0.jobs?.count == 2
            }
            let jobs = Dictionary(uniqueKeysWithValues: (result?.jobs ?? []).map { ($0.name, $0.scrapeConfig) })
            let monitor = try #require(jobs["serviceMonitor/team/nh/0"], "\(jobs.keys)")
            #expect(monitor["scrape_protocols"]?.serialized == #"["OpenMetricsText1.0.0","OpenMetricsText0.0.1","PrometheusText1.0.0","PrometheusText0.0.4"]"#)
            #expect(monitor["scrape_interval"] == .string("30s"))
            #expect(monitor["sample_limit"] == nil)
            let fileJob = try #require(jobs["file"])
            #expect(fileJob["scrape_protocols"]?.serialized == #"["PrometheusProto"]"#)
            #expect(fileJob["sample_limit"] == .number("5"))
            #expect(await eventually(timeout: 30) { metrics.counterTotal(label: "target_allocator_invalid_resources_total", dimensions: [("kind", "podMonitor")]) == 1 })
        }
    }
}
