import Foundation
import JSON
import KubernetesClient
import NIOHTTP1
import NIOConcurrencyHelpers
import SampleWorkload

/// One pod change of the churn phase, and how the audit log will name its decisive write.
struct PodChange: Sendable {
    enum Kind: Sendable {
        /// A new pod, created and then reported Running (the status write makes it a target).
        case added
        /// A seeded pod re-annotated `prometheus.io/scrape: "false"` (a merge patch).
        case unannotated
        case deleted
    }
    var kind: Kind
    var index: Int
    var namespace: String
    var name: String
    /// The target it adds or removes (`__address__`, as bytes).
    var address: [UInt8]

    /// Matches `auditKey(of:)` for the write that makes the change.
    var auditKey: String {
        switch kind {
        case .added: "update|status|\(namespace)/\(name)"
        case .unannotated: "patch||\(namespace)/\(name)"
        case .deleted: "delete||\(namespace)/\(name)"
        }
    }

    var addsTarget: Bool { kind == .added }

    /// Half new scraped pods, half seeded scraped pods that stop being scraped (alternately
    /// re-annotated and deleted), interleaved; the seeded ones in a scattered order.
    static func plan(_ workload: ScaleWorkload, count: Int) -> [PodChange] {
        var stride = 7919
        while gcd(stride, workload.pods) != 1 { stride += 2 }
        var removable: [Int] = []
        var m = 0
        while removable.count < (count + 1) / 2, m < workload.pods {
            let i = (m * stride) % workload.pods
            if workload.isScraped(seeded: i) { removable.append(i) }
            m += 1
        }
        var changes: [PodChange] = []
        changes.reserveCapacity(count)
        for k in 0..<count {
            let j = k / 2
            let (kind, index): (Kind, Int)
            if k % 2 == 0 {
                (kind, index) = (.added, workload.pods + j)
            } else {
                guard j < removable.count else { break }
                (kind, index) = (j % 2 == 0 ? .unannotated : .deleted, removable[j])
            }
            changes.append(
                PodChange(
                    kind: kind, index: index, namespace: workload.namespace(of: index), name: workload.name(of: index),
                    address: Array(workload.address(of: index).utf8)))
        }
        return changes
    }

    private static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
}

/// The key `PodChange.auditKey` names, read from an audit entry.
func auditKey(verb: String, subresource: String?, namespace: String?, name: String) -> String {
    "\(verb)|\(subresource ?? "")|\(namespace ?? "")/\(name)"
}

/// Makes the changes through the API at a fixed rate, as clients would (HTTP writes by
/// several workers); a worker that falls behind schedule goes on at once, so the achieved rate
/// shows whether the API server kept up.
struct ChurnGenerator: Sendable {
    let client: KubernetesClient
    let workload: ScaleWorkload
    var workers = 48

    struct Outcome: Sendable {
        var failed: [Int: String] = [:]
        /// Request → answer of every write, in milliseconds.
        var writeLatencies: [Double] = []
        var writes = 0
        var elapsed: Duration = .zero
    }

    func run(_ plan: [PodChange], perSecond rate: Double) async -> Outcome {
        let next = NIOLockedValueBox(0)
        let outcome = NIOLockedValueBox(Outcome())
        let start = ContinuousClock.now
        await withDiscardingTaskGroup { group in
            for _ in 0..<workers {
                group.addTask {
                    while true {
                        let k = next.withLockedValue { n in
                            defer { n += 1 }
                            return n
                        }
                        guard k < plan.count else { return }
                        let due = start + .milliseconds(Int64(Double(k) * 1000 / rate))
                        if due > ContinuousClock.now { try? await Task.sleep(until: due) }
                        let (latencies, error) = await perform(plan[k])
                        outcome.withLockedValue { o in
                            o.writeLatencies += latencies
                            o.writes += latencies.count
                            if let error { o.failed[k] = error }
                        }
                    }
                }
            }
        }
        var result = outcome.withLockedValue { $0 }
        result.elapsed = ContinuousClock.now - start
        return result
    }

    private func perform(_ change: PodChange) async -> ([Double], String?) {
        let pods = "/api/v1/namespaces/\(change.namespace)/pods"
        var latencies: [Double] = []
        func send(_ method: HTTPMethod, _ path: String, _ body: JSONValue?, contentType: String = "application/json") async throws {
            let began = ContinuousClock.now
            var bytes: [UInt8] = []
            body?.write(into: &bytes)
            _ = try await client.send(method, path, body: body == nil ? nil : Data(bytes), contentType: contentType)
            latencies.append(ms(ContinuousClock.now - began))
        }
        do {
            switch change.kind {
            case .added:
                try await send(.POST, pods, workload.pod(change.index, scraped: true))
                try await send(.PUT, "\(pods)/\(change.name)/status", workload.runningPod(change.index, scraped: true))
            case .unannotated:
                let patch = JSONValue.object([
                    JSONMember("metadata", .object([JSONMember("annotations", .object([JSONMember("prometheus.io/scrape", .string("false"))]))]))
                ])
                try await send(.PATCH, "\(pods)/\(change.name)", patch, contentType: "application/merge-patch+json")
            case .deleted:
                try await send(.DELETE, "\(pods)/\(change.name)", nil)
            }
            return (latencies, nil)
        } catch {
            return (latencies, "\(error)")
        }
    }
}
