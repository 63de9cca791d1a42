import Foundation
import JSON
public import Snapshot
import SwiftProtobuf

/// Snapshot ⇄ compressed protobuf bytes. Strings are interned so each label name and value
/// is stored once, which is what keeps big snapshots small.
public enum SnapshotCodec {
    public enum DecodeError: Error, CustomStringConvertible {
        case corrupt(String)
        public var description: String {
            switch self {
            case .corrupt(let m): "corrupt snapshot: \(m)"
            }
        }
    }

    /// Decoded snapshots larger than this are refused (a sanity bound, far above real sizes).
    public static let maxUncompressedSize = 1 << 30

    public static func encode(_ snapshot: Snapshot) throws -> (compressed: [UInt8], uncompressedSize: Int) {
        var strings: [String] = []
        var index: [String: UInt32] = [:]
        func intern(_ s: String) -> UInt32 {
            if let i = index[s] { return i }
            let i = UInt32(strings.count)
            strings.append(s)
            index[s] = i
            return i
        }
        var message = Targetallocator_Snapshot_V1_Snapshot()
        message.epoch = snapshot.epoch
        message.generation = snapshot.generation
        message.createdAtMs = snapshot.createdAtMillis
        message.leader = snapshot.leader
        var collectorIndex: [String: UInt32] = [:]
        message.collectors = snapshot.collectors.enumerated().map { i, c in
            collectorIndex[c.name] = UInt32(i) + 1
            var m = Targetallocator_Snapshot_V1_Collector()
            m.name = intern(c.name)
            m.node = c.node.map { intern($0) + 1 } ?? 0
            return m
        }
        var jobIndex: [String: UInt32] = [:]
        message.jobs = snapshot.jobs.map { job in
            jobIndex[job.name] = intern(job.name)
            var m = Targetallocator_Snapshot_V1_Job()
            m.name = intern(job.name)
            var json: [UInt8] = []
            job.scrapeConfig.write(into: &json)
            m.scrapeConfigJson = Data(json)
            return m
        }
        message.targets.reserveCapacity(snapshot.targets.count)
        for t in snapshot.targets {
            var m = Targetallocator_Snapshot_V1_Target()
            m.job = jobIndex[t.job] ?? intern(t.job)
            m.labels.reserveCapacity(t.labels.count * 2)
            for label in t.labels {
                m.labels.append(intern(label.name))
                m.labels.append(intern(label.value))
            }
            m.collector = t.collector.flatMap { collectorIndex[$0] } ?? 0
            message.targets.append(m)
        }
        message.strings = strings
        let bytes: [UInt8] = try message.serializedBytes()
        return (try Deflate.compress(bytes), bytes.count)
    }

    public static func decode(_ compressed: [UInt8], uncompressedSize: Int) throws -> Snapshot {
        let bytes: [UInt8]
        do {
            bytes = try Deflate.decompress(compressed, expectedSize: uncompressedSize, limit: maxUncompressedSize)
        } catch {
            throw DecodeError.corrupt("decompression failed: \(error)")
        }
        let message: Targetallocator_Snapshot_V1_Snapshot
        do {
            message = try Targetallocator_Snapshot_V1_Snapshot(serializedBytes: bytes)
        } catch {
            throw DecodeError.corrupt("protobuf: \(error)")
        }
        let strings = message.strings
        func string(_ i: UInt32, _ what: String) throws -> String {
            guard Int(i) < strings.count else { throw DecodeError.corrupt("\(what) refers to string \(i) of \(strings.count)") }
            return strings[Int(i)]
        }
        let collectors = try message.collectors.map { c in
            Collector(name: try string(c.name, "collector name"), node: c.node == 0 ? nil : try string(c.node - 1, "collector node"))
        }
        let jobs = try message.jobs.map { j in
            let config: JSONValue
            do { config = try JSONValue.parse(Array(j.scrapeConfigJson)) } catch {
                throw DecodeError.corrupt("scrape config of job \(j.name): \(error)")
            }
            return Job(name: try string(j.name, "job name"), scrapeConfig: config)
        }
        var targets: [Target] = []
        targets.reserveCapacity(message.targets.count)
        for t in message.targets {
            guard t.labels.count % 2 == 0 else { throw DecodeError.corrupt("a target has an odd label list") }
            var pairs: [(String, String)] = []
            pairs.reserveCapacity(t.labels.count / 2)
            var i = 0
            while i < t.labels.count {
                pairs.append((try string(t.labels[i], "label name"), try string(t.labels[i + 1], "label value")))
                i += 2
            }
            var collector: String?
            if t.collector != 0 {
                guard Int(t.collector) <= collectors.count else { throw DecodeError.corrupt("target refers to collector \(t.collector)") }
                collector = collectors[Int(t.collector) - 1].name
            }
            targets.append(Target(job: try string(t.job, "target job"), labels: Labels(presorted: pairs), collector: collector))
        }
        let snapshot = Snapshot(
            epoch: message.epoch, generation: message.generation, createdAtMillis: message.createdAtMs, leader: message.leader,
            collectors: collectors, jobs: jobs, targets: targets)
        let problems = snapshot.problems()
        guard problems.isEmpty else { throw DecodeError.corrupt(problems.prefix(5).joined(separator: "; ")) }
        return snapshot
    }
}
