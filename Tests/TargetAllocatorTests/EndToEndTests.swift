import Foundation
import JSON
import KubernetesClient
import KubernetesEmulator
import Logging
import NIOConcurrencyHelpers
import SampleWorkload
import TestSupport
import Testing

/// The product as a person runs it (issue 6): the API emulator with the demo's workload
/// (ServiceMonitors, a PodMonitor, annotated pods, a static job), three `target-allocator`
/// processes of the built binary, and three real Prometheus servers playing the collectors,
/// discovering over HTTPS (so HTTP/2, with client certificates) from all three replicas.
/// The leader is killed with SIGKILL; then collectors are scaled 3 → 4 → 3.
@Suite(.serialized) struct EndToEndTests {
    static let namespace = "observability"
    static let targets = 300
    static let expected = SampleWorkload.expectedTargets(targets: targets)
    static let jobs = expected.keys.sorted()
    static let addresses = expected.values.reduce(into: Set<String>()) { $0.formUnion($1) }

    final class Cluster: Sendable {
        let dir: ScratchDirectory
        let certs: TestCertificates
        let emulator: KubernetesEmulator
        let admin: KubernetesClient
        let replicas = NIOLockedValueBox<[String: (process: BackgroundProcess, http: Int, https: Int)]>([:])
        let prometheus = NIOLockedValueBox<[String: (process: BackgroundProcess, port: Int)]>([:])

        init() async throws {
            dir = try ScratchDirectory()
            certs = try TestCertificates()
            var configuration = KubernetesEmulator.Configuration()
            configuration.tokens = ["admin-token": "admin", "token-0": "ta-0", "token-1": "ta-1", "token-2": "ta-2"]
            configuration.logger = Logger(label: "emulator", factory: { _ in SwiftLogNoOpLogHandler() })
            emulator = try await KubernetesEmulator.start(configuration)
            admin = try KubernetesClient(configuration: ClusterConfiguration(server: emulator.url, credentials: .token("admin-token")))
            try await SampleWorkload.seed(
                admin: admin, emulator: emulator, namespace: EndToEndTests.namespace, collectors: 3, targets: EndToEndTests.targets)
            try dir.write(
                "config.yaml",
                SampleWorkload.config(
                    namespace: EndToEndTests.namespace, targets: EndToEndTests.targets, leaseDuration: "3s", renewDeadline: "2s",
                    retryPeriod: "500ms"))
        }

        static var binary: String {
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("target-allocator").path
        }

        func addCollector(_ c: Int) async throws {
            try await SampleWorkload.addCollector(c, admin: admin, namespace: EndToEndTests.namespace)
        }

        func removeCollector(_ c: Int) async throws {
            try await admin.delete(Pod.self, namespace: EndToEndTests.namespace, name: "collector-\(c)")
        }

        /// Starts replica `i`, on the given ports when it restarts (as a restarted pod keeps its address).
        func startReplica(_ i: Int, ports: (http: Int, https: Int)? = nil) throws {
            let identity = "ta-\(i)"
            try dir.write(
                "kubeconfig-\(i)",
                """
                apiVersion: v1
                kind: Config
                clusters: [{name: emu, cluster: {server: "\(emulator.url)"}}]
                users: [{name: \(identity), user: {token: token-\(i)}}]
                contexts: [{name: emu, context: {cluster: emu, user: \(identity), namespace: \(EndToEndTests.namespace)}}]
                current-context: emu
                """)
            let http = try ports?.http ?? freePort()
            let https = try ports?.https ?? freePort()
            let process = try BackgroundProcess(
                Self.binary,
                [
                    "--config-file", dir.path("config.yaml"), "--kubeconfig-path", dir.path("kubeconfig-\(i)"), "--identity", identity,
                    "--listen-addr", "127.0.0.1:\(http)", "--enable-https-server", "--listen-addr-https", "127.0.0.1:\(https)",
                    "--https-ca-file", certs.caCert, "--https-tls-cert-file", certs.serverCert, "--https-tls-key-file", certs.serverKey,
                    "--event-loop-threads", "1", "--log-level", "info",
                ], log: dir.path("\(identity).log"), environment: ["POD_NAMESPACE": EndToEndTests.namespace])
            replicas.withLockedValue { $0[identity] = (process, http, https) }
        }

        /// One Prometheus per collector, discovering every job from all three replicas.
        func startPrometheus(collector: String) throws {
            let port = try freePort()
            let ports = replicas.withLockedValue { $0.values.map(\.https) }.sorted()
            var yaml = "global:\n  scrape_interval: 1h\nscrape_configs:\n"
            for job in EndToEndTests.jobs {
                yaml += "  - job_name: \"\(job)\"\n    http_sd_configs:\n"
                for p in ports {
                    let path = "/jobs/\(job.replacingOccurrences(of: "/", with: "%2F"))/targets?collector_id=\(collector)"
                    yaml += "      - url: \"https://127.0.0.1:\(p)\(path)\"\n"
                    yaml += "        refresh_interval: 1s\n"
                    yaml += "        tls_config: {ca_file: \(certs.caCert), cert_file: \(certs.clientCert), key_file: \(certs.clientKey)}\n"
                }
            }
            try dir.write("prometheus-\(collector).yml", yaml)
            let process = try BackgroundProcess(
                "prometheus",
                [
                    "--config.file=\(dir.path("prometheus-\(collector).yml"))", "--storage.tsdb.path=\(dir.path("data-\(collector)"))",
                    "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
                ], log: dir.path("prometheus-\(collector).log"))
            prometheus.withLockedValue { $0[collector] = (process, port) }
        }

        /// Addresses a collector's Prometheus has discovered (nil if it did not answer).
        func discovered(_ collector: String) async -> Set<String>? {
            guard let port = prometheus.withLockedValue({ $0[collector]?.port }),
                let r = try? await runTool("curl", ["-sS", "--max-time", "5", "http://127.0.0.1:\(port)/api/v1/targets?state=active"]),
                let json = try? JSONValue.parse(r.stdout), case .array(let active)? = json["data"]?["activeTargets"]
            else { return nil }
            return Set(active.compactMap { $0["discoveredLabels"]?["__address__"]?.stringValue })
        }

        func status(_ identity: String) async -> JSONValue? {
            guard let port = replicas.withLockedValue({ $0[identity]?.http }),
                let r = try? await runTool("curl", ["-sS", "--max-time", "5", "http://127.0.0.1:\(port)/status"])
            else { return nil }
            return try? JSONValue.parse(r.stdout)
        }

        func leader() async -> String? {
            for identity in replicas.withLockedValue({ Array($0.keys) }).sorted() {
                if let status = await status(identity), status["is_leader"] == .bool(true) { return identity }
            }
            return nil
        }

        func epoch(_ identity: String) async -> Int? {
            guard case .number(let text)? = await status(identity)?["epoch"] else { return nil }
            return Int(text)
        }

        /// Counts targets discovered by two collectors at once.
        let duplicates = NIOLockedValueBox(0)

        /// target address → collector, over the given collectors' Prometheus servers.
        func assignment(_ collectors: [String]) async -> [String: String]? {
            var result: [String: String] = [:]
            for c in collectors {
                guard let found = await discovered(c) else { return nil }
                for address in found {
                    if result[address] != nil { duplicates.withLockedValue { $0 += 1 } }
                    result[address] = c
                }
            }
            return result
        }

        /// Kills a replica with SIGKILL; returns its ports.
        @discardableResult
        func kill9(_ identity: String) async -> (http: Int, https: Int)? {
            guard let replica = replicas.withLockedValue({ $0.removeValue(forKey: identity) }) else { return nil }
            await replica.process.kill9()
            return (replica.http, replica.https)
        }

        func stop() async {
            for (_, p) in prometheus.withLockedValue({ $0 }) { await p.process.stop() }
            for (_, r) in replicas.withLockedValue({ $0 }) { await r.process.stop() }
            try? await admin.shutdown()
            try? await emulator.shutdown()
            certs.remove()
            dir.remove()
        }

        func logs() -> String {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.url.path)) ?? []
            return names.filter { $0.hasSuffix(".log") }.sorted().map { name in
                "== \(name)\n" + String(((try? String(contentsOfFile: dir.path(name), encoding: .utf8)) ?? "").suffix(1500))
            }.joined(separator: "\n")
        }
    }

    @Test func prometheusCollectorsThroughLeaderCrashAndScaling() async throws {
        let targets = Self.addresses.count
        #expect(targets == Self.targets)
        let cluster = try await Cluster()
        do {
            #expect(FileManager.default.isExecutableFile(atPath: Cluster.binary), "build the product first: \(Cluster.binary)")
            for i in 0..<3 { try cluster.startReplica(i) }
            let collectors = ["collector-0", "collector-1", "collector-2"]
            for c in collectors { try cluster.startPrometheus(collector: c) }

            // Every Prometheus discovers its share; together exactly the workload, each target once.
            let duplicates = cluster.duplicates
            @Sendable func assignment(_ collectors: [String]) async -> [String: String]? { await cluster.assignment(collectors) }
            var before: [String: String] = [:]
            let settled = await eventually(timeout: 120) {
                guard let a = await assignment(collectors), Set(a.keys) == Self.addresses else { return false }
                before = a
                return true
            }
            if !settled { print(cluster.logs()) }
            #expect(settled, "collectors never discovered the workload")
            guard settled else {
                await cluster.stop()
                return
            }
            #expect(Set(before.values) == Set(collectors))
            duplicates.withLockedValue { $0 = 0 }

            // kill -9 the leader while watching every collector's discovered targets.
            let leader = try #require(await cluster.leader())
            let epoch = try #require(await cluster.epoch(leader))
            let violations = NIOLockedValueBox<[String]>([])
            let expected = before
            let watching = Task {
                while !Task.isCancelled {
                    if let a = await cluster.assignment(collectors) {
                        if Set(a.keys) != Self.addresses { violations.withLockedValue { $0.append("union has \(a.count) targets, not the workload's") } }
                        if a != expected { violations.withLockedValue { $0.append("a target changed collector") } }
                    }
                    for c in collectors where await cluster.discovered(c)?.isEmpty == true {
                        violations.withLockedValue { $0.append("\(c) discovered nothing") }
                    }
                    try? await Task.sleep(for: .milliseconds(200))
                }
            }
            let killedPorts = await cluster.kill9(leader)
            let survivors = ["ta-0", "ta-1", "ta-2"].filter { $0 != leader }
            let newTerm = await eventually(timeout: 90) {
                for s in survivors { guard let e = await cluster.epoch(s), e > epoch else { return false } }
                return true
            }
            #expect(newTerm, "no new term after the leader was killed\n\(cluster.logs())")
            try await Task.sleep(for: .seconds(3))  // let every Prometheus refresh from the new term
            watching.cancel()
            await watching.value
            #expect(violations.withLockedValue { $0 }.isEmpty, "\(violations.withLockedValue { Array($0.prefix(5)) })")
            #expect(await assignment(collectors) == before)
            #expect(duplicates.withLockedValue { $0 } == 0, "a target was discovered by two collectors")

            // The killed replica comes back on its address, as its pod would: Prometheus keeps a
            // failing SD endpoint's last targets, so until then it holds the old term's answers.
            let killed = try #require(Int(leader.dropFirst(3)))
            try cluster.startReplica(killed, ports: killedPorts)
            #expect(await eventually(timeout: 90) { (await cluster.epoch(leader) ?? 0) > epoch }, "the restarted replica never followed")

            // Scale 3 → 4: moves stay within the bound and the Prometheus servers follow.
            try await cluster.addCollector(3)
            try cluster.startPrometheus(collector: "collector-3")
            let four = collectors + ["collector-3"]
            var scaled: [String: String] = [:]
            #expect(
                await eventually(timeout: 90) {
                    guard let a = await assignment(four), Set(a.keys) == Self.addresses, a.values.contains("collector-3") else { return false }
                    // Settled: every Prometheus has refreshed from the new assignment, in which no
                    // collector holds more than the load bound (stale lists exceed it).
                    let bound = Int((1.05 * Double(targets) / 4).rounded(.up))
                    guard Dictionary(a.values.map { ($0, 1) }, uniquingKeysWith: +).values.allSatisfy({ $0 <= bound }) else { return false }
                    scaled = a
                    return true
                }, "\(cluster.logs())")
            let moved = before.filter { scaled[$0.key] != $0.value }
            // Bounded loads (ε = 0.05): a target moves between old collectors only out of one
            // that the new bound ⌈1.05 · N / 4⌉ fills (it keeps exactly that many).
            let bound = Int((1.05 * Double(targets) / 4).rounded(.up))
            let loads = Dictionary(scaled.values.map { ($0, 1) }, uniquingKeysWith: +)
            let between = moved.filter { scaled[$0.key] != "collector-3" }
            #expect(
                between.allSatisfy { loads[$0.value] == bound },
                "targets moved between old collectors with room: \(between.map { "\($0.key) \($0.value) → \(scaled[$0.key] ?? "-")" }.sorted()), loads \(loads)")
            #expect(Double(moved.count) <= 1.1 * Double(targets) / 4 + 1, "\(moved.count) moves for 3 → 4")

            // And back to 3: the targets return where they were.
            try await cluster.removeCollector(3)
            #expect(
                await eventually(timeout: 90) {
                    guard let a = await assignment(collectors), Set(a.keys) == Self.addresses else { return false }
                    return a == before
                }, "after 4 → 3 the assignment is not the original one")
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }
}
