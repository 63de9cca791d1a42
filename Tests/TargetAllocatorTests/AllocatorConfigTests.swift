import Discovery
import JSON
import Testing

@testable import TargetAllocator

/// Reading the config file with upstream's semantics (`cmd/otel-allocator/internal/config`):
/// defaults, then the file, the environment and the flags that were given, then validation.
@Suite struct AllocatorConfigTests {
    static func problems(_ text: String, environment: [String: String] = [:], overrides: AllocatorConfig.Overrides = .init()) -> [String] {
        do {
            _ = try AllocatorConfig.parse(text, environment: environment, overrides: overrides)
            return []
        } catch let error as AllocatorConfig.Problems {
            return error.problems
        } catch {
            return ["unexpected \(error)"]
        }
    }

    static let oneJob = "config:\n  scrape_configs:\n  - job_name: a\n    static_configs: [{targets: [\"x:1\"]}]\n"

    @Test func readsTheOperatorGeneratedFile() throws {
        let text = """
            allocation_strategy: consistent-hashing
            collector_selector:
              matchlabels:
                app.kubernetes.io/component: opentelemetry-collector
                app.kubernetes.io/instance: default.my-instance
              matchexpressions: []
            config:
              global: {scrape_interval: 30s}
              scrape_configs:
              - job_name: otel-collector
                scrape_interval: 10s
                honor_labels: true
                sample_limit: 1000
                static_configs: [{targets: [0.0.0.0:8888, 0.0.0.0:9999]}]
            filter_strategy: relabel-config
            leader_election: {lease_name: ta, lease_duration: 20s, renew_deadline: 15s, retry_period: 2s}
            snapshot: {configmap_name: ta-snap, min_write_interval: 500ms, initial_discovery_wait: 1m30s}
            """
        let config = try AllocatorConfig.parse(text, environment: ["OTELCOL_NAMESPACE": "observability"])
        #expect(config.collectorNamespace == "observability")
        #expect(config.collectorSelector?.queryString == "app.kubernetes.io/component=opentelemetry-collector,app.kubernetes.io/instance=default.my-instance")
        #expect(config.scrapeConfigs.count == 1)
        #expect(
            config.scrapeConfigs[0].serialized
                == #"{"job_name":"otel-collector","scrape_interval":"10s","honor_labels":true,"sample_limit":1000,"static_configs":[{"targets":["0.0.0.0:8888","0.0.0.0:9999"]}]}"#)
        #expect(config.leaderElection.leaseName == "ta" && config.leaderElection.leaseDuration == .seconds(20))
        #expect(config.snapshot.configMapName == "ta-snap" && config.snapshot.minWriteInterval == .milliseconds(500))
        #expect(config.snapshot.initialDiscoveryWait == .seconds(90))
        #expect(config.warnings.isEmpty)
    }

    @Test func reportsEveryProblemWithItsPath() {
        let text = """
            allocation_strategy: round-robin
            https: {enabled: true}
            leader_election: {lease_duration: 5s, renew_deadline: 10s, retry_period: soon}
            config:
              scrape_configs:
              - job_name: a
              - job_name: a
              - static_configs: []
            """
        let all = Self.problems(text).joined(separator: "\n")
        for expected in [
            "allocation_strategy: must be", "leader_election.retry_period: \"soon\": not a Go duration",
            "leader_election.lease_duration: must be greater than renew_deadline", "config.scrape_configs[1].job_name: duplicate \"a\"",
            "config.scrape_configs[2].job_name: required", "https: enabled needs tls_cert_file_path",
        ] {
            #expect(all.contains(expected), "missing \(expected) in\n\(all)")
        }
    }

    /// Upstream decodes with mapstructure, which ignores keys it does not know; a newer operator
    /// writes keys an older allocator does not know. They are warnings here, never refusals.
    @Test func unknownKeysAreWarningsAtEveryLevel() throws {
        let text = """
            colector_namespace: typo
            collector_selector: {matchlabels: {app: c}, matchfields: {x: y}}
            https: {enabled: false, port: 1}
            prometheus_cr: {enabled: true, pod_monitor_selector: {}, future_option: 3}
            leader_election: {lease_durations: 1s}
            snapshot: {compress: true}
            """
        let config = try AllocatorConfig.parse(text)
        #expect(
            config.warnings == [
                "colector_namespace: unknown key, ignored", "collector_selector.matchfields: unknown key, ignored",
                "https.port: unknown key, ignored", "prometheus_cr.future_option: unknown key, ignored",
                "leader_election.lease_durations: unknown key, ignored", "snapshot.compress: unknown key, ignored",
            ])
        // The watcher is handed upstream's keys only.
        #expect(config.prometheusCR == .object([JSONMember("enabled", .bool(true)), JSONMember("pod_monitor_selector", .object([]))]))
        #expect(config.collectorSelector?.queryString == "app=c")
    }

    /// `collector_not_ready_grace_period` and `prometheus_cr.{scrape,evaluation}_interval` are
    /// Go `time.Duration`s upstream (decoded with `time.ParseDuration`); the operator writes
    /// them with Go's `Duration.String()` (`2.5s`, `1m0s`). The intervals reach
    /// prometheus-operator as `model.Duration.String()`, whole milliseconds.
    @Test(arguments: [
        ("2.5s", Duration.milliseconds(2500), "2s500ms"), ("1.5m", .seconds(90), "1m30s"), ("500ms", .milliseconds(500), "500ms"),
        ("1h30m", .seconds(5400), "1h30m"), ("1m0s", .seconds(60), "1m"), ("36h", .seconds(129_600), "1d12h"),
    ])
    func goDurationKeys(spelling: String, value: Duration, prometheus: String) throws {
        let config = try AllocatorConfig.parse(
            Self.oneJob
                + "collector_not_ready_grace_period: \(spelling)\nprometheus_cr: {scrape_interval: \(spelling), evaluation_interval: \(spelling)}\n")
        #expect(config.collectorNotReadyGracePeriod == value)
        #expect(config.prometheusCR?["scrape_interval"] == .string(prometheus))
        #expect(config.prometheusCR?["evaluation_interval"] == .string(prometheus))
    }

    @Test func goDurationsRefuseWhatGoRefuses() throws {
        #expect(try AllocatorConfig.parse(Self.oneJob + "collector_not_ready_grace_period: 1us\n").collectorNotReadyGracePeriod == .microseconds(1))
        #expect(try AllocatorConfig.parse(Self.oneJob + "collector_not_ready_grace_period: 0s\n").collectorNotReadyGracePeriod == .zero)
        // `d` is Prometheus syntax, not Go's: time.ParseDuration fails on it, and so does upstream's Load.
        #expect(Self.problems(Self.oneJob + "collector_not_ready_grace_period: 1d\n") == [
            "collector_not_ready_grace_period: \"1d\": unknown unit \"d\" (ns, us, ms, s, m or h)"
        ])
        #expect(Self.problems(Self.oneJob + "prometheus_cr: {scrape_interval: 30}\n") == [
            "prometheus_cr.scrape_interval: 30ns is below one millisecond, the resolution of Prometheus durations (upstream would pass 0s on)"
        ])
    }

    /// Durations typed `model.Duration` in Prometheus (a scrape config's) keep Prometheus's
    /// syntax: no fractions, but `d`, `w`, `y`.
    @Test func prometheusDurationsKeepPrometheusSyntax() throws {
        let config = try AllocatorConfig.parse("config:\n  scrape_configs:\n  - {job_name: a, scrape_interval: 2.5s}\n  - {job_name: b, scrape_interval: 1d}\n")
        let found = ScrapeConfigModel.normalize(global: config.global, scrapeConfigs: config.scrapeConfigs)
        #expect(found.problems == ["scrape_configs[0].scrape_interval: not a valid duration string: \"2.5s\""])
        #expect(found.jobs.map(\.name) == ["b"])
    }

    /// Upstream's `ValidateConfig`: Prometheus CR watching without any scrape config is valid.
    @Test func nullConfigsAreValidWhenWatchingResources() throws {
        for text in ["config: null\n", "config:\n  scrape_configs: null\n", "config: {global: null, scrape_configs: null}\n", ""] {
            let withCR = text + "prometheus_cr: {enabled: true}\n"
            #expect(Self.problems(withCR).isEmpty, "\(withCR)")
            #expect(
                Self.problems(text) == [
                    "config.scrape_configs: at least one scrape config is needed unless prometheus_cr.enabled (or --enable-prometheus-cr-watcher)"
                ], "\(text)")
            var flag = AllocatorConfig.Overrides()
            flag.prometheusCREnabled = true
            #expect(Self.problems(text, overrides: flag).isEmpty, "\(text)")
        }
    }

    @Test func allowAndDenyNamespacesExcludeEachOther() {
        #expect(
            Self.problems("prometheus_cr: {enabled: true, allow_namespaces: [a], deny_namespaces: [b]}\n") == [
                "prometheus_cr: only one of allow_namespaces or deny_namespaces can be set"
            ])
        #expect(Self.problems("prometheus_cr: {enabled: true, allow_namespaces: [a], deny_namespaces: []}\n").isEmpty)
    }

    /// Upstream's order: file, then `OTELCOL_NAMESPACE` / `ALLOW_INSECURE_AUTH_SECRETS`, then
    /// the flags that were given (`TestConfigLoadPriority`).
    @Test func fileThenEnvironmentThenFlags() throws {
        let file = Self.oneJob + """
            listen_addr: ":7070"
            collector_namespace: from-file
            allow_insecure_auth_secrets: true
            https: {enabled: true, tls_cert_file_path: /f/cert.pem, tls_key_file_path: /f/key.pem, ca_file_path: /f/ca.pem}
            """
        let plain = try AllocatorConfig.parse(file)
        #expect(plain.listenAddress == ":7070" && plain.allowInsecureAuthSecrets && plain.collectorNamespace == "from-file")
        #expect(plain.https == .init(enabled: true, listenAddress: ":8443", caFilePath: "/f/ca.pem", tlsCertFilePath: "/f/cert.pem", tlsKeyFilePath: "/f/key.pem"))

        var flags = AllocatorConfig.Overrides()
        flags.listenAddress = ":8888"
        flags.allowInsecureAuthSecrets = false
        flags.httpsCAFile = "/cli/ca.pem"
        let merged = try AllocatorConfig.parse(file, environment: ["OTELCOL_NAMESPACE": "from-env", "ALLOW_INSECURE_AUTH_SECRETS": "true"], overrides: flags)
        #expect(merged.collectorNamespace == "from-env")
        #expect(merged.listenAddress == ":8888")
        #expect(!merged.allowInsecureAuthSecrets, "an explicit --allow-insecure-auth-secrets=false wins over the environment")
        #expect(merged.https.caFilePath == "/cli/ca.pem" && merged.https.tlsCertFilePath == "/f/cert.pem")

        // --enable-https-server with the certificate paths only in the file.
        var enable = AllocatorConfig.Overrides()
        enable.httpsEnabled = true
        let https = try AllocatorConfig.parse(Self.oneJob + "https: {tls_cert_file_path: /f/cert.pem, tls_key_file_path: /f/key.pem}\n", overrides: enable)
        #expect(https.https.enabled && https.https.tlsKeyFilePath == "/f/key.pem")
        #expect(Self.problems(Self.oneJob, overrides: enable).contains { $0.hasPrefix("https: enabled needs tls_cert_file_path") })
        // And the other way round: the file enables HTTPS, the flags give the files.
        var files = AllocatorConfig.Overrides()
        files.httpsCertFile = "/c.pem"
        files.httpsKeyFile = "/k.pem"
        #expect(Self.problems(Self.oneJob + "https: {enabled: true}\n", overrides: files).isEmpty)
        var off = AllocatorConfig.Overrides()
        off.httpsEnabled = false
        #expect(try !AllocatorConfig.parse(Self.oneJob + "https: {enabled: true}\n", overrides: off).https.enabled)
    }

    @Test func listenAddressesAreChecked() {
        #expect(Self.problems(Self.oneJob + "listen_addr: localhost\n") == ["listen_addr: expected host:port such as :8080, not \"localhost\""])
        var flags = AllocatorConfig.Overrides()
        flags.listenAddress = "nope"
        #expect(Self.problems(Self.oneJob, overrides: flags) == ["listen_addr: expected host:port such as :8080, not \"nope\""])
    }

    /// Types as mapstructure decodes them: null keeps the default, a wrong type is an error.
    @Test func nullKeepsDefaultsAndWrongTypesAreErrors() throws {
        let config = try AllocatorConfig.parse(Self.oneJob + "filter_strategy: null\nlisten_addr: null\nhttps: null\nallocation_strategy: null\n")
        #expect(config.filterStrategy == "relabel-config" && config.listenAddress == ":8080" && config.allocationStrategy == "consistent-hashing")
        #expect(
            Self.problems(Self.oneJob + "allow_insecure_auth_secrets: \"yes please\"\ncollector_namespace: 42\n") == [
                "allow_insecure_auth_secrets: must be true or false, not \"yes please\"", "collector_namespace: must be a string, not 42",
            ])
    }

    /// Label values are bytes: a selector for the precomposed "é" is not one for "e" + U+0301,
    /// so changing one into the other is a change. (Keys cannot be told apart the same way:
    /// Yams refuses canonically equal mapping keys as duplicates, a clear error at least.)
    @Test func selectorLabelsAreBytes() throws {
        let composed = try AllocatorConfig.parse(Self.oneJob + "collector_selector: {matchLabels: {app: \"\u{E9}\"}}\n")
        let decomposed = try AllocatorConfig.parse(Self.oneJob + "collector_selector: {matchLabels: {app: \"e\u{301}\"}}\n")
        #expect(composed.collectorSelector != decomposed.collectorSelector)
        #expect(decomposed.needsRestart(comparedTo: composed))
    }
}
