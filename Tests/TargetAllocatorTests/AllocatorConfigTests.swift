import JSON
import Testing

@testable import TargetAllocator

@Suite struct AllocatorConfigTests {
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
            snapshot: {configmap_name: ta-snap, min_write_interval: 500ms}
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
    }

    @Test func reportsEveryProblemWithItsPath() {
        let text = """
            allocation_strategy: round-robin
            colector_namespace: typo
            https: {enabled: true, port: 1}
            leader_election: {lease_duration: 5s, renew_deadline: 10s, retry_period: soon}
            config:
              scrape_configs:
              - job_name: a
              - job_name: a
              - static_configs: []
            """
        do {
            _ = try AllocatorConfig.parse(text)
            Issue.record("expected problems")
        } catch let error as AllocatorConfig.Problems {
            let all = error.problems.joined(separator: "\n")
            for expected in [
                "allocation_strategy: must be", "colector_namespace: unknown key", "https.port: unknown key",
                "leader_election.retry_period: must be a duration", "leader_election.lease_duration: must be greater than renew_deadline",
                "config.scrape_configs[1].job_name: duplicate \"a\"", "config.scrape_configs[2].job_name: required",
                "https: enabled needs tls_cert_file_path",
            ] {
                #expect(all.contains(expected), "missing \(expected) in\n\(all)")
            }
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func durationsFollowPrometheus() {
        #expect(PrometheusDuration.parse("1h30m") == .seconds(5400))
        #expect(PrometheusDuration.parse("500ms") == .milliseconds(500))
        #expect(PrometheusDuration.parse("1d") == .seconds(86_400))
        #expect(PrometheusDuration.parse("10") == nil)
        #expect(PrometheusDuration.parse("1.5s") == nil)
    }
}
