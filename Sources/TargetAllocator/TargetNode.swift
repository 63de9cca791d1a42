import ByteStrings
import Snapshot

/// The node a discovered target runs on, for the `per-node` strategy. Same rule as the upstream
/// allocator's `Item.GetNodeName` (`internal/target/target.go`, its #2720): the first non-empty
/// of the pod, node and endpoint node-name labels; otherwise, for an EndpointSlice endpoint whose
/// target is a Node (kubelet, cAdvisor), that Node's name. Names and values are compared as
/// bytes, never as Unicode-equivalent strings.
enum TargetNode {
    static let nodeNameLabels = ["__meta_kubernetes_pod_node_name", "__meta_kubernetes_node_name", "__meta_kubernetes_endpoint_node_name"]
    static let sliceTargetKind = "__meta_kubernetes_endpointslice_address_target_kind"
    static let sliceTargetName = "__meta_kubernetes_endpointslice_address_target_name"

    /// nil when the labels name no node.
    static func name(of labels: Labels) -> String? {
        for name in nodeNameLabels {
            if let value = value(labels, name), !value.isEmpty { return value }
        }
        guard let kind = value(labels, sliceTargetKind), kind.utf8.elementsEqual("Node".utf8),
            let node = value(labels, sliceTargetName), !node.isEmpty
        else { return nil }
        return node
    }

    private static func value(_ labels: Labels, _ name: String) -> String? {
        labels.first { $0.name.bytesEqual(name) }?.value
    }
}
