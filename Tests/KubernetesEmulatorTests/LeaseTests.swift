import Foundation
import JSON
import KubernetesClient
import KubernetesEmulator
import Testing
import TestSupport

@Suite("Leases and identities")
struct LeaseTests {
    @Test func twoClientsRacingOnTheSameResourceVersionExactlyOneWins() async throws {
        try await withEmulator { emulator, alice in
            let bob = try makeClient(emulator, token: "token-bob")
            defer { Task { try? await bob.shutdown() } }
            _ = try await alice.create(Lease(metadata: ObjectMeta(name: "lock", namespace: "default"), spec: .init(leaseDurationSeconds: 15)))
            for round in 0..<20 {
                let seenByAlice = try await alice.get(Lease.self, name: "lock")
                let seenByBob = try await bob.get(Lease.self, name: "lock")
                #expect(seenByAlice.resourceVersion == seenByBob.resourceVersion)
                var a = seenByAlice
                a.spec?.holderIdentity = "alice"
                a.spec?.leaseTransitions = Int32(round)
                a.spec?.renewTime = MicroTime(Date())
                var b = seenByBob
                b.spec?.holderIdentity = "bob"
                b.spec?.leaseTransitions = Int32(round)
                b.spec?.renewTime = MicroTime(Date())
                let (fa, fb) = (a, b)
                async let ra = outcome { try await alice.update(fa) }
                async let rb = outcome { try await bob.update(fb) }
                let results = await [ra, rb]
                let winners = results.filter { if case .success = $0 { true } else { false } }
                let conflicts = results.filter {
                    if case .failure(let e) = $0, let k = e as? KubernetesError, k.isConflict { true } else { false }
                }
                #expect(winners.count == 1, "round \(round)")
                #expect(conflicts.count == 1, "round \(round)")
            }
            let writes = emulator.auditLog.filter { $0.verb == "update" && $0.name == "lock" }
            #expect(writes.count == 20)
        }
    }

    @Test func putCreatesAMissingLeaseButNeverUpdatesWithoutAResourceVersion() async throws {
        try await withEmulator { emulator, client in
            let lease = Lease(metadata: ObjectMeta(name: "fresh", namespace: "default"), spec: .init(holderIdentity: "me", leaseDurationSeconds: 10))
            let body = try JSONEncoder().encode(lease)
            // PUT to a missing Lease creates it (201).
            _ = try await client.send(.PUT, "/apis/coordination.k8s.io/v1/namespaces/default/leases/fresh", body: body)
            #expect(emulator.auditLog.last?.verb == "create")
            let stored = try await client.get(Lease.self, name: "fresh")
            #expect(stored.spec?.holderIdentity == "me")
            let unconditional = await kubernetesError { _ = try await client.update(lease) }
            #expect(unconditional?.isInvalid == true)
            guard case .status(let s, _)? = unconditional else { return }
            #expect(s.details?.causes?.first?.field == "metadata.resourceVersion")
            // ConfigMaps allow unconditional updates (last writer wins) but are not created by PUT.
            let cm = try await client.create(configMap("cm", data: ["a": "1"]))
            var blind = cm
            blind.metadata.resourceVersion = nil
            blind.data = ["a": "2"]
            #expect(try await client.update(blind).data == ["a": "2"])
            let missing = await kubernetesError { _ = try await client.update(configMap("nope")) }
            #expect(missing?.isNotFound == true)
        }
    }

    @Test func microTimeIsStrictOnInputAndCanonicalOnOutput() async throws {
        try await withEmulator { emulator, client in
            let path = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
            for bad in ["2026-01-02T03:04:05Z", "2026-01-02T03:04:05.123Z", "2026-01-02T03:04:05.123456789Z", "not a time"] {
                let body = Data(#"{"metadata":{"name":"t"},"spec":{"renewTime":"\#(bad)"}}"#.utf8)
                let error = await kubernetesError { _ = try await client.send(.POST, path, body: body) }
                #expect(error?.code == 400, "\(bad)")
            }
            let body = Data(#"{"metadata":{"name":"t"},"spec":{"acquireTime":"2026-01-02T03:04:05.000001+02:00","renewTime":null}}"#.utf8)
            let created = try JSONValue.parse(Array(try await client.send(.POST, path, body: body)))
            #expect(created.at("spec", "acquireTime")?.stringValue == "2026-01-02T01:04:05.000001Z")
            // The client's own MicroTime encoding is accepted and round-trips.
            let now = MicroTime(Date(timeIntervalSince1970: 1_800_000_000.25))
            var lease = try await client.get(Lease.self, name: "t")
            lease.spec?.renewTime = now
            let updated = try await client.update(lease)
            #expect(updated.spec?.renewTime?.text == "2027-01-15T08:00:00.250000Z")
        }
    }

    @Test func tokenFileRotationSwitchesIdentity() async throws {
        try await withEmulator { emulator, _ in
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("emu-token-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let tokenFile = dir.appendingPathComponent("token").path
            try "token-alice\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
            let client = try KubernetesClient(configuration: ClusterConfiguration(server: emulator.url, credentials: .tokenFile(tokenFile), namespace: "default"))
            _ = try await client.create(configMap("by-alice"))
            #expect(emulator.auditLog.last?.identity == "alice")

            // The kubelet rotates the projected token; the old one is revoked.
            try "token-carol\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
            emulator.removeToken("token-alice")
            let first = await kubernetesError { _ = try await client.create(configMap("rejected")) }
            #expect(first?.isUnauthorized == true)
            _ = try await client.create(configMap("by-carol"))
            #expect(emulator.auditLog.last?.identity == "carol")
            #expect(emulator.auditLog.last?.name == "by-carol")
            try await client.shutdown()
        }
    }

    @Test func auditLogRecordsEveryAcceptedWrite() async throws {
        try await withEmulator { emulator, client in
            let before = emulator.auditLog.count
            let created = try await client.create(configMap("audited"))
            _ = await kubernetesError { _ = try await client.create(configMap("audited")) }
            _ = try await client.patch(ConfigMap.self, name: "audited", patch: Data(#"{"data":{"a":"b"}}"#.utf8))
            try await client.delete(ConfigMap.self, name: "audited")
            let entries = Array(emulator.auditLog.dropFirst(before))
            #expect(entries.map(\.verb) == ["create", "patch", "delete"])
            #expect(entries.allSatisfy { $0.identity == "alice" && $0.namespace == "default" && $0.resource == "configmaps" })
            #expect(entries[0].resourceVersion == created.resourceVersion)
            #expect(entries.map { Int($0.resourceVersion)! } == entries.map { Int($0.resourceVersion)! }.sorted())
        }
    }
}

func outcome<T: Sendable>(_ body: @Sendable () async throws -> T) async -> Result<T, any Error> {
    do { return .success(try await body()) } catch { return .failure(error) }
}
