import Discovery
import Foundation
import JSON
import KubernetesClient
import Testing

/// One Kubernetes SD test vector from `../shared/fixtures/kubernetes-sd/` (Prometheus's own
/// discovery tests as data; see that folder's README).
struct KubernetesFixture: Sendable, CustomTestStringConvertible {
    var name: String
    var json: JSONValue

    var testDescription: String { name }

    /// The fixture folder beside the repository, when present (or `KSD_FIXTURES`).
    static let directory: URL? = {
        if let env = ProcessInfo.processInfo.environment["KSD_FIXTURES"] { return URL(fileURLWithPath: env) }
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let dir = repo.deletingLastPathComponent().appendingPathComponent("shared/fixtures/kubernetes-sd")
        return FileManager.default.fileExists(atPath: dir.path) ? dir : nil
    }()

    static let all: [KubernetesFixture] = {
        guard let directory, let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return [] }
        return names.filter { $0.hasSuffix(".json") }.sorted().compactMap { file in
            guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(file).path),
                let json = try? JSONValue.parse(Array(data))
            else { return nil }
            return KubernetesFixture(name: String(file.dropLast(5)), json: json)
        }
    }()

    var role: KubernetesRole { KubernetesRole(rawValue: json["role"]?.stringValue ?? "")! }
    var ownNamespace: String { json["config"]?["own_namespace_name"]?.stringValue ?? "" }

    /// The fixture's `config` as a `kubernetes_sd_configs` entry.
    var config: KubernetesSDConfig {
        var members: [JSONMember] = [JSONMember("role", .string(role.rawValue))]
        let c = json["config"] ?? .object([])
        var namespaces: [JSONMember] = []
        if let names = c["namespaces"] { namespaces.append(JSONMember("names", names)) }
        if let own = c["own_namespace"] { namespaces.append(JSONMember("own_namespace", own)) }
        if !namespaces.isEmpty { members.append(JSONMember("namespaces", .object(namespaces))) }
        if let selectors = c["selectors"] { members.append(JSONMember("selectors", selectors)) }
        if let attach = c["attach_metadata"] { members.append(JSONMember("attach_metadata", attach)) }
        var problems: [String] = []
        let config = KubernetesSDConfig(json: .object(members), problems: &problems, path: name)
        #expect(problems.isEmpty, "\(problems)")
        return config!
    }

    var objects: [JSONValue] { json["objects"]?.arrayValue ?? [] }
    var steps: [JSONValue] { json["steps"]?.arrayValue ?? [] }
    var finalObjects: [JSONValue] { json["final_objects"]?.arrayValue ?? objects }
    var kinds: Set<String> { Set((objects + steps.compactMap { $0["object"] }).compactMap { $0["kind"]?.stringValue }) }

    /// Expected groups by source.
    var expected: [String: TargetGroup] {
        guard case .object(let members)? = json["expected"] else { return [:] }
        var out: [String: TargetGroup] = [:]
        for m in members {
            let targets = (m.value["targets"]?.arrayValue ?? []).map(labelSet)
            out[m.key] = TargetGroup(source: m.key, labels: labelSet(m.value["labels"] ?? .object([])), targets: targets)
        }
        return out
    }
}

func labelSet(_ json: JSONValue) -> [String: String] {
    guard case .object(let members) = json else { return [:] }
    var out: [String: String] = [:]
    for m in members { out[m.key] = m.value.stringValue ?? "" }
    return out
}

extension JSONValue {
    var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }
}

/// Decodes a Kubernetes API JSON object into a typed one.
func decode<T: Decodable>(_ type: T.Type, _ json: JSONValue) throws -> T {
    try JSONDecoder().decode(T.self, from: Data(json.serialized.utf8))
}

/// Sorts API objects into the typed collections discovery reads.
func kubernetesObjects(_ items: [JSONValue]) throws -> KubernetesObjects {
    var objects = KubernetesObjects()
    for item in items {
        switch item["kind"]?.stringValue {
        case "Pod": objects.pods.append(try decode(Pod.self, item))
        case "Service": objects.services.append(try decode(Service.self, item))
        case "Endpoints": objects.endpoints.append(try decode(Endpoints.self, item))
        case "EndpointSlice": objects.endpointSlices.append(try decode(EndpointSlice.self, item))
        case "Node": objects.nodes.append(try decode(Node.self, item))
        case "Namespace": objects.namespaces.append(try decode(Namespace.self, item))
        case "ReplicaSet": objects.replicaSets.append(try decode(ReplicaSet.self, item))
        case "Job": objects.jobs.append(try decode(BatchJob.self, item))
        default: break  // Deployments and CronJobs are not read, as in Prometheus.
        }
    }
    return objects
}

/// Differences between what discovery produced and what Prometheus sent (empty when equal).
/// An expected group with neither labels nor targets ("Prometheus sent an empty group") matches
/// an absent or empty group; every other group must match exactly, targets in order.
func differences(_ actual: [TargetGroup], _ expected: [String: TargetGroup]) -> [String] {
    var problems: [String] = []
    var bySource: [String: TargetGroup] = [:]
    for g in actual {
        if bySource[g.source] != nil { problems.append("\(g.source): produced twice") }
        bySource[g.source] = g
    }
    for (source, want) in expected.sorted(by: { $0.key < $1.key }) {
        let got = bySource[source]
        if want.isEmpty {
            if let got, !got.isEmpty { problems.append("\(source): expected nothing, got \(describe(got))") }
            continue
        }
        guard let got else {
            problems.append("\(source): missing; expected \(describe(want))")
            continue
        }
        if got.labels != want.labels {
            problems.append("\(source): group labels differ:\n\(diff(got.labels, want.labels))")
        }
        if got.targets.count != want.targets.count {
            problems.append("\(source): \(got.targets.count) targets, expected \(want.targets.count): got \(got.targets), want \(want.targets)")
        } else {
            for (i, (g, w)) in zip(got.targets, want.targets).enumerated() where g != w {
                problems.append("\(source): target \(i) differs:\n\(diff(g, w))")
            }
        }
    }
    for (source, got) in bySource where expected[source] == nil && !got.isEmpty {
        problems.append("\(source): unexpected group \(describe(got))")
    }
    return problems
}

func describe(_ g: TargetGroup) -> String { "labels \(g.labels.sorted { $0.key < $1.key }) targets \(g.targets)" }

func diff(_ got: [String: String], _ want: [String: String]) -> String {
    var lines: [String] = []
    for key in Set(got.keys).union(want.keys).sorted() where got[key] != want[key] {
        lines.append("  \(key): got \(got[key].map { "\"\($0)\"" } ?? "nil"), want \(want[key].map { "\"\($0)\"" } ?? "nil")")
    }
    return lines.joined(separator: "\n")
}
