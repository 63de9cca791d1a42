import Discovery
import Foundation
import JSON
import KubernetesClient
import KubernetesEmulator
import TestSupport
import Testing

/// The one place we deliberately differ from Prometheus: it does not rebuild an Endpoints
/// group when a node named only through `nodeName` (no targetRef) changes, so it keeps stale
/// node labels; we recompute from the current objects, so the group shows the node's labels
/// as they are now.
func expectedGroups(_ fixture: KubernetesFixture) -> [String: TargetGroup] {
    var expected = fixture.expected
    if fixture.name == "endpoints-with-updated-node-metadata" {
        let source = "endpoints/default/testendpoints"
        var group = expected[source]!
        for i in group.targets.indices where group.targets[i]["__meta_kubernetes_node_name"] == "foobar" {
            #expect(group.targets[i]["__meta_kubernetes_node_label_az"] == "us-east1", "Prometheus's stale value")
            group.targets[i]["__meta_kubernetes_node_label_az"] = "eu-central1"
        }
        expected[source] = group
    }
    return expected
}

@Suite struct KubernetesFixtureTests {
    @Test func fixturesArePresent() {
        // The vectors live outside the repository; when they are there, all of them run.
        if KubernetesFixture.directory != nil { #expect(KubernetesFixture.all.count >= 48) }
    }

    /// Every vector, computed purely over the objects the case ends with.
    @Test(arguments: KubernetesFixture.all)
    func pureComputation(_ fixture: KubernetesFixture) throws {
        let objects = try kubernetesObjects(fixture.finalObjects)
        let groups = KubernetesTargets.groups(config: fixture.config, ownNamespace: fixture.ownNamespace, objects: objects)
        let problems = differences(groups, expectedGroups(fixture))
        #expect(problems.isEmpty, "\(fixture.name):\n\(problems.joined(separator: "\n"))")
    }
}

/// Kinds the emulator serves (it has no ReplicaSets or Jobs, so the deployment, job and cronjob
/// vectors run through the pure computation only).
let emulatedKinds: Set<String> = ["Pod", "Service", "Endpoints", "EndpointSlice", "Node", "Namespace"]

@Suite struct KubernetesFixtureEmulatorTests {
    /// Every vector the emulator can hold, end to end: objects loaded into the emulator,
    /// informer-backed discovery started, the case's steps applied once it has published,
    /// and the published groups compared with what Prometheus sent.
    @Test(arguments: KubernetesFixture.all.filter { $0.kinds.isSubset(of: emulatedKinds) })
    func throughEmulator(_ fixture: KubernetesFixture) async throws {
        // No pre-made namespaces: the emulator would label them, and the cases bring their own.
        try await withEmulator(namespaces: []) { emulator, client in
            for object in fixture.objects {
                emulator.seed(ResourceDefinition.forKind(object["kind"]!.stringValue!)!, [object])
            }
            let (_, publications, task) = startDiscovery(
                client: client, configs: ["job": [fixture.config]], ownNamespace: fixture.ownNamespace)
            #expect(await eventually(timeout: 30) { publications.count > 0 }, "first publication")
            for step in fixture.steps {
                let object = step["object"]!
                let resource = ResourceDefinition.forKind(object["kind"]!.stringValue!)!
                switch step["op"]?.stringValue {
                case "delete":
                    try emulator.delete(
                        resource, namespace: object["metadata"]?["namespace"]?.stringValue, name: object["metadata"]!["name"]!.stringValue!)
                default:
                    emulator.seed(resource, [object])
                }
            }
            let expected = expectedGroups(fixture)
            let matched = await eventually(timeout: 30) { differences(publications.groups("job"), expected).isEmpty }
            let problems = differences(publications.groups("job"), expected)
            #expect(matched, "\(fixture.name):\n\(problems.joined(separator: "\n"))")
            task.cancel()
            await task.value
        }
    }
}
