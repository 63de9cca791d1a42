import JSON

/// The JSON form of a snapshot: what `--snapshot-file` loads and what tests and
/// benchmarks write. (The ConfigMap store uses the binary form in `proto/`.)
///
/// ```json
/// {"epoch": 1, "generation": 3, "leader": "ta-0", "created_at_ms": 1764000000000,
///  "collectors": [{"name": "collector-0", "node": "node-a"}],
///  "jobs": [{"name": "app", "scrape_config": {"job_name": "app", "scrape_interval": "30s"}}],
///  "targets": [{"job": "app", "collector": "collector-0", "labels": {"__address__": "10.0.0.1:8080"}}]}
/// ```
public enum SnapshotJSON {
    public struct DecodingError: Error, CustomStringConvertible {
        public let problems: [String]
        public var description: String { "invalid snapshot:\n  " + problems.joined(separator: "\n  ") }
    }

    public static func decode(_ bytes: some Collection<UInt8>) throws -> Snapshot {
        let root: JSONValue
        do {
            root = try JSONValue.parse(bytes)
        } catch {
            throw DecodingError(problems: [error.description])
        }
        var problems: [String] = []
        func uint(_ key: String) -> UInt64 {
            guard let v = root[key] else { return 0 }
            guard case .number(let text) = v, let n = UInt64(text) else {
                problems.append("\(key): must be a non-negative integer")
                return 0
            }
            return n
        }
        func array(_ value: JSONValue?, _ path: String) -> [JSONValue] {
            guard let value else { return [] }
            guard case .array(let items) = value else {
                problems.append("\(path): must be an array")
                return []
            }
            return items
        }
        func string(_ value: JSONValue?, _ path: String, optional: Bool = false) -> String? {
            switch value {
            case .string(let s)?: return s
            case nil, .null?:
                if !optional { problems.append("\(path): required string") }
                return nil
            default:
                problems.append("\(path): must be a string")
                return nil
            }
        }
        guard case .object = root else { throw DecodingError(problems: ["snapshot: must be a JSON object"]) }
        let epoch = uint("epoch")
        let generation = uint("generation")
        let created = Int64(clamping: uint("created_at_ms"))
        let leader = string(root["leader"], "leader", optional: true) ?? ""
        let collectors = array(root["collectors"], "collectors").enumerated().map { i, c in
            Collector(
                name: string(c["name"], "collectors[\(i)].name") ?? "",
                node: string(c["node"], "collectors[\(i)].node", optional: true))
        }
        let jobs = array(root["jobs"], "jobs").enumerated().map { i, j in
            Job(name: string(j["name"], "jobs[\(i)].name") ?? "", scrapeConfig: j["scrape_config"] ?? .object([]))
        }
        let targets = array(root["targets"], "targets").enumerated().map { i, t -> Target in
            var labels: [(String, String)] = []
            if case .object(let members)? = t["labels"] {
                for m in members {
                    if let v = string(m.value, "targets[\(i)].labels.\(m.key)") { labels.append((m.key, v)) }
                }
            } else {
                problems.append("targets[\(i)].labels: must be an object")
            }
            return Target(
                job: string(t["job"], "targets[\(i)].job") ?? "", labels: Labels(labels),
                collector: string(t["collector"], "targets[\(i)].collector", optional: true))
        }
        let snapshot = Snapshot(
            epoch: epoch, generation: generation, createdAtMillis: created, leader: leader, collectors: collectors, jobs: jobs,
            targets: targets)
        problems += snapshot.problems()
        if !problems.isEmpty { throw DecodingError(problems: problems) }
        return snapshot
    }

    public static func encode(_ snapshot: Snapshot) -> [UInt8] {
        func str(_ s: String) -> JSONValue { .string(s) }
        let root = JSONValue.object([
            JSONMember("epoch", .number(String(snapshot.epoch))),
            JSONMember("generation", .number(String(snapshot.generation))),
            JSONMember("created_at_ms", .number(String(snapshot.createdAtMillis))),
            JSONMember("leader", str(snapshot.leader)),
            JSONMember(
                "collectors",
                .array(
                    snapshot.collectors.map { c in
                        .object([JSONMember("name", str(c.name))] + (c.node.map { [JSONMember("node", str($0))] } ?? []))
                    })),
            JSONMember(
                "jobs", .array(snapshot.jobs.map { .object([JSONMember("name", str($0.name)), JSONMember("scrape_config", $0.scrapeConfig)]) })),
            JSONMember(
                "targets",
                .array(
                    snapshot.targets.map { t in
                        .object(
                            [JSONMember("job", str(t.job))] + (t.collector.map { [JSONMember("collector", str($0))] } ?? [])
                                + [JSONMember("labels", .object(t.labels.map { JSONMember($0.name, str($0.value)) }))])
                    })),
        ])
        var out: [UInt8] = []
        root.write(into: &out)
        out.append(0x0a)
        return out
    }
}
