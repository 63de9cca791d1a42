import Allocation
import Discovery
import Foundation
import JSON
import Logging
import MetricsTestKit
import NIOConcurrencyHelpers
import Snapshot
import Testing
import TestSupport

/// Target identity and deduplication as the upstream allocator has them (its
/// `target.HashFromBuilder` and `allocator.SetTargets`, read from opentelemetry-operator's
/// `cmd/otel-allocator/internal/target`): a target is its job and its post-relabel labels
/// without `__meta_*`, after seeding the scrape defaults; discovered targets with the same
/// identity are one target. The cases are upstream's issues #3617 and #3654 (many targets
/// relabeled to one), and the two distinctions Prometheus keeps.
@Suite struct TargetIdentityTests {
    /// Runs discovery of `config` (static groups only) until its first publication.
    func discover(_ config: String, filter: Bool = true, metrics: TestMetrics = TestMetrics()) async throws -> DiscoveryDelta {
        var settings = TargetDiscovery.Settings(
            global: nil, scrapeConfigs: [try JSONValue.parse(config)], prometheusCR: nil, ownNamespace: "default")
        settings.relabelFilter = filter
        settings.coalesce = .milliseconds(10)
        let published = NIOLockedValueBox<[DiscoveryDelta]>([])
        let task = Task {
            await TargetDiscovery(settings: settings).run(client: nil, logger: quietLogger, metrics: metrics) { delta in
                published.withLockedValue { $0.append(delta) }
            }
        }
        let done = await eventually(timeout: 30) { !published.withLockedValue { $0 }.isEmpty }
        task.cancel()
        await task.value
        #expect(done)
        return try #require(published.withLockedValue { $0.first })
    }

    func addresses(_ delta: DiscoveryDelta) -> [String] {
        delta.upserted.values.map { $0.labels["__address__"] ?? "" }.sorted()
    }

    @Test func manyTargetsRelabeledToOneAreOneTarget() async throws {
        let metrics = TestMetrics()
        let delta = try await discover(
            #"""
            {"job_name":"collector","static_configs":[
              {"targets":["10.0.0.1:9100","10.0.0.2:9100","10.0.0.3:9100"],"labels":{"__meta_kubernetes_pod_name":"a"}},
              {"targets":["10.0.0.4:9100","10.0.0.5:9100","10.0.0.6:9100"],"labels":{"__meta_kubernetes_pod_name":"b"}}],
             "relabel_configs":[{"target_label":"__address__","replacement":"collector.local:9100"}]}
            """#, metrics: metrics)
        #expect(delta.full)
        #expect(delta.upserted.count == 1, "\(addresses(delta))")
        // The candidate served is the first of the first group: deterministic, whatever arrives first.
        #expect(addresses(delta) == ["10.0.0.1:9100"])
        #expect(delta.discovered["collector"] == 6)
        // The five collapsed into it are counted.
        let duplicates = try metrics.expectGauge(TargetDiscovery.duplicateTargetsMetric, [("job_name", "collector")])
        #expect(duplicates.lastValue == 5)
    }

    @Test func sameAddressWithDifferentPathsAreTwoTargets() async throws {
        let delta = try await discover(
            #"""
            {"job_name":"paths","static_configs":[
              {"targets":["10.0.0.1:8080"],"labels":{"__metrics_path__":"/metrics"}},
              {"targets":["10.0.0.1:8080"],"labels":{"__metrics_path__":"/admin/metrics"}}]}
            """#)
        #expect(delta.upserted.count == 2)
        let paths = Set(delta.upserted.values.compactMap { $0.labels["__metrics_path__"] })
        #expect(paths == ["/metrics", "/admin/metrics"])
        // Different scrape URLs: different placement keys too.
        #expect(Set(delta.upserted.values.map(\.key)).count == 2)
    }

    /// The same endpoint behind two Services: two targets when relabeling keeps the service name
    /// as a label (Prometheus scrapes both), one when it does not (only `__meta_` labels differ).
    @Test func theSameEndpointThroughTwoServices() async throws {
        let groups = #"""
            "static_configs":[
              {"targets":["10.0.0.1:8080"],"labels":{"__meta_kubernetes_service_name":"web"}},
              {"targets":["10.0.0.1:8080"],"labels":{"__meta_kubernetes_service_name":"web-canary"}}]
            """#
        let mapped = try await discover(
            #"{"job_name":"svc",\#(groups),"relabel_configs":[{"source_labels":["__meta_kubernetes_service_name"],"target_label":"service"}]}"#)
        #expect(mapped.upserted.count == 2)
        let collapsed = try await discover(#"{"job_name":"svc",\#(groups)}"#)
        #expect(collapsed.upserted.count == 1)
        // The two are one scrape: the same placement key either way.
        #expect(Set(mapped.upserted.values.map(\.key)).count == 1)
    }

    /// The defaults are seeded when a label is absent or empty: an empty `__scheme__` given by a
    /// group reads as `http`, so `keep` on it passes (Prometheus's `PopulateLabels`).
    @Test func emptyLabelsGetTheScrapeDefaultsBeforeRelabeling() async throws {
        let delta = try await discover(
            #"""
            {"job_name":"seeded","scheme":"https","static_configs":[
              {"targets":["10.0.0.1:443"],"labels":{"__scheme__":""}},
              {"targets":["10.0.0.2:443"],"labels":{"job":""}}],
             "relabel_configs":[
               {"source_labels":["__scheme__"],"regex":"https","action":"keep"},
               {"source_labels":["job"],"regex":"seeded","action":"keep"}]}
            """#)
        #expect(addresses(delta) == ["10.0.0.1:443", "10.0.0.2:443"])
    }

    /// Labels are bytes: "é" (U+00E9) and "e" + U+0301 are equal to Swift's `==` and different to
    /// Prometheus, so these are two targets with their own bytes served.
    @Test func canonicallyEquivalentValuesAreDifferentTargets() async throws {
        let delta = try await discover(
            #"""
            {"job_name":"bytes","static_configs":[
              {"targets":["10.0.0.1:8080"],"labels":{"team":"caf\u00e9"}},
              {"targets":["10.0.0.1:8080"],"labels":{"team":"cafe\u0301"}}]}
            """#)
        #expect(delta.upserted.count == 2)
        let teams = delta.upserted.values.compactMap { $0.labels["team"].map { Array($0.utf8) } }.sorted { $0.lexicographicallyPrecedes($1) }
        #expect(teams == [Array("cafe\u{301}".utf8), Array("caf\u{e9}".utf8)].sorted { $0.lexicographicallyPrecedes($1) })
    }
}
