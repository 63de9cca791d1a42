import Discovery
import Foundation
import JSON
import TestSupport
import Testing

@testable import TargetAllocator

/// The upstream allocator's own test configs and the configs the operator generates
/// (`Tests/Fixtures/upstream-allocator-config`), with the outcomes upstream has. Expectations
/// come from upstream's code: `config.Load` (which ignores unknown keys) followed by
/// `config.ValidateConfig` (at least one scrape config or `prometheus_cr.enabled`, a collector
/// namespace, not both allow and deny namespaces), and the values its `TestLoadFromFile`
/// expects. The operator injects `OTELCOL_NAMESPACE`, so these run with it set.
@Suite struct UpstreamConfigTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/upstream-allocator-config")
    static func path(_ name: String) -> String { fixtures.appendingPathComponent(name).path }
    static let environment = ["OTELCOL_NAMESPACE": "default"]

    /// File → upstream's outcome: nil when it loads and validates, else the reason it does not.
    static let outcomes: [(file: String, refusal: String?)] = [
        ("config_test.yaml", nil), ("global_config_test.yaml", nil),
        // "at least one scrape config must be defined, or Prometheus CR watching must be enabled"
        ("no_config.yaml", "config.scrape_configs: at least one scrape config is needed"),
        ("pod_service_selector_camelcase_expressions_test.yaml", nil), ("pod_service_selector_camelcase_test.yaml", nil),
        ("pod_service_selector_expressions_test.yaml", nil), ("pod_service_selector_test.yaml", nil), ("scrape_class_test.yaml", nil),
        ("operator/default.yaml", nil), ("operator/allocation-fallback-strategy.yaml", nil),
        ("operator/allow-insecure-auth-secrets.yaml", nil), ("operator/collector-not-ready-grace-period.yaml", nil),
        ("operator/deny-fs-access-through-sms.yaml", nil), ("operator/https-configuration.yaml", nil),
        ("operator/label-selectors.yaml", nil), ("operator/namespace-label-selectors.yaml", nil),
        ("operator/scrape-and-evaluation-intervals-and-protocols-set.yaml", nil), ("operator/scrape-classes-set.yaml", nil),
        ("operator/without-collector.yaml", "config.scrape_configs: at least one scrape config is needed"),
        ("operator/without-scrape-configs.yaml", "config.scrape_configs: at least one scrape config is needed"),
    ]

    @Test(arguments: outcomes.map(\.file))
    func loadsWithUpstreamsOutcome(file: String) throws {
        let refusal = Self.outcomes.first { $0.file == file }!.refusal
        do {
            let config = try AllocatorConfig.load(path: Self.path(file), environment: Self.environment)
            #expect(refusal == nil, "\(file) loaded; upstream refuses it: \(refusal ?? "")")
            #expect(config.warnings.isEmpty || file == "no_config.yaml", "\(config.warnings)")
            // Every scrape config passes Prometheus's defaults and validation.
            let found = ScrapeConfigModel.normalize(global: config.global, scrapeConfigs: config.scrapeConfigs)
            #expect(found.problems.isEmpty, "\(found.problems)")
        } catch let error as AllocatorConfig.Problems {
            #expect(refusal != nil, "\(file) refused; upstream loads it: \(error.problems)")
            if let refusal { #expect(error.problems.contains { $0.hasPrefix(refusal) }, "\(error.problems)") }
        }
    }

    /// The values upstream's `TestLoadFromFile` expects for `config_test.yaml` and
    /// `global_config_test.yaml`.
    @Test func valuesReadAsUpstreamReadsThem() throws {
        let config = try AllocatorConfig.load(path: Self.path("config_test.yaml"), environment: [:])
        #expect(config.collectorNamespace == "default")
        #expect(config.collectorSelector?.queryString == "app.kubernetes.io/instance=default.test,app.kubernetes.io/managed-by=opentelemetry-operator")
        #expect(config.prometheusCREnabled && config.prometheusCR?["scrape_interval"] == .string("1m"))
        #expect(config.collectorNotReadyGracePeriod == .seconds(30))
        #expect(
            config.https
                == .init(enabled: true, listenAddress: ":8443", caFilePath: "/path/to/ca.pem", tlsCertFilePath: "/path/to/cert.pem", tlsKeyFilePath: "/path/to/key.pem"))
        #expect(config.listenAddress == ":8080" && config.allocationStrategy == "consistent-hashing" && config.filterStrategy == "relabel-config")
        let job = try #require(ScrapeConfigModel.normalize(global: config.global, scrapeConfigs: config.scrapeConfigs).jobs.first)
        // ScrapeInterval 60s, ScrapeTimeout 10s, the default protocols, HonorTimestamps, compression, /metrics over http,
        // FollowRedirects and EnableHTTP2, the file SD's 5m refresh, three static targets labelled my=label.
        let served = job.scrapeConfig
        #expect(served["scrape_interval"] == .string("1m") && served["scrape_timeout"] == .string("10s"))
        #expect(served["scrape_protocols"] == .array(ScrapeConfigModel.defaultScrapeProtocols.map(JSONValue.string)))
        #expect(served["honor_timestamps"] == .bool(true) && served["enable_compression"] == .bool(true))
        #expect(served["metrics_path"] == .string("/metrics") && served["scheme"] == .string("http"))
        #expect(served["follow_redirects"] == .bool(true) && served["enable_http2"] == .bool(true))
        #expect(job.fileSD == [FileSDConfig(files: ["./file_sd_test.json"], refreshInterval: .seconds(300))])
        #expect(job.staticGroups.map { $0.targets.count } == [3] && job.staticGroups[0].labels["my"] == "label")

        let global = try AllocatorConfig.load(path: Self.path("global_config_test.yaml"), environment: [:])
        let globalJob = try #require(ScrapeConfigModel.normalize(global: global.global, scrapeConfigs: global.scrapeConfigs).jobs.first)
        #expect(globalJob.scrapeConfig["scrape_protocols"] == .array([.string("PrometheusProto")]))

        // matchExpressions in either spelling.
        for file in ["pod_service_selector_expressions_test.yaml", "pod_service_selector_camelcase_expressions_test.yaml"] {
            let selector = try AllocatorConfig.load(path: Self.path(file), environment: [:]).collectorSelector
            #expect(selector?.queryString == "app.kubernetes.io/instance in (default.test),app.kubernetes.io/managed-by in (opentelemetry-operator)")
        }
        // The operator's `scrape_interval: 30s` and `collector_not_ready_grace_period: 30s`.
        let intervals = try AllocatorConfig.load(
            path: Self.path("operator/scrape-and-evaluation-intervals-and-protocols-set.yaml"), environment: Self.environment)
        #expect(intervals.prometheusCR?["scrape_interval"] == .string("30s") && intervals.prometheusCR?["evaluation_interval"] == .string("30s"))
        #expect(try AllocatorConfig.load(path: Self.path("operator/allow-insecure-auth-secrets.yaml"), environment: [:]).allowInsecureAuthSecrets)
        #expect(try AllocatorConfig.load(path: Self.path("operator/without-collector.yaml"), environment: [:], overrides: {
            var o = AllocatorConfig.Overrides()
            o.prometheusCREnabled = true
            return o
        }()).collectorSelector == nil)
        // no_config.yaml: "check if we skip unknown fields instead of rejecting them".
        do {
            _ = try AllocatorConfig.load(path: Self.path("no_config.yaml"), environment: [:])
        } catch let error as AllocatorConfig.Problems {
            #expect(error.warnings == ["some_key: unknown key, ignored"])
        }
    }

    /// `validate`, the command a person runs on these files, agrees.
    @Test func validateCommandAgrees() async throws {
        for (file, refusal) in Self.outcomes {
            let result = try await runTool("env", ["OTELCOL_NAMESPACE=default", CommandLineTests.binary, "validate", "--config-file", Self.path(file)])
            #expect(result.status == (refusal == nil ? 0 : 1), "\(file): \(result.stdout)")
        }
    }

    /// Starting a replica: `config_test.yaml` enables HTTPS with certificate files that do not
    /// exist, so upstream exits ("Unable to initialize TLS configuration") and so do we, naming
    /// the file; `pod_service_selector_test.yaml` starts and serves its three static targets.
    @Test func replicasStartAsUpstreamDoes() async throws {
        let harness = try await ReplicaProcessHarness(namespace: "default")
        do {
            let failed = try await runTool(
                "env",
                [
                    "POD_NAMESPACE=default", CommandLineTests.binary, "--config-file", Self.path("config_test.yaml"), "--listen-addr",
                    "127.0.0.1:\(try freePort())", "--kubeconfig-path", harness.dir.path("kubeconfig"), "--identity", "ta-0",
                ], timeout: 60)
            #expect(failed.status != 0)
            #expect((failed.stdout + failed.stderr).contains("/path/to/cert.pem"), "\(failed.stderr.suffix(2000))")

            try await harness.addCollector(
                "collector-0", labels: ["app.kubernetes.io/instance": "default.test", "app.kubernetes.io/managed-by": "opentelemetry-operator"])
            let port = try freePort()
            try harness.start(["--config-file", Self.path("pod_service_selector_test.yaml"), "--listen-addr", "127.0.0.1:\(port)"])
            let url = "http://127.0.0.1:\(port)/jobs/prometheus/targets?collector_id=collector-0"
            var targets: Set<String> = []
            _ = await eventually(timeout: 60) {
                guard let answer = await ReplicaProcessHarness.get(url), answer.status == 200,
                    case .array(let groups)? = try? JSONValue.parse(answer.body)
                else { return false }
                targets = Set(groups.compactMap { $0["targets"]?.firstString })
                return targets.count == 3
            }
            #expect(targets == ["prom.domain:9001", "prom.domain:9002", "prom.domain:9003"], "\(harness.log().suffix(3000))")
        } catch {
            await harness.shutdown()
            throw error
        }
        await harness.shutdown()
    }
}

extension JSONValue {
    fileprivate var firstString: String? {
        if case .array(let items) = self { return items.first?.stringValue }
        return nil
    }
}
