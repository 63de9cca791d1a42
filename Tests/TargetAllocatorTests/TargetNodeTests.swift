import Snapshot
import Testing

@testable import TargetAllocator

/// The node of a target for `per-node`. Cases and expectations are upstream's `TestGetNodeName`
/// (opentelemetry-operator `cmd/otel-allocator/internal/target/target_test.go`), plus an empty
/// value, which upstream skips (`val != ""`).
@Suite struct TargetNodeTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var labels: [(String, String)]
        var expected: String?
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "pod node name label", labels: [("__meta_kubernetes_pod_node_name", "node-1")], expected: "node-1"),
        Case(name: "kubernetes node name label", labels: [("__meta_kubernetes_node_name", "node-2")], expected: "node-2"),
        Case(name: "endpoint node name label", labels: [("__meta_kubernetes_endpoint_node_name", "node-3")], expected: "node-3"),
        Case(
            name: "endpointslice target kind Node",
            labels: [
                ("__meta_kubernetes_endpointslice_address_target_kind", "Node"),
                ("__meta_kubernetes_endpointslice_address_target_name", "node-4"),
            ], expected: "node-4"),
        Case(
            name: "endpointslice target kind Pod (not Node)",
            labels: [
                ("__meta_kubernetes_endpointslice_address_target_kind", "Pod"),
                ("__meta_kubernetes_endpointslice_address_target_name", "pod-1"),
            ], expected: nil),
        Case(name: "no node labels", labels: [("app", "test")], expected: nil),
        Case(name: "empty labels", labels: [], expected: nil),
        Case(
            name: "pod node name takes priority",
            labels: [("__meta_kubernetes_pod_node_name", "node-primary"), ("__meta_kubernetes_node_name", "node-secondary")],
            expected: "node-primary"),
        Case(
            name: "an empty node name falls through to the next label",
            labels: [("__meta_kubernetes_pod_node_name", ""), ("__meta_kubernetes_endpoint_node_name", "node-5")], expected: "node-5"),
        Case(
            name: "a kubelet endpoint with a node label and a Node target",
            labels: [
                ("__meta_kubernetes_endpoint_node_name", "node-6"),
                ("__meta_kubernetes_endpointslice_address_target_kind", "Node"),
                ("__meta_kubernetes_endpointslice_address_target_name", "node-7"),
            ], expected: "node-6"),
    ]

    @Test(arguments: cases)
    func nodeName(_ c: Case) {
        #expect(TargetNode.name(of: Labels(c.labels)) == c.expected)
    }
}
