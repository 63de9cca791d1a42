import Foundation
import JSON
import KubernetesClient
import KubernetesEmulator
import Testing
import TestSupport

@Suite("Client verbs against the emulator")
struct VerbTests {
    @Test func createGetUpdateDeleteWithOneGlobalResourceVersion() async throws {
        try await withEmulator { emulator, client in
            let start = emulator.resourceVersion
            let created = try await client.create(configMap("one", data: ["a": "1"]))
            #expect(created.metadata.uid?.isEmpty == false)
            #expect(created.metadata.creationTimestamp != nil)
            #expect(created.resourceVersion == String(start + 1))
            let lease = try await client.create(Lease(metadata: ObjectMeta(name: "l", namespace: "default"), spec: .init(holderIdentity: "x", leaseDurationSeconds: 10)))
            // One counter shared by every resource.
            #expect(lease.resourceVersion == String(start + 2))

            var fetched = try await client.get(ConfigMap.self, name: "one")
            #expect(fetched.data == ["a": "1"])
            fetched.data = ["a": "2"]
            let updated = try await client.update(fetched)
            #expect(updated.data == ["a": "2"])
            #expect(Int(updated.resourceVersion!)! > Int(lease.resourceVersion!)!)

            // An update that changes nothing writes nothing.
            let same = try await client.update(updated)
            #expect(same.resourceVersion == updated.resourceVersion)

            try await client.delete(ConfigMap.self, name: "one")
            let gone = await kubernetesError { _ = try await client.get(ConfigMap.self, name: "one") }
            #expect(gone?.isNotFound == true)
            let verbs = emulator.auditLog.filter { $0.identity == "alice" }.map { "\($0.verb) \($0.resource) \($0.name)" }
            #expect(verbs == ["create configmaps one", "create leases.coordination.k8s.io l", "update configmaps one", "delete configmaps one"])
        }
    }

    @Test func listAllFollowsContinueTokensFromOneSnapshot() async throws {
        try await withEmulator { emulator, client in
            for i in 0..<25 { _ = try await client.create(configMap(String(format: "cm-%02d", i), labels: ["n": i % 2 == 0 ? "even" : "odd"])) }
            var options = ListOptions(limit: 10)
            let page = try await client.list(ConfigMap.self, namespace: "default", options: options)
            #expect(page.items.count == 10)
            #expect(page.metadata.continue?.isEmpty == false)
            #expect(page.metadata.remainingItemCount == 15)
            let all = try await client.listAll(ConfigMap.self, namespace: "default", options: options)
            #expect(all.items.map(\.name) == (0..<25).map { String(format: "cm-%02d", $0) })
            #expect(all.resourceVersion == page.metadata.resourceVersion)
            options.labelSelector = "n=even"
            let even = try await client.listAll(ConfigMap.self, namespace: "default", options: options)
            #expect(even.items.count == 13)

            // An expired continue token is 410.
            _ = try await client.create(configMap("later"))
            emulator.compact()
            var next = ListOptions(limit: 10)
            next.continueToken = page.metadata.continue
            let expired = await kubernetesError { _ = try await client.list(ConfigMap.self, namespace: "default", options: next) }
            #expect(expired?.isGone == true)
            #expect(expired?.reason == "Expired")
        }
    }

    @Test func listAcrossNamespacesAndClusterScoped() async throws {
        try await withEmulator { emulator, client in
            _ = try await client.create(Namespace(metadata: ObjectMeta(name: "other")))
            _ = try await client.create(configMap("a", namespace: "default"))
            _ = try await client.create(configMap("b", namespace: "other"))
            let everywhere = try await client.listAll(ConfigMap.self)
            #expect(Set(everywhere.items.map(\.key)) == ["default/a", "other/b"])
            let other = try await client.listAll(ConfigMap.self, namespace: "other")
            #expect(other.items.map(\.key) == ["other/b"])
            _ = try await client.create(Node(metadata: ObjectMeta(name: "node-1")))
            let nodes = try await client.listAll(Node.self)
            #expect(nodes.items.map(\.name) == ["node-1"])
            let namespaces = try await client.listAll(Namespace.self)
            #expect(namespaces.items.map(\.name).contains("other"))
        }
    }

    @Test func podStatusOnlyThroughTheStatusSubresource() async throws {
        try await withEmulator { emulator, client in
            let pod = Pod(
                metadata: ObjectMeta(name: "web-0", namespace: "default", labels: ["app": "web"]),
                spec: .init(nodeName: "node-1", containers: [.init(name: "app", ports: [.init(name: "metrics", containerPort: 8080)])]),
                status: .init(phase: "Running", podIP: "10.0.0.1"))
            let created = try await client.create(pod)
            // The real server resets status on create.
            #expect(created.status?.phase == "Pending")
            #expect(created.status?.podIP == nil)
            #expect(created.metadata.generation == 1)

            var withStatus = created
            withStatus.status = .init(phase: "Running", podIP: "10.0.0.1")
            let afterStatus = try await client.updateStatus(withStatus)
            #expect(afterStatus.status?.podIP == "10.0.0.1")

            // A main-resource update keeps the stored status.
            var relabelled = afterStatus
            relabelled.metadata.labels = ["app": "web", "tier": "1"]
            relabelled.status = .init(phase: "Failed")
            let after = try await client.update(relabelled)
            #expect(after.status?.phase == "Running")
            #expect(after.metadata.labels?["tier"] == "1")

            // Field selectors the client uses.
            let onNode = try await client.list(Pod.self, namespace: "default", options: ListOptions(fieldSelector: "spec.nodeName=node-1"))
            #expect(onNode.items.count == 1)
            let elsewhere = try await client.list(Pod.self, options: ListOptions(fieldSelector: "spec.nodeName=node-2,status.phase=Running"))
            #expect(elsewhere.items.isEmpty)
            let bad = await kubernetesError { _ = try await client.list(Pod.self, options: ListOptions(fieldSelector: "spec.bogus=x")) }
            #expect(bad?.code == 400)
            // DELETE of a pod answers with the object.
            let body = try await client.send(.DELETE, "/api/v1/namespaces/default/pods/web-0")
            #expect(try JSONValue.parse(Array(body))["kind"]?.stringValue == "Pod")
        }
    }

    @Test func patchesMergeStrategicAndJSON() async throws {
        try await withEmulator { emulator, client in
            _ = try await client.create(configMap("p", labels: ["a": "1"], data: ["x": "1", "y": "2"]))
            let merged = try await client.patch(
                ConfigMap.self, name: "p", patch: Data(#"{"data":{"x":null,"z":"3"},"metadata":{"labels":{"b":"2"}}}"#.utf8))
            #expect(merged.data == ["y": "2", "z": "3"])
            #expect(merged.metadata.labels == ["a": "1", "b": "2"])
            let json = try await client.patch(
                ConfigMap.self, name: "p", patch: Data(#"[{"op":"replace","path":"/data/y","value":"20"}]"#.utf8), as: .json)
            #expect(json.data?["y"] == "20")
            // A merge patch carrying a stale resourceVersion is a precondition: 409.
            let stale = await kubernetesError {
                _ = try await client.patch(ConfigMap.self, name: "p", patch: Data(#"{"metadata":{"resourceVersion":"1"},"data":{"q":"1"}}"#.utf8))
            }
            #expect(stale?.isConflict == true)

            _ = try await client.create(
                Pod(
                    metadata: ObjectMeta(name: "pod", namespace: "default"),
                    spec: .init(containers: [.init(name: "a", image: "one"), .init(name: "b", image: "two")])))
            let strategic = try await client.patch(
                Pod.self, name: "pod", patch: Data(#"{"spec":{"containers":[{"name":"b","image":"three"}]}}"#.utf8), as: .strategicMerge)
            #expect(strategic.spec?.containers?.map(\.image) == ["one", "three"])
            #expect(strategic.metadata.generation == 2)
            // Custom resources have no strategic merge: 415.
            _ = try await client.create(ServiceMonitor(metadata: ObjectMeta(name: "sm", namespace: "default"), spec: .object([])))
            let unsupported = await kubernetesError {
                _ = try await client.patch(ServiceMonitor.self, name: "sm", patch: Data("{}".utf8), as: .strategicMerge)
            }
            #expect(unsupported?.code == 415)
            let missing = await kubernetesError { _ = try await client.patch(ConfigMap.self, name: "nope", patch: Data("{}".utf8)) }
            #expect(missing?.isNotFound == true)
        }
    }

    @Test func deleteWithPreconditions() async throws {
        try await withEmulator { emulator, client in
            let created = try await client.create(configMap("d"))
            var changed = created
            changed.data = ["k": "v"]
            let updated = try await client.update(changed)
            let stale = await kubernetesError { try await client.delete(ConfigMap.self, name: "d", resourceVersion: created.resourceVersion) }
            #expect(stale?.isConflict == true)
            let wrongUID = await kubernetesError { try await client.delete(ConfigMap.self, name: "d", uid: "not-the-uid") }
            #expect(wrongUID?.isConflict == true)
            try await client.delete(ConfigMap.self, name: "d", resourceVersion: updated.resourceVersion, uid: updated.metadata.uid)
            #expect(emulator.get(.configMaps, name: "d") == nil)
            let again = await kubernetesError { try await client.delete(ConfigMap.self, name: "d") }
            #expect(again?.isNotFound == true)
        }
    }

    @Test func customResourcesRoundTripUnknownFieldsAndTrackGeneration() async throws {
        try await withEmulator { emulator, client in
            let spec = try JSONValue.parse(#"{"selector":{"matchLabels":{"app":"web"}},"endpoints":[{"port":"metrics","interval":"15s"}],"futureField":{"x":1}}"#)
            let created = try await client.create(ServiceMonitor(metadata: ObjectMeta(name: "web", namespace: "default"), spec: spec))
            #expect(created.metadata.generation == 1)
            let raw = emulator.get(.serviceMonitors, name: "web")
            #expect(raw?.at("spec", "futureField", "x") == .number("1"))
            var changed = created
            changed.spec = try JSONValue.parse(#"{"selector":{},"endpoints":[]}"#)
            let updated = try await client.update(changed)
            #expect(updated.metadata.generation == 2)
            // Custom resources need a resourceVersion on update.
            var unconditional = updated
            unconditional.metadata.resourceVersion = nil
            let invalid = await kubernetesError { _ = try await client.update(unconditional) }
            #expect(invalid?.isInvalid == true)
            let list = try await client.send(.GET, "/apis/monitoring.coreos.com/v1/namespaces/default/servicemonitors")
            // Custom resource list items carry kind and apiVersion.
            #expect(try JSONValue.parse(Array(list))["items"]?.arrayValue?.first?["kind"] == .string("ServiceMonitor"))
            _ = try await client.create(ScrapeConfig(metadata: ObjectMeta(name: "sc", namespace: "default"), spec: .object([])))
            _ = try await client.create(PodMonitor(metadata: ObjectMeta(name: "pm", namespace: "default"), spec: .object([])))
            _ = try await client.create(Probe(metadata: ObjectMeta(name: "pr", namespace: "default"), spec: .object([])))
            #expect(emulator.objects(.scrapeConfigs).count == 1)
            #expect(emulator.objects(.podMonitors).count == 1)
            #expect(emulator.objects(.probes).count == 1)
        }
    }

    @Test func everyKindTheAllocatorReads() async throws {
        try await withEmulator { emulator, client in
            _ = try await client.create(Service(metadata: ObjectMeta(name: "web", namespace: "default")))
            _ = try await client.create(Endpoints(metadata: ObjectMeta(name: "web", namespace: "default")))
            _ = try await client.create(
                EndpointSlice(metadata: ObjectMeta(name: "web-abc", namespace: "default", labels: ["kubernetes.io/service-name": "web"]), addressType: "IPv4"))
            _ = try await client.create(Secret(metadata: ObjectMeta(name: "s", namespace: "default"), data: ["k": Data("v".utf8)]))
            #expect(try await client.get(Secret.self, name: "s").data?["k"] == Data("v".utf8))
            #expect(try await client.listAll(Service.self).items.count == 1)
            #expect(try await client.listAll(Endpoints.self).items.count == 1)
            let slices = try await client.listAll(EndpointSlice.self, options: ListOptions(labelSelector: "kubernetes.io/service-name in (web,api)"))
            #expect(slices.items.count == 1)
            // Service names are DNS-1035 labels.
            let badService = await kubernetesError { _ = try await client.create(Service(metadata: ObjectMeta(name: "1web", namespace: "default"))) }
            #expect(badService?.isInvalid == true)
        }
    }
}
