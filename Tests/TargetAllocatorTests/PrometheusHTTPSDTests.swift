import Foundation
import HTTPServer
import Snapshot
import JSON
import TargetAllocator
import TestSupport
import Testing

/// A real Prometheus (Debian's) discovering its targets from a replica over HTTPS (so HTTP/2,
/// with a client certificate), exactly as a collector's Prometheus receiver does.
@Suite struct PrometheusHTTPSDTests {
    /// Labels Prometheus adds to every discovered target on its own.
    static let prometheusOwnLabels: Set<String> = [
        "job", "__scheme__", "__metrics_path__", "__scrape_interval__", "__scrape_timeout__", "__meta_url",
    ]

    static func snapshot(generation: UInt64, extra: Bool) -> Snapshot {
        var targets = (1...5).map { i in
            Target(
                job: "app",
                labels: Labels([
                    ("__address__", "10.1.0.\(i):8080"), ("__meta_kubernetes_namespace", "team-\(i % 2)"),
                    ("__meta_kubernetes_pod_name", "app-\(i)"), ("__meta_kubernetes_pod_label_app_kubernetes_io_name", "app"),
                    ("__meta_odd", "quote\" <tag> & ünïcode"),
                ]), collector: i % 2 == 0 ? "collector-1" : "collector-0")
        }
        if extra { targets.append(Target(job: "app", labels: Labels([("__address__", "10.1.9.9:8080")]), collector: "collector-0")) }
        return Snapshot(
            epoch: 1, generation: generation, createdAtMillis: 0, leader: "ta-0",
            collectors: [Collector(name: "collector-0"), Collector(name: "collector-1")],
            jobs: [Job(name: "app", scrapeConfig: .object([JSONMember("job_name", .string("app"))]))], targets: targets)
    }

    @Test func prometheusDiscoversExactlyTheServedTargets() async throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let certs = try TestCertificates()
        defer { certs.remove() }
        try dir.write("snap.json", snapshotJSON(Self.snapshot(generation: 1, extra: false)))
        var settings = ReplicaSettings(identity: "ta-0")
        settings.listenAddress = ListenAddress(host: "127.0.0.1", port: 0)
        settings.httpsAddress = ListenAddress(host: "127.0.0.1", port: 0)
        settings.tls = TLSFiles(certificateChain: certs.serverCert, privateKey: certs.serverKey, clientCA: certs.caCert)
        settings.snapshotFile = dir.path("snap.json")
        settings.snapshotPollInterval = .milliseconds(100)

        try await withReplica(settings) { _, ports in
            let tlsPort = try #require(ports.tls)
            let webPort = try freePort()
            try dir.write(
                "prometheus.yml",
                """
                global:
                  scrape_interval: 1h
                scrape_configs:
                  - job_name: app
                    http_sd_configs:
                      - url: https://127.0.0.1:\(tlsPort)/jobs/app/targets?collector_id=collector-0
                        refresh_interval: 1s
                        tls_config:
                          ca_file: \(certs.caCert)
                          cert_file: \(certs.clientCert)
                          key_file: \(certs.clientKey)
                """)
            let prometheus = try BackgroundProcess(
                "prometheus",
                [
                    "--config.file=\(dir.path("prometheus.yml"))", "--storage.tsdb.path=\(dir.path("data"))",
                    "--web.listen-address=127.0.0.1:\(webPort)", "--log.level=warn",
                ], log: dir.path("prometheus.log"))
            defer { prometheus.terminate() }

            func discovered() async throws -> [[String: String]] {
                let r = try await runTool("curl", ["-sS", "http://127.0.0.1:\(webPort)/api/v1/targets?state=active"])
                guard let json = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any],
                    let data = json["data"] as? [String: Any], let active = data["activeTargets"] as? [[String: Any]]
                else { return [] }
                return active.compactMap { $0["discoveredLabels"] as? [String: String] }.map {
                    $0.filter { !Self.prometheusOwnLabels.contains($0.key) }
                }
            }
            func served(_ snapshot: Snapshot) -> Set<[String: String]> {
                Set(snapshot.targets.filter { $0.collector == "collector-0" }.map { t in
                    Dictionary(uniqueKeysWithValues: t.labels.map { ($0.name, $0.value) })
                })
            }

            let first = served(Self.snapshot(generation: 1, extra: false))
            let sawFirst = try await eventually(timeout: 60) { Set(try await discovered()) == first }
            let logText = (try? String(contentsOfFile: dir.path("prometheus.log"), encoding: .utf8)) ?? ""
            let seen = try await discovered()
            #expect(sawFirst, "Prometheus sees exactly the served targets: \(seen) log: \(logText.suffix(2000))")
            #expect(try await discovered().count == first.count, "no duplicates")

            // The snapshot changes; Prometheus follows.
            try dir.write("snap.json", snapshotJSON(Self.snapshot(generation: 2, extra: true)))
            let second = served(Self.snapshot(generation: 2, extra: true))
            #expect(try await eventually(timeout: 60) { Set(try await discovered()) == second })

            // Prometheus asked over HTTP/2 (TLS with ALPN), as the design expects.
            let metrics = try await runTool("curl", ["-sS", "http://127.0.0.1:\(ports.plain!)/metrics"]).stdout
            let h2 = metrics.split(separator: "\n").first { $0.hasPrefix("http_server_requests_total{protocol=\"HTTP/2\",status=\"200\"}") }
            #expect((h2.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0) > 0, "\(metrics)")
        }
    }
}
