import Discovery
import Foundation
import JSON
import KubernetesClient
import KubernetesEmulator
import NIOConcurrencyHelpers
import PrometheusOperator
import TestSupport
import Testing

/// The prometheus-operator watcher against the emulator: references resolved from Secrets and
/// ConfigMaps (each from its own kind), untranslatable resources reported once with their
/// kind/namespace/name and reason, and jobs loaded the way upstream loads them.
@Suite(.serialized) struct OperatorWatcherTests {
    final class Seen: Sendable {
        let jobs = NIOLockedValueBox<[GeneratedJob]?>(nil)
        let global = NIOLockedValueBox<JSONValue?>(nil)
        let skipped = NIOLockedValueBox<[SkippedResource]>([])

        func job(_ name: String) -> JSONValue? { jobs.withLockedValue { $0?.first { $0.jobName == name }?.scrapeConfig } }
        var skippedNames: [String] { skipped.withLockedValue { $0.map(\.resource) } }
    }

    static func settings() -> OperatorSettings {
        var s = OperatorSettings()
        s.enabled = true
        s.collectorNamespace = "observability"
        s.serviceMonitorSelector = .everything
        s.podMonitorSelector = .everything
        s.probeSelector = .everything
        s.scrapeConfigSelector = .everything
        return s
    }

    static func watch(_ client: KubernetesClient) -> (Seen, Task<Void, Never>) {
        let seen = Seen()
        var watcher = OperatorWatcher(settings: settings())
        watcher.coalesce = .milliseconds(20)
        let task = Task {
            await watcher.run(client: client, logger: quietLogger, onSkipped: { s in seen.skipped.withLockedValue { $0.append(s) } }) { jobs, global in
                seen.jobs.withLockedValue { $0 = jobs }
                seen.global.withLockedValue { $0 = global }
            }
        }
        return (seen, task)
    }

    /// `TestScrapeConfigSpecConfig`'s store has a ConfigMap and a Secret both named `oauth2`;
    /// here the Secret also has a `client_id` key, which must not be the one read.
    @Test func oauth2ClientIdAndTLSCAFromConfigMaps() async throws {
        try await withEmulator(namespaces: ["default", "observability", "team"]) { emulator, client in
            emulator.seed(.configMaps, [json(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"oauth2","namespace":"team"},"data":{"client_id":"client-id"}}"#)])
            emulator.seed(.configMaps, [json(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ca","namespace":"team"},"binaryData":{"ca.crt":"Q0EtUEVN"}}"#)])
            emulator.seed(.secrets, [json(#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"oauth2","namespace":"team"},"data":{"client_secret":"Y2xpZW50LXNlY3JldA==","client_id":"d3JvbmctaWQ="}}"#)])
            emulator.seed(.scrapeConfigs, [json(#"""
                {"apiVersion":"monitoring.coreos.com/v1alpha1","kind":"ScrapeConfig","metadata":{"name":"sc","namespace":"team"},"spec":{
                  "staticConfigs":[{"targets":["a:9100"]}],
                  "oauth2":{"clientId":{"configMap":{"name":"oauth2","key":"client_id"}},"clientSecret":{"name":"oauth2","key":"client_secret"},"tokenUrl":"http://t"}}}
                """#)])
            emulator.seed(.serviceMonitors, [json(#"""
                {"apiVersion":"monitoring.coreos.com/v1","kind":"ServiceMonitor","metadata":{"name":"sm","namespace":"team"},"spec":{
                  "selector":{},"endpoints":[{"port":"web","scheme":"https","tlsConfig":{"ca":{"configMap":{"name":"ca","key":"ca.crt"}}}}]}}
                """#)])
            let (seen, task) = Self.watch(client)
            #expect(await eventually(timeout: 30) { seen.job("scrapeConfig/team/sc") != nil && seen.job("serviceMonitor/team/sm/0") != nil }, "\(seen.skippedNames)")
            #expect(seen.job("scrapeConfig/team/sc")?["oauth2"]?["client_id"] == .string("client-id"))
            #expect(seen.job("scrapeConfig/team/sc")?["oauth2"]?["client_secret"] == .string("client-secret"))
            #expect(seen.job("serviceMonitor/team/sm/0")?["tls_config"]?["ca"] == .string("CA-PEM"))
            #expect(seen.skipped.withLockedValue { $0 }.isEmpty)

            // A changed ConfigMap is picked up without anything else changing.
            emulator.seed(.configMaps, [json(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"oauth2","namespace":"team"},"data":{"client_id":"rotated"}}"#)])
            #expect(await eventually(timeout: 30) { seen.job("scrapeConfig/team/sc")?["oauth2"]?["client_id"] == .string("rotated") })

            // A ConfigMap that disappears makes the resource untranslatable: reported, not silent.
            try emulator.delete(.configMaps, namespace: "team", name: "ca")
            #expect(await eventually(timeout: 30) { seen.job("serviceMonitor/team/sm/0") == nil })
            #expect(seen.skipped.withLockedValue { $0 }.map(\.description) == [
                #"serviceMonitor team/sm: endpoints[0].tlsConfig.ca.configMap: unable to get key "ca.crt" in configmap "team/ca""#
            ])
            task.cancel()
            await task.value
        }
    }

    /// Every way a selected resource can fail is reported with its kind/namespace/name and
    /// reason, once while it stays broken, even when the published jobs do not change.
    @Test func untranslatableResourcesAreReportedOnce() async throws {
        try await withEmulator(namespaces: ["default", "observability", "team"]) { emulator, client in
            emulator.seed(.serviceMonitors, [json(#"{"apiVersion":"monitoring.coreos.com/v1","kind":"ServiceMonitor","metadata":{"name":"good","namespace":"team"},"spec":{"selector":{},"endpoints":[{"port":"web"}]}}"#)])
            // Translated by the generator (the CRD would refuse the value), refused when loaded.
            emulator.seed(.podMonitors, [json(#"{"apiVersion":"monitoring.coreos.com/v1","kind":"PodMonitor","metadata":{"name":"proto","namespace":"team"},"spec":{"selector":{},"scrapeProtocols":["Carrier Pigeon"],"podMetricsEndpoints":[{"port":"web"}]}}"#)])
            // Probes with ingress targets need the ingress role: translated and published.
            emulator.seed(.probes, [json(#"{"apiVersion":"monitoring.coreos.com/v1","kind":"Probe","metadata":{"name":"ing","namespace":"team"},"spec":{"prober":{"url":"bb:9115"},"targets":{"ingress":{"selector":{},"namespaceSelector":{"any":true}}}}}"#)])
            let (seen, task) = Self.watch(client)
            #expect(await eventually(timeout: 30) { seen.job("serviceMonitor/team/good/0") != nil })
            #expect(seen.job("probe/team/ing")?["kubernetes_sd_configs"] == json(#"[{"role":"ingress"}]"#))
            #expect(seen.job("podMonitor/team/proto/0") == nil)
            #expect(await eventually(timeout: 30) { seen.skippedNames == ["podMonitor team/proto"] }, "\(seen.skippedNames)")
            #expect(seen.skipped.withLockedValue { $0 }.first?.reason.contains(#"unknown scrape protocol "Carrier Pigeon""#) == true, "\(seen.skipped.withLockedValue { $0 })")

            // A broken ServiceMonitor added later changes no job: still reported.
            emulator.seed(.serviceMonitors, [json(#"{"apiVersion":"monitoring.coreos.com/v1","kind":"ServiceMonitor","metadata":{"name":"bad","namespace":"team"},"spec":{"selector":{},"endpoints":[{"port":"web","relabelings":[{"action":"explode"}]}]}}"#)])
            #expect(await eventually(timeout: 30) { seen.skippedNames == ["podMonitor team/proto", "serviceMonitor team/bad"] }, "\(seen.skippedNames)")
            // Regenerations while they stay broken report nothing new.
            emulator.seed(.serviceMonitors, [json(#"{"apiVersion":"monitoring.coreos.com/v1","kind":"ServiceMonitor","metadata":{"name":"other","namespace":"team"},"spec":{"selector":{},"endpoints":[{"port":"web"}]}}"#)])
            #expect(await eventually(timeout: 30) { seen.job("serviceMonitor/team/other/0") != nil })
            #expect(seen.skippedNames == ["podMonitor team/proto", "serviceMonitor team/bad"])
            task.cancel()
            await task.value
        }
    }
}

/// Generated jobs loaded as upstream loads them: `yaml.Unmarshal` of the whole generated
/// configuration, so Prometheus (v3, `ScrapeConfig.Validate`) fills each job's defaults from
/// the generated `global`, not from the allocator file's.
@Suite struct OperatorJobLoadingTests {
    static func load(_ monitor: String, scrapeProtocols: [String]? = nil, interval: String = "30s") throws -> NormalizedJob {
        var s = OperatorSettings()
        s.serviceMonitorSelector = .everything
        s.collectorNamespace = "default"
        s.scrapeInterval = interval
        if let scrapeProtocols { s.scrapeProtocols = scrapeProtocols }
        let r = OperatorConfigGenerator.generate(
            serviceMonitors: [json(#"{"metadata":{"namespace":"default","name":"m"},"spec":\#(monitor)}"#)], settings: s)
        #expect(r.skipped.isEmpty, "\(r.skipped)")
        let loaded = ScrapeConfigModel.normalize(global: r.global, scrapeConfigs: r.jobs.map(\.scrapeConfig))
        #expect(loaded.problems.isEmpty, "\(loaded.problems)")
        return try #require(loaded.jobs.first)
    }

    static let defaultProtocols: JSONValue = .array(["OpenMetricsText1.0.0", "OpenMetricsText0.0.1", "PrometheusText1.0.0", "PrometheusText0.0.4"].map(JSONValue.string))

    /// The upstream allocator always gives the synthetic Prometheus `scrape_protocols` (its
    /// `defaultScrapeProtocolsCR`), so the generated global lists them and Prometheus gives that
    /// list to every job, native histograms or not.
    @Test func scrapeProtocolsComeFromTheGeneratedGlobal() throws {
        let native = try Self.load(#"{"selector":{},"endpoints":[{"port":"web"}],"scrapeNativeHistograms":true}"#)
        #expect(native.scrapeConfig["scrape_native_histograms"] == .bool(true))
        #expect(native.scrapeConfig["scrape_protocols"] == Self.defaultProtocols)
    }

    /// Without a global list, Prometheus picks per job: PrometheusProto first for a job that
    /// scrapes native histograms. No explicit list is written that would drop it.
    @Test func withoutAGlobalListNativeHistogramJobsKeepPrometheusProto() throws {
        let native = try Self.load(#"{"selector":{},"endpoints":[{"port":"web"}],"scrapeNativeHistograms":true}"#, scrapeProtocols: [])
        #expect(native.scrapeConfig["scrape_protocols"]?.serialized == #"["PrometheusProto","OpenMetricsText1.0.0","OpenMetricsText0.0.1","PrometheusText1.0.0","PrometheusText0.0.4"]"#)
        let classic = try Self.load(#"{"selector":{},"endpoints":[{"port":"web"}]}"#, scrapeProtocols: [])
        #expect(classic.scrapeConfig["scrape_protocols"] == Self.defaultProtocols)
    }

    /// The global timeout is min(10s, global interval), and a job's timeout min(global timeout,
    /// its interval): a 5s global interval gives a job with a 1m interval a 5s timeout.
    @Test func timeoutsFollowTheGeneratedGlobal() throws {
        let job = try Self.load(#"{"selector":{},"endpoints":[{"port":"web","interval":"1m"}]}"#, interval: "5s")
        #expect(job.scrapeConfig["scrape_interval"] == .string("1m"))
        #expect(job.scrapeConfig["scrape_timeout"] == .string("5s"))
        let defaulted = try Self.load(#"{"selector":{},"endpoints":[{"port":"web"}]}"#, interval: "5s")
        #expect(defaulted.scrapeConfig["scrape_interval"] == .string("5s"))
        #expect(defaulted.scrapeConfig["scrape_timeout"] == .string("5s"))
    }
}
