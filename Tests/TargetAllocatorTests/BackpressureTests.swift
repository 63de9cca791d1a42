import Foundation
import JSON
import Snapshot
import TestSupport
import Testing

/// Backpressure measured on a replica process of the built binary: its memory is its own, while
/// the test process's is shared with every test running beside this one.
@Suite struct BackpressureTests {
    @Test func slowReaderDoesNotMakeTheServerBufferEverything() async throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        // One job, one collector, 40 targets: an answer of about 15 KB.
        let targets = (0..<40).map { i in
            Target(
                job: "pods",
                labels: Labels([
                    ("__address__", "10.0.0.\(i + 1):8080"), ("__meta_kubernetes_namespace", "team-\(i % 7)"),
                    ("__meta_kubernetes_pod_name", "checkout-7d9f8b6c4-\(i)x2kq"), ("__meta_kubernetes_pod_ip", "10.0.0.\(i + 1)"),
                    ("__meta_kubernetes_pod_node_name", "node-\(i % 5)"), ("__meta_kubernetes_pod_label_app", "checkout"),
                    ("__meta_kubernetes_pod_container_name", "main"), ("__meta_kubernetes_pod_container_port_name", "metrics"),
                    ("__meta_kubernetes_pod_ready", "true"), ("__meta_kubernetes_pod_uid", "0b7c4d0e-5f6a-4b8c-9d1e-\(i)"),
                ]), collector: "c-0")
        }
        let snapshot = Snapshot(
            epoch: 1, generation: 1, createdAtMillis: 0, leader: "test", collectors: [Collector(name: "c-0")],
            jobs: [Job(name: "pods", scrapeConfig: .object([JSONMember("job_name", .string("pods"))]))], targets: targets)
        try dir.write("snapshot.json", snapshotJSON(snapshot))
        let port = try freePort()
        let replica = try BackgroundProcess(
            EndToEndTests.Cluster.binary,
            ["--snapshot-file", dir.path("snapshot.json"), "--listen-addr", "127.0.0.1:\(port)", "--event-loop-threads", "1"],
            log: dir.path("replica.log"))
        defer { replica.terminate() }
        let path = "/jobs/pods/targets?collector_id=c-0"
        var bodyLength = 0
        #expect(
            await eventually(timeout: 60) {
                guard let r = try? await runTool("curl", ["-sf", "http://127.0.0.1:\(port)\(path)"]) else { return false }
                bodyLength = r.stdout.utf8.count
                return bodyLength > 0
            }, "the replica never answered\n\((try? String(contentsOfFile: dir.path("replica.log"), encoding: .utf8)) ?? "")")
        try #require(bodyLength >= 12_000, "answer of \(bodyLength) bytes")
        let answerBytes = bodyLength

        let requests = 10_000
        let c = try RawConnection(port: port)
        let before = try #require(replica.residentBytes)
        // The server stops reading while it cannot write, so this send blocks: run it aside.
        let sender = Thread { c.send(String(repeating: "GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n", count: requests)) }
        sender.start()
        // Without backpressure 10,000 copied answers of 12 KB or more (120 MB) would now sit in memory.
        try await Task.sleep(for: .milliseconds(1500))
        let grown = try #require(replica.residentBytes) - before
        #expect(grown < 60_000_000, "server buffered \(grown / 1_000_000) MB for a reader that does not read")
        let reply = await c.read(timeout: 120) { $0.count >= requests * answerBytes }
        #expect(reply.bytes.count >= requests * answerBytes, "all \(requests) answers arrive once read")
        let text = String(decoding: reply.bytes.prefix(200), as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 200 OK"))
    }
}
