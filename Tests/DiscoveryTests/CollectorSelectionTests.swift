import Discovery
import Foundation
import KubernetesClient
import Snapshot
import Testing

/// Which pods receive targets. Upstream (`collector.Watcher.isPodUnhealthy`): with
/// `collector_not_ready_grace_period: 0s` readiness is not checked at all, and pods without a
/// node are never collectors. Ours also drops a pod being deleted at once.
@Suite struct CollectorSelectionTests {
    static func pod(_ name: String, node: String? = "node-1", phase: String, ready: Bool, deleting: Bool = false) -> Pod {
        var metadata = ObjectMeta(name: name, namespace: "observability")
        if deleting { metadata.deletionTimestamp = KubeTime(Date()) }
        return Pod(
            metadata: metadata, spec: .init(nodeName: node),
            status: .init(phase: phase, conditions: [.init(type: "Ready", status: ready ? "True" : "False")]))
    }

    static let pods = [
        pod("ready", phase: "Running", ready: true), pod("starting", phase: "Running", ready: false), pod("pending", phase: "Pending", ready: false),
        pod("unscheduled", node: nil, phase: "Pending", ready: false), pod("deleting", phase: "Running", ready: true, deleting: true),
    ]

    @Test func zeroGracePeriodTurnsTheReadinessCheckOff() {
        var selection = CollectorSelection(gracePeriod: .zero)
        let now = ContinuousClock().now
        #expect(selection.collectors(from: Self.pods, now: now).map(\.name) == ["pending", "ready", "starting"])
    }

    @Test func aGracePeriodKeepsOnlyHealthyPodsAndThoseThatJustStopped() {
        var selection = CollectorSelection(gracePeriod: .seconds(30))
        let start = ContinuousClock().now
        #expect(selection.collectors(from: Self.pods, now: start).map(\.name) == ["ready"])
        let stopped = [Self.pod("ready", phase: "Running", ready: false)]
        #expect(selection.collectors(from: stopped, now: start + .seconds(29)).map(\.name) == ["ready"])
        #expect(selection.collectors(from: stopped, now: start + .seconds(31)).isEmpty)
    }
}
