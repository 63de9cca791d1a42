import Foundation
import JSON
import KubernetesClient
import KubernetesEmulator
import NIOCore
import Testing
import TestSupport

@Suite("Errors are real Status objects and classify correctly")
struct ErrorTests {
    @Test func conflictAlreadyExistsNotFoundCarryTheRealStatus() async throws {
        try await withEmulator { emulator, client in
            let lease = try await client.create(Lease(metadata: ObjectMeta(name: "lock", namespace: "default"), spec: .init(leaseDurationSeconds: 15)))
            let exists = await kubernetesError {
                _ = try await client.create(Lease(metadata: ObjectMeta(name: "lock", namespace: "default"), spec: .init(leaseDurationSeconds: 5)))
            }
            #expect(exists?.isAlreadyExists == true)
            #expect(exists?.code == 409)
            guard case .status(let existsStatus, _)? = exists else { return }
            #expect(existsStatus.message == "leases.coordination.k8s.io \"lock\" already exists")
            // Like etcd3's store, a create carrying a resourceVersion is a plain (500) error.
            let withVersion = await kubernetesError { _ = try await client.create(lease) }
            #expect(withVersion?.code == 500)

            var first = lease
            first.spec?.holderIdentity = "a"
            _ = try await client.update(first)
            let conflict = await kubernetesError { _ = try await client.update(first) }
            guard case .status(let status, _)? = conflict else {
                Issue.record("no status")
                return
            }
            #expect(conflict?.isConflict == true)
            #expect(status.kind == "Status")
            #expect(status.apiVersion == "v1")
            #expect(status.status == "Failure")
            #expect(status.reason == "Conflict")
            #expect(status.code == 409)
            #expect(
                status.message
                    == "Operation cannot be fulfilled on leases.coordination.k8s.io \"lock\": the object has been modified; please apply your changes to the latest version and try again"
            )
            #expect(status.details?.name == "lock")
            #expect(status.details?.group == "coordination.k8s.io")
            #expect(status.details?.kind == "leases")

            let missing = await kubernetesError { _ = try await client.get(ConfigMap.self, name: "nope") }
            #expect(missing?.isNotFound == true)
            guard case .status(let notFound, _)? = missing else { return }
            #expect(notFound.message == "configmaps \"nope\" not found")
            #expect(notFound.details?.kind == "configmaps")
            #expect(notFound.details?.group == nil)
        }
    }

    @Test func invalidObjectsAre422WithCauses() async throws {
        try await withEmulator { emulator, client in
            let badName = await kubernetesError { _ = try await client.create(configMap("Not_Valid")) }
            #expect(badName?.isInvalid == true)
            #expect(badName?.code == 422)
            guard case .status(let s, _)? = badName else { return }
            #expect(s.details?.kind == "ConfigMap")
            #expect(s.details?.causes?.first?.field == "metadata.name")
            #expect(s.details?.causes?.first?.reason == "FieldValueInvalid")

            let noName = await kubernetesError { _ = try await client.create(configMap("")) }
            #expect(noName?.isInvalid == true)
            let badLabel = await kubernetesError { _ = try await client.create(configMap("ok", labels: ["bad key!": "v"])) }
            #expect(badLabel?.isInvalid == true)
            let badDuration = await kubernetesError {
                _ = try await client.create(Lease(metadata: ObjectMeta(name: "l", namespace: "default"), spec: .init(leaseDurationSeconds: 0)))
            }
            #expect(badDuration?.isInvalid == true)
            var preferred = Lease.Spec(leaseDurationSeconds: 5)
            preferred.preferredHolder = "x"
            let forbidden = await kubernetesError {
                _ = try await client.create(Lease(metadata: ObjectMeta(name: "l", namespace: "default"), spec: preferred))
            }
            #expect(forbidden?.isInvalid == true)
        }
    }

    @Test func namespaceMustExistAndMatch() async throws {
        try await withEmulator({ $0.namespaceFinalizeDelay = .seconds(30) }) { emulator, client in
            let missing = await kubernetesError { _ = try await client.create(configMap("x", namespace: "nowhere")) }
            #expect(missing?.isNotFound == true)
            guard case .status(let s, _)? = missing else { return }
            #expect(s.message == "namespaces \"nowhere\" not found")
            // Body namespace must match the URL's.
            let body = Data(#"{"metadata":{"name":"x","namespace":"other"}}"#.utf8)
            let mismatch = await kubernetesError { _ = try await client.send(.POST, "/api/v1/namespaces/default/configmaps", body: body) }
            #expect(mismatch?.code == 400)
            // Terminating namespaces refuse new content (403).
            _ = try await client.create(Namespace(metadata: ObjectMeta(name: "doomed")))
            try await client.delete(Namespace.self, name: "doomed")
            let terminating = await kubernetesError { _ = try await client.create(configMap("x", namespace: "doomed")) }
            #expect(terminating?.code == 403)
            let protected = await kubernetesError { try await client.delete(Namespace.self, name: "default") }
            #expect(protected?.code == 403)
        }
    }

    @Test func deletingANamespaceDeletesItsContent() async throws {
        try await withEmulator { emulator, client in
            _ = try await client.create(Namespace(metadata: ObjectMeta(name: "tmp")))
            _ = try await client.create(configMap("x", namespace: "tmp"))
            try await client.delete(Namespace.self, name: "tmp")
            #expect(await eventually { emulator.get(.namespaces, name: "tmp") == nil })
            #expect(emulator.get(.configMaps, namespace: "tmp", name: "x") == nil)
        }
    }

    @Test func badJSONIs400AndTooLargeBodyIs413() async throws {
        try await withEmulator { emulator, client in
            let bad = await kubernetesError { _ = try await client.send(.POST, "/api/v1/namespaces/default/configmaps", body: Data("{nope".utf8)) }
            #expect(bad?.code == 400)
            #expect(bad?.reason == "BadRequest")
            let wrongType = await kubernetesError {
                _ = try await client.send(.POST, "/api/v1/namespaces/default/configmaps", body: Data(#"{"metadata":{"name":"x"},"data":{"a":1}}"#.utf8))
            }
            #expect(wrongType?.code == 400)
            let huge = configMap("huge", data: ["a": String(repeating: "x", count: 3 * 1024 * 1024 + 10)])
            let tooLarge = await kubernetesError { _ = try await client.create(huge) }
            #expect(tooLarge?.code == 413)
            guard case .status(let s, _)? = tooLarge else { return }
            #expect(s.message == "Request entity too large: limit is 3145728")
            // The connection still works afterwards.
            _ = try await client.create(configMap("after"))
        }
    }

    @Test func configMapPayloadLimitIsOneMebibyteOfDecodedBytes() async throws {
        try await withEmulator { emulator, client in
            let limit = 1_048_576
            _ = try await client.create(configMap("exact", data: ["a": String(repeating: "x", count: limit - 10), "b": String(repeating: "y", count: 10)]))
            let over = await kubernetesError { _ = try await client.create(configMap("over", data: ["a": String(repeating: "x", count: limit + 1)])) }
            #expect(over?.isInvalid == true)
            guard case .status(let s, _)? = over else { return }
            #expect(s.message == "ConfigMap \"over\" is invalid: []: Too long: may not be more than 1048576 bytes")
            #expect(s.details?.causes?.first?.reason == "FieldValueTooLong")
            // binaryData counts decoded bytes (base64 inflates the body, not the count).
            _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "bin", namespace: "default"), binaryData: ["b": Data(count: limit)]))
            let binOver = await kubernetesError {
                _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "bin2", namespace: "default"), binaryData: ["b": Data(count: limit + 1)]))
            }
            #expect(binOver?.isInvalid == true)
            // Keys in both data and binaryData, and bad keys, are invalid.
            let overlap = await kubernetesError {
                _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "dup", namespace: "default"), data: ["k": "v"], binaryData: ["k": Data()]))
            }
            #expect(overlap?.isInvalid == true)
            // Updates are held to the same limit.
            var grown = try await client.get(ConfigMap.self, name: "exact")
            grown.data?["c"] = "z"
            let grownError = await kubernetesError { _ = try await client.update(grown) }
            #expect(grownError?.isInvalid == true)
        }
    }

    @Test func immutableConfigMaps() async throws {
        try await withEmulator { emulator, client in
            var cm = configMap("frozen", data: ["a": "1"])
            cm.immutable = true
            var created = try await client.create(cm)
            created.data = ["a": "2"]
            let frozen = await kubernetesError { _ = try await client.update(created) }
            #expect(frozen?.isInvalid == true)
        }
    }

    @Test func unauthorizedTooManyRequestsAndInjectedErrors() async throws {
        try await withEmulator { emulator, client in
            let stranger = try makeClient(emulator, token: "who-knows")
            let denied = await kubernetesError { _ = try await stranger.get(ConfigMap.self, name: "x") }
            #expect(denied?.isUnauthorized == true)
            #expect(denied?.reason == "Unauthorized")
            let anonymous = try makeClient(emulator, token: nil)
            let anonymousDenied = await kubernetesError { _ = try await anonymous.listAll(Pod.self) }
            #expect(anonymousDenied?.isUnauthorized == true)
            try await stranger.shutdown()
            try await anonymous.shutdown()

            emulator.injectFailure("alice", InjectedFailure(code: 429, retryAfterSeconds: 3, count: 1))
            let throttled = await kubernetesError { _ = try await client.listAll(ConfigMap.self) }
            #expect(throttled?.isTooManyRequests == true)
            #expect(throttled?.retryAfter == 3)
            // count: 1 — the next request goes through.
            _ = try await client.listAll(ConfigMap.self)

            emulator.injectFailure("alice", InjectedFailure(code: 500, verbs: ["update"]))
            let created = try await client.create(configMap("x"))
            let serverError = await kubernetesError { _ = try await client.update(created) }
            #expect(serverError?.isServerError == true)
            emulator.clearFailure("alice")
            _ = try await client.update(created)

            emulator.injectFailure("*", InjectedFailure(error: .expired("gone"), count: 1))
            let gone = await kubernetesError { _ = try await client.get(ConfigMap.self, name: "x") }
            #expect(gone?.isGone == true)
        }
    }

    @Test func latencyAndPartitions() async throws {
        try await withEmulator { emulator, client in
            emulator.setLatency("alice", .milliseconds(300))
            let start = ContinuousClock.now
            _ = try await client.listAll(ConfigMap.self)
            #expect(ContinuousClock.now - start >= .milliseconds(300))
            emulator.setLatency("alice", nil)

            emulator.partition("alice", mode: .refuse)
            let refused = await kubernetesError { _ = try await client.listAll(ConfigMap.self) }
            guard case .transport? = refused else {
                Issue.record("expected a transport error, got \(String(describing: refused))")
                return
            }
            // Other identities are unaffected.
            let bob = try makeClient(emulator, token: "token-bob")
            _ = try await bob.listAll(ConfigMap.self)
            emulator.heal("alice")
            _ = try await client.listAll(ConfigMap.self)

            let shortClient = try makeClient(emulator, timeout: .seconds(1))
            emulator.partition("alice", mode: .hang)
            let hung = await kubernetesError { _ = try await shortClient.listAll(ConfigMap.self) }
            guard case .transport? = hung else {
                Issue.record("expected a timeout, got \(String(describing: hung))")
                return
            }
            emulator.heal("alice")
            _ = try await shortClient.listAll(ConfigMap.self)
            try await shortClient.shutdown()
            try await bob.shutdown()
        }
    }
}
