import Discovery
import Foundation
import JSON
import KubernetesClient
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
