import Foundation
#if canImport(Glibc)
import Glibc
#endif
import JSON
import Snapshot
import TestSupport
import Testing

/// Backpressure measured on a replica process of the built binary: its memory is its own, while
/// the test process's is shared with every test running beside this one.
@Suite struct BackpressureTests {
    /// One job, one collector, 30 targets: an answer of about 15 KB, below the size the server
    /// copies into each connection's output (so every queued answer is the connection's own).
    func startReplica(_ dir: ScratchDirectory) async throws -> (BackgroundProcess, port: Int, path: String, answerBytes: Int) {
        let targets = (0..<30).map { i in
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
        let path = "/jobs/pods/targets?collector_id=c-0"
        var bodyLength = 0
        let answered = await eventually(timeout: 60) {
            guard let r = try? await runTool("curl", ["-sf", "http://127.0.0.1:\(port)\(path)"]) else { return false }
            bodyLength = r.stdout.utf8.count
            return bodyLength > 0
        }
        guard answered, bodyLength >= 12_000 else {
            await replica.stop()
            throw ReplicaFailure(
                description: "answer of \(bodyLength) bytes\n\((try? String(contentsOfFile: dir.path("replica.log"), encoding: .utf8)) ?? "")")
        }
        return (replica, port, path, bodyLength)
    }

    @Test func slowReaderDoesNotMakeTheServerBufferEverything() async throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let (replica, port, path, answerBytes) = try await startReplica(dir)
        defer { replica.terminate() }

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

    /// Issue 15: 50 connections pipelining without reading grew the server by ~1.7 MiB each. The
    /// server now parses no further request while an answer waits unsent (as nginx does) and reads
    /// little ahead, so each such connection holds at most about a batch of answers.
    @Test func stalledPipeliningConnectionsHoldBoundedMemoryEach() async throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let (replica, port, path, answerBytes) = try await startReplica(dir)
        defer { replica.terminate() }
        let connectionCount = 50
        let before = try #require(replica.residentBytes)
        let connections = try (0..<connectionCount).map { _ in try RawConnection(port: port) }
        defer { for c in connections { shutdown(c.fd, Int32(SHUT_RDWR)) } }
        let requests = String(repeating: "GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n", count: 400)
        // Each peer sends 400 requests (6 MB of answers) and never reads; its send blocks once the
        // server stops reading, so it runs on a thread of its own.
        for c in connections { Thread { c.send(requests) }.start() }
        // Every peer got answers it does not read (the server did serve each one) ...
        #expect(
            await eventually(timeout: 60) {
                connections.allSatisfy { c in
                    var count: Int32 = 0
                    return ioctl(c.fd, UInt(FIONREAD), &count) == 0 && count > Int32(answerBytes)
                }
            }, "every connection was answered")
        // ... and then the server's memory settles: sample until two readings 1 s apart agree.
        var last = 0
        #expect(
            await eventually(timeout: 60) {
                try? await Task.sleep(for: .seconds(1))
                let now = replica.residentBytes ?? 0
                defer { last = now }
                return abs(now - last) < 256 * 1024
            }, "memory never settled")
        let settled = try #require(replica.residentBytes)
        let perConnection = (settled - before) / connectionCount
        #expect(perConnection <= 100 * 1024, "each stalled connection holds \(perConnection / 1024) KiB")
        print("stalled pipelining connection: \(perConnection / 1024) KiB each (\(connectionCount) connections, \(answerBytes)-byte answers)")
    }
}

struct ReplicaFailure: Error, CustomStringConvertible {
    let description: String
}
