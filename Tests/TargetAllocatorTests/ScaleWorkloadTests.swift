import Foundation
import JSON
import KubernetesClient
import KubernetesEmulator
import SampleWorkload
import TestSupport
import Testing

/// The scale benchmark's cluster, small: the pods it seeds and its allocator config give
/// exactly the annotated pods as targets (Prometheus's `keep` on `prometheus.io/scrape`), and
/// the writes its churn makes (create + status, re-annotate, delete) reach what a replica serves.
@Suite(.serialized) struct ScaleWorkloadTests {
    static func served(_ cluster: ClusterHarness, collectors: Int) async -> Set<[UInt8]>? {
        var addresses = Set<[UInt8]>()
        for c in 0..<collectors {
            guard let answer = await cluster.get("ta-0", "/jobs/\(ScaleWorkload.jobName)/targets?collector_id=collector-\(c)"),
                answer.status == 200, case .array(let groups)? = try? JSONValue.parse(answer.body)
            else { return nil }
            for group in groups {
                for target in group["targets"]?.arrayValue ?? [] { if let t = target.stringValue { addresses.insert(Array(t.utf8)) } }
            }
        }
        return addresses
    }

    static func body(_ value: JSONValue) -> Data {
        var out: [UInt8] = []
        value.write(into: &out)
        return Data(out)
    }

    @Test func annotatedPodsBecomeTargetsAndChurnWritesReachThem() async throws {
        var workload = ScaleWorkload(pods: 240)
        workload.namespaces = 3
        workload.nodes = 5
        workload.collectors = 3
        workload.collectorNamespace = ClusterHarness.namespace
        let config = workload.allocatorConfig(leaseDuration: "3s", renewDeadline: "2s", retryPeriod: "500ms", minWriteInterval: "100ms")
        let cluster = try await ClusterHarness(replicas: 1, collectors: 0, targets: 0, configYAML: config)
        do {
            try workload.seed(into: cluster.emulator)
            #expect(cluster.emulator.objects(.pods).count == 240 + 3)
            try await cluster.startReplicas()
            var expected = Set((0..<240).filter { workload.isScraped(seeded: $0) }.map { Array(workload.address(of: $0).utf8) })
            #expect(expected.count == 240 - 24)
            #expect(await eventually(timeout: 60) { await Self.served(cluster, collectors: 3) == expected })

            // What the benchmark's load generator does, through the API.
            let admin = cluster.admin
            let new = 240
            let pods = "/api/v1/namespaces/\(workload.namespace(of: new))/pods"
            _ = try await admin.send(.POST, pods, body: Self.body(workload.pod(new, scraped: true)))
            _ = try await admin.send(.PUT, "\(pods)/\(workload.name(of: new))/status", body: Self.body(workload.runningPod(new, scraped: true)))
            let patch = #"{"metadata":{"annotations":{"prometheus.io/scrape":"false"}}}"#
            _ = try await admin.send(
                .PATCH, "/api/v1/namespaces/\(workload.namespace(of: 1))/pods/\(workload.name(of: 1))", body: Data(patch.utf8),
                contentType: "application/merge-patch+json")
            _ = try await admin.send(.DELETE, "/api/v1/namespaces/\(workload.namespace(of: 2))/pods/\(workload.name(of: 2))")
            expected.insert(Array(workload.address(of: new).utf8))
            expected.remove(Array(workload.address(of: 1).utf8))
            expected.remove(Array(workload.address(of: 2).utf8))
            #expect(await eventually(timeout: 60) { await Self.served(cluster, collectors: 3) == expected })
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }
}
