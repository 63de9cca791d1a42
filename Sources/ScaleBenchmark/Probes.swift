import AsyncHTTPClient
import Foundation
import JSON
import NIOConcurrencyHelpers
import NIOCore

/// What a replica's `/status` said at one moment.
struct StatusSample: Sendable {
    var identity: String
    /// When the answer arrived (wall clock).
    var time: Date
    var epoch: UInt64
    var generation: UInt64
    /// When the replica installed the snapshot it serves (its own wall clock, same machine).
    var installedAt: Date
    var isLeader: Bool
    var targets: Int
    var collectors: [String: Int]

    var version: Version { Version(epoch: epoch, generation: generation) }
}

/// A snapshot's place in the order every replica follows: epoch, then generation.
struct Version: Comparable, Hashable, Sendable, CustomStringConvertible {
    var epoch: UInt64
    var generation: UInt64
    static func < (a: Version, b: Version) -> Bool { (a.epoch, a.generation) < (b.epoch, b.generation) }
    var description: String { "\(epoch)/\(generation)" }
}

/// Reads replicas' `/status` over HTTP.
struct StatusClient: Sendable {
    let http: HTTPClient

    func get(port: Int, _ path: String, timeout: Duration = .seconds(5), limit: Int = 1 << 20) async -> (status: UInt, body: ByteBuffer)? {
        let request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        do {
            let response = try await http.execute(request, timeout: .milliseconds(Int64(ms(timeout))))
            return (response.status.code, try await response.body.collect(upTo: limit))
        } catch {
            return nil
        }
    }

    /// nil: no answer, or no snapshot served yet.
    func status(identity: String, port: Int) async -> StatusSample? {
        guard let (code, body) = await get(port: port, "/status"), code == 200, let json = try? JSONValue.parse(body.readableBytesView),
            let epoch = json["epoch"]?.integerValue, let generation = json["generation"]?.integerValue
        else { return nil }
        var collectors: [String: Int] = [:]
        if case .object(let members)? = json["collectors"] {
            for m in members { collectors[m.key] = m.value.integerValue.map { Int($0) } ?? 0 }
        }
        let installed = json["installed_at_millis"]?.integerValue ?? 0
        return StatusSample(
            identity: identity, time: Date(), epoch: UInt64(epoch), generation: UInt64(generation),
            installedAt: Date(timeIntervalSince1970: Double(installed) / 1000), isLeader: json["is_leader"] == .bool(true),
            targets: Int(json["targets"]?.integerValue ?? 0), collectors: collectors)
    }
}

/// Polls every replica's `/status` every few milliseconds for the whole run and keeps each
/// change of the served snapshot: when every replica started serving every generation it saw.
final class StatusPoller: Sendable {
    private let client: StatusClient
    private let replicas = NIOLockedValueBox<[String: Int]>([:])
    private let changes = NIOLockedValueBox<[String: [StatusSample]]>([:])
    private let latest = NIOLockedValueBox<[String: StatusSample]>([:])

    init(client: StatusClient) { self.client = client }

    func add(identity: String, port: Int) { replicas.withLockedValue { $0[identity] = port } }
    func remove(identity: String) { _ = replicas.withLockedValue { $0.removeValue(forKey: identity) } }

    func run(interval: Duration = .milliseconds(25)) async {
        while !Task.isCancelled {
            await withTaskGroup(of: StatusSample?.self) { group in
                for (identity, port) in replicas.withLockedValue({ $0 }) {
                    group.addTask { await self.client.status(identity: identity, port: port) }
                }
                for await sample in group {
                    guard let sample else { continue }
                    latest.withLockedValue { $0[sample.identity] = sample }
                    changes.withLockedValue { all in
                        if let last = all[sample.identity]?.last, last.version == sample.version, last.isLeader == sample.isLeader { return }
                        all[sample.identity, default: []].append(sample)
                    }
                }
            }
            try? await Task.sleep(for: interval)
        }
    }

    func current(_ identity: String) -> StatusSample? { latest.withLockedValue { $0[identity] } }

    /// The first sample in which `identity` served `version` or a later one.
    func firstServing(_ identity: String, atLeast version: Version) -> StatusSample? {
        changes.withLockedValue { $0[identity]?.first { $0.version >= version } }
    }

    /// Waits until `condition` holds for the latest samples, or the deadline.
    func wait(timeout: Duration, _ condition: ([String: StatusSample]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(latest.withLockedValue({ $0 })) { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }
}

/// Polls the surviving replicas' SD route as a collector would, across a failover: every
/// answer must be 200 and complete (as many targets as `/status` says that collector has,
/// in the same snapshot).
final class SurvivorPoller: Sendable {
    struct Tally: Sendable {
        var answered = 0
        var complete = 0
        /// The snapshot changed between the two `/status` reads around an answer: not judged.
        var raced = 0
        var failed = 0
        /// The first few failures, for the report.
        var examples: [String] = []
    }
    private let client: StatusClient
    private let tally = NIOLockedValueBox(Tally())

    init(client: StatusClient) { self.client = client }

    var result: Tally { tally.withLockedValue { $0 } }

    func run(survivors: [(identity: String, port: Int)], job: String, collectors: [String]) async {
        await withTaskGroup(of: Void.self) { group in
            for survivor in survivors {
                group.addTask {
                    var round = 0
                    while !Task.isCancelled {
                        await self.poll(survivor.identity, port: survivor.port, job: job, collector: collectors[round % max(1, collectors.count)])
                        round += 1
                        try? await Task.sleep(for: .milliseconds(100))
                    }
                }
            }
        }
    }

    private func poll(_ identity: String, port: Int, job: String, collector: String) async {
        let before = await client.status(identity: identity, port: port)
        let answer = await client.get(port: port, "/jobs/\(job)/targets?collector_id=\(collector)", limit: 256 << 20)
        let after = await client.status(identity: identity, port: port)
        if Task.isCancelled { return }
        tally.withLockedValue { t in
            t.answered += 1
            func fail(_ why: String) {
                t.failed += 1
                if t.examples.count < 5 { t.examples.append("\(identity) \(collector): \(why)") }
            }
            guard let answer else { return fail("no answer") }
            guard answer.status == 200 else { return fail("status \(answer.status)") }
            guard let before, let after else { return fail("/status has no snapshot") }
            guard before.version == after.version else {
                t.raced += 1
                return
            }
            let expected = before.collectors[collector] ?? 0
            let groups = Self.count(#"{"targets":"#, in: answer.body)
            guard groups == expected else { return fail("\(groups) of \(expected) targets in \(before.version)") }
            t.complete += 1
        }
    }

    /// Occurrences of `needle` in the body (each target is one group of an HTTP SD answer).
    static func count(_ needle: String, in buffer: ByteBuffer) -> Int {
        let pattern = Array(needle.utf8)
        return buffer.withUnsafeReadableBytes { bytes in
            var n = 0
            var i = 0
            let last = bytes.count - pattern.count
            while i <= last {
                if bytes[i] == pattern[0], memcmp(bytes.baseAddress! + i, pattern, pattern.count) == 0 {
                    n += 1
                    i += pattern.count
                } else {
                    i += 1
                }
            }
            return n
        }
    }
}
