import Foundation
import JSON
import KubernetesClient
import KubernetesEmulator
import TestSupport
import Testing

@Suite("The emulator's own routes and the audit log's questions")
struct AdminTests {
    static func audit(_ client: KubernetesClient, since: Int) async throws -> (entries: [AuditEntry], total: Int) {
        let json = try JSONValue.parse(Array(try await client.send(.GET, "/_emulator/audit", query: [("since", String(since))])))
        guard let total = json["total"]?.integerValue, case .array(let items)? = json["entries"] else {
            Issue.record("audit answer has no total or entries")
            return ([], 0)
        }
        return (items.compactMap(AuditEntry.init(json:)), Int(total))
    }

    @Test func adminRoutesAreOffByDefault() async throws {
        try await withEmulator { _, client in
            let error = await kubernetesError { _ = try await client.send(.GET, "/_emulator/audit") }
            #expect(error?.isNotFound == true)
        }
    }

    @Test func theAuditFeedPagesThroughEveryAcceptedWriteWithLeaseHolders() async throws {
        try await withEmulator({ $0.adminAPI = true }) { emulator, client in
            let start = try await Self.audit(client, since: 1 << 30).total
            #expect(try await Self.audit(client, since: 1 << 30).entries.isEmpty)
            _ = try await client.create(configMap("one"))
            var lease = try await client.create(
                Lease(metadata: ObjectMeta(name: "lock", namespace: "default"), spec: .init(holderIdentity: "alice", leaseDurationSeconds: 4)))
            lease.spec?.holderIdentity = ""
            _ = try await client.update(lease)
            try await client.delete(ConfigMap.self, namespace: "default", name: "one")

            let (entries, total) = try await Self.audit(client, since: start)
            #expect(total == start + 4)
            #expect(entries.map(\.verb) == ["create", "create", "update", "delete"])
            #expect(entries.map(\.resource) == ["configmaps", "leases.coordination.k8s.io", "leases.coordination.k8s.io", "configmaps"])
            #expect(entries.map(\.leaseHolder) == [nil, "alice", "", nil])
            // The wire form carries what the in-process log holds, to the microsecond.
            let local = Array(emulator.auditLog.suffix(4))
            #expect(entries.map(\.resourceVersion) == local.map(\.resourceVersion))
            #expect(entries.map(\.unixMicros) == local.map(\.unixMicros))
            #expect(entries.map(\.identity) == local.map(\.identity))
            #expect(try await Self.audit(client, since: start + 3).entries.map(\.verb) == ["delete"])

            let bad = await kubernetesError { _ = try await client.send(.GET, "/_emulator/audit", query: [("since", "-1")]) }
            #expect(bad?.code == 400)
            let wrongMethod = await kubernetesError { _ = try await client.send(.POST, "/_emulator/audit", body: Data("{}".utf8)) }
            #expect(wrongMethod?.code == 405)
        }
    }

    @Test func latencyIsSetAndLiftedOverHTTPAndNeverDelaysTheAdminRoutes() async throws {
        try await withEmulator({ $0.adminAPI = true }) { emulator, client in
            let bob = try makeClient(emulator, token: "token-bob", timeout: .seconds(5))
            _ = try await client.send(.PUT, "/_emulator/latency", query: [("identity", "bob"), ("milliseconds", "300")])
            let start = ContinuousClock.now
            _ = try await bob.listAll(ConfigMap.self)
            #expect(ContinuousClock.now - start >= .milliseconds(300))

            // Everyone's requests hang, but the admin routes still answer: they are how a fault is lifted.
            emulator.partition("*", mode: .hang)
            _ = try await client.send(.PUT, "/_emulator/latency", query: [("identity", "bob"), ("milliseconds", "0")])
            #expect(try await Self.audit(client, since: 0).total > 0)
            emulator.heal("*")
            _ = try await bob.listAll(ConfigMap.self)

            let missing = await kubernetesError { _ = try await client.send(.PUT, "/_emulator/latency", query: [("milliseconds", "5")]) }
            #expect(missing?.code == 400)
            let negative = await kubernetesError {
                _ = try await client.send(.PUT, "/_emulator/latency", query: [("identity", "bob"), ("milliseconds", "-5")])
            }
            #expect(negative?.code == 400)
            try await bob.shutdown()
        }
    }

    // MARK: - questions asked of the log

    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static func lease(_ identity: String, holder: String, at seconds: Double, verb: String = "update") -> AuditEntry {
        AuditEntry(
            identity: identity, verb: verb, resource: "leases.coordination.k8s.io", namespace: "ns", name: "lock", resourceVersion: "1",
            time: t0.addingTimeInterval(seconds), leaseHolder: holder)
    }

    static func write(_ identity: String, at seconds: Double, name: String = "snap") -> AuditEntry {
        AuditEntry(identity: identity, verb: "update", resource: "configmaps", namespace: "ns", name: name, resourceVersion: "1", time: t0.addingTimeInterval(seconds))
    }

    @Test func termsChangesAndRenewGapsFollowTheHolder() {
        let log: [AuditEntry] = [
            Self.lease("a", holder: "a", at: 0, verb: "create"), Self.lease("a", holder: "a", at: 0.5), Self.write("a", at: 0.7),
            Self.lease("a", holder: "a", at: 1.25),
            // a releases and takes it again: not a change of leader.
            Self.lease("a", holder: "", at: 2), Self.lease("a", holder: "a", at: 2.5),
            // b takes over (expired), then c; then the same lock in another namespace is ignored.
            Self.lease("b", holder: "b", at: 8), Self.lease("b", holder: "b", at: 8.5), Self.lease("c", holder: "c", at: 20),
            AuditEntry(
                identity: "d", verb: "update", resource: "leases.coordination.k8s.io", namespace: "other", name: "lock", resourceVersion: "1",
                time: Self.t0, leaseHolder: "d"),
        ]
        let terms = log.leaseTerms(namespace: "ns", name: "lock")
        #expect(terms.map(\.holder) == ["a", "a", "b", "c"])
        #expect(terms.map(\.writes.count) == [3, 1, 2, 1])
        let changes = log.leadershipChanges(namespace: "ns", name: "lock")
        #expect(changes.map { "\($0.from)→\($0.to.holder)" } == ["a→b", "b→c"])
        #expect([AuditEntry].renewGaps(terms[0]) == [.milliseconds(500), .milliseconds(750)])
        #expect([AuditEntry].renewGaps(terms[2]) == [.milliseconds(500)])
    }

    @Test func writesOutsideTheTermAreFoundByHolderAndRenewDeadline() {
        let log: [AuditEntry] = [
            Self.write("a", at: 0),  // before any Lease: not holding
            Self.lease("a", holder: "a", at: 1, verb: "create"), Self.write("a", at: 3.9),  // within 3 s of its renewal
            Self.write("a", at: 4.5),  // 3.5 s after its last renewal
            Self.lease("b", holder: "b", at: 6), Self.write("a", at: 6.1),  // b holds it now
            Self.write("b", at: 6.2), Self.write("b", at: 6.3, name: "unguarded"),
            Self.lease("b", holder: "", at: 7), Self.write("b", at: 7.1),  // released: nobody holds it
        ]
        let found = log.writesOutsideTerm(leaseNamespace: "ns", leaseName: "lock", renewDeadline: .seconds(3)) { $0.name == "snap" }
        let t0 = Self.write("a", at: 0).unixMicros
        #expect(found.map { "\($0.entry.identity)@\(($0.entry.unixMicros - t0) / 1000)ms" } == ["a@0ms", "a@4500ms", "a@6100ms", "b@7100ms"])
        #expect(found.map(\.reason) == [.notHolder(holder: nil), .afterRenewDeadline(overshoot: .milliseconds(500)), .notHolder(holder: "b"), .notHolder(holder: "")])
    }
}
