import CZlib
import Foundation
import HTTPServer
import JSON
import NIOCore
import Prometheus
import Snapshot
import TestSupport
import Testing

@testable import ServiceDiscoveryAPI

/// A replica that applies deltas in place (`ServedState`, answers re-rendered only where a
/// delta touched them) must serve exactly what a replica that installed the whole resulting
/// snapshot serves: every route's bytes, both representations, and their ETags. The model is
/// `Snapshot.applying` plus a fresh install; the deltas are random (adds, removals, moves,
/// label changes, collectors and jobs coming and going, canonically equal spellings).
@Suite struct ServedStateTests {
    static let jobNames = ["web", "caf\u{e9}", "cafe\u{301}", "a&b <x>/0"]
    static let collectorPool = ["c-0", "c-1", "c-2", "c-\u{e9}", "c-e\u{301}", "c-5"]

    static func job(_ name: String) -> Job {
        Job(name: name, scrapeConfig: .object([JSONMember("job_name", .string(name)), JSONMember("password", .string("hunter2"))]))
    }

    static func target(_ random: inout SeededRandom, job: String, collectors: [Collector], serial: Int) -> Target {
        let values = ["", "caf\u{e9}", "cafe\u{301}", "<&\"'>", "a\u{2028}b\n", "x", String(repeating: "long-value-", count: 6)]
        var labels: [(String, String)] = [("__address__", "10.\(serial / 65536).\(serial / 256 % 256).\(serial % 256):\(8000 + serial % 7)")]
        labels.append(("__meta_kubernetes_pod_name", "pod-\(serial)"))
        labels.append(("__meta_kubernetes_namespace", "team-\(serial % 5)"))
        labels.append(("value", values[Int(random.next() % UInt64(values.count))]))
        let collector = random.next() % 10 == 0 || collectors.isEmpty ? nil : collectors[Int(random.next() % UInt64(collectors.count))].name
        return Target(job: job, labels: Labels(labels), collector: collector)
    }

    static func responder() -> ServiceDiscoveryResponder {
        ServiceDiscoveryResponder(
            options: .init(identity: "ta-0"), registry: PrometheusCollectorRegistry(), clock: { 1_700_000_000_000 })
    }

    /// Every route of `snapshot`'s jobs and collectors (and a few that are not there).
    static func routes(_ snapshot: Snapshot) -> [String] {
        var routes = ["/jobs", "/scrape_configs", "/status", "/jobs/none/targets", "/jobs/web/targets?collector_id=nobody"]
        for job in jobNames {
            let escaped = GoURLEscaping.queryEscape(job)
            routes.append("/jobs/\(escaped)/targets")
            // The HTML views, from the index made on request.
            routes.append("/debug/job?job_id=\(escaped)")
            for c in collectorPool {
                routes.append("/jobs/\(escaped)/targets?collector_id=\(GoURLEscaping.queryEscape(c))")
                routes.append("/debug/job?job_id=\(escaped)&collector_id=\(GoURLEscaping.queryEscape(c))")
            }
        }
        for c in collectorPool { routes.append("/debug/collector?collector_id=\(GoURLEscaping.queryEscape(c))") }
        return routes
    }

    struct Answer: Equatable {
        var status: UInt
        var identity: [UInt8]
        var identityTag: String?
        var gzipDecoded: [UInt8]?
        var gzipTag: String?
    }

    static func answer(_ r: ServiceDiscoveryResponder, _ target: String) -> Answer {
        let resource = Array(target.utf8).withUnsafeBytes {
            r.respond(to: HTTPRequest(target: $0, version: .http1_1, connection: ConnectionInfo(isTLS: false, clientCertificateVerified: false)))
        }
        return Answer(
            status: UInt(resource.identity.status.code), identity: Array(resource.identity.body.readableBytesView), identityTag: resource.identity.etag,
            gzipDecoded: resource.gzip.map { gunzip(Array($0.body.readableBytesView)) }, gzipTag: resource.gzip?.etag)
    }

    static func gunzip(_ bytes: [UInt8]) -> [UInt8] {
        var stream = z_stream()
        inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        defer { inflateEnd(&stream) }
        var input = bytes
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        input.withUnsafeMutableBufferPointer { inp in
            stream.next_in = inp.baseAddress
            stream.avail_in = UInt32(inp.count)
            while true {
                let status = chunk.withUnsafeMutableBufferPointer { c -> Int32 in
                    stream.next_out = c.baseAddress
                    stream.avail_out = UInt32(c.count)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                out += chunk[0..<(65536 - Int(stream.avail_out))]
                if status != Z_OK { break }
            }
        }
        return out
    }

    /// Async, yielding every round: ~10 s of CPU in a debug build must not hold one of the
    /// cooperative pool's two threads (the rest of the suite's async tests stall behind it).
    @Test func deltasAppliedInPlaceServeWhatAWholeInstallServes() async throws {
        var random = SeededRandom(state: 12)
        var collectors = Array(Self.collectorPool.prefix(4)).map { Collector(name: $0) }
        var jobs = Array(Self.jobNames.prefix(3)).map(Self.job)
        var serial = 0
        var targets: [Target] = []
        for _ in 0..<1500 {
            targets.append(Self.target(&random, job: jobs[Int(random.next() % 3)].name, collectors: collectors, serial: serial))
            serial += 1
        }
        var state = Snapshot(epoch: 1, generation: 1, createdAtMillis: 1, leader: "ta-0", collectors: collectors, jobs: jobs, targets: targets)
        let applying = Self.responder()
        applying.install(state)
        var bigAnswers = 0
        var viewPages = 0

        for round in 0..<40 {
            await Task.yield()
            var delta = SnapshotDelta(epoch: state.epoch, generation: state.generation + 1, createdAtMillis: Int64(round), leader: "ta-0")
            if round == 10 {
                // A new term: an empty delta under the next epoch.
                delta.epoch += 1
                delta.generation = 0
            } else {
                var current = state.targets
                current.shuffle(using: &random)
                let removed = current.prefix(Int(random.next() % 40))
                delta.removed = Array(removed)
                var rest = current.dropFirst(removed.count)
                if round % 7 == 3 {
                    // A collector leaves (its targets move) and another joins.
                    let leaving = collectors.remove(at: Int(random.next() % UInt64(collectors.count)))
                    if let joining = Self.collectorPool.first(where: { name in !collectors.contains { $0.name.utf8.elementsEqual(name.utf8) } && !name.utf8.elementsEqual(leaving.name.utf8) }) {
                        collectors.append(Collector(name: joining, node: "node-\(round)"))
                    }
                    delta.collectors = collectors
                    for t in rest where t.collector.map({ $0.utf8.elementsEqual(leaving.name.utf8) }) == true {
                        delta.upserted.append(Target(job: t.job, labels: t.labels, collector: collectors[Int(random.next() % UInt64(collectors.count))].name))
                    }
                    rest = rest.filter { t in !delta.upserted.contains { $0.labels == t.labels && $0.job.utf8.elementsEqual(t.job.utf8) } }
                }
                if round % 9 == 5, jobs.count < Self.jobNames.count {
                    jobs.append(Self.job(Self.jobNames[jobs.count]))
                    delta.jobs = jobs
                }
                // Moves (including to and from no collector).
                for t in rest.prefix(Int(random.next() % 30)) {
                    let to = random.next() % 6 == 0 ? nil : collectors[Int(random.next() % UInt64(collectors.count))].name
                    if to != t.collector || to.map({ !$0.utf8.elementsEqual(t.collector!.utf8) }) == true {
                        delta.upserted.append(Target(job: t.job, labels: t.labels, collector: to))
                    }
                }
                for _ in 0..<Int(random.next() % 40) {
                    delta.upserted.append(Self.target(&random, job: jobs[Int(random.next() % UInt64(jobs.count))].name, collectors: collectors, serial: serial))
                    serial += 1
                }
            }
            let next = try state.applying(delta)
            #expect(applying.apply(delta, after: (state.epoch, state.generation)), "round \(round): the delta applies")
            let fresh = Self.responder()
            fresh.install(next)
            for route in Self.routes(next) {
                await Task.yield()
                let a = Self.answer(applying, route)
                let b = Self.answer(fresh, route)
                let same = a == b  // not compared inside #expect: it would print both bodies
                #expect(same, "round \(round): \(route) differs: \(a.identity.count) vs \(b.identity.count) bytes, tags \(a.identityTag ?? "-") vs \(b.identityTag ?? "-")")
                if let gz = a.gzipDecoded { #expect(gz == a.identity, "round \(round): \(route) gzip is the identity") }
                if a.identity.count > 16 * 1024 { bigAnswers += 1 }
                if route.hasPrefix("/debug/"), a.status == 200, a.identity.count > 1000 { viewPages += 1 }
            }
            state = next
        }
        #expect(bigAnswers > 0, "some answers are large enough to be kept compressed only")
        #expect(viewPages > 100, "the HTML views were compared")
    }

    @Test func aDeltaThatDoesNotApplyChangesNothingAndTheNextStateMustComeWhole() throws {
        var random = SeededRandom(state: 3)
        let collectors = [Collector(name: "c-0"), Collector(name: "c-1")]
        let targets = (0..<50).map { Self.target(&random, job: "web", collectors: collectors, serial: $0) }
        let state = Snapshot(epoch: 1, generation: 1, createdAtMillis: 1, leader: "ta-0", collectors: collectors, jobs: [Self.job("web")], targets: targets)
        let r = Self.responder()
        r.install(state)
        let before = Self.routes(state).map { Self.answer(r, $0) }

        // Removes a target that is not served (same address, other bytes: é vs e+U+0301).
        var ghost = Labels([("__address__", "10.0.0.1:80"), ("city", "caf\u{e9}")])
        var bad = SnapshotDelta(epoch: 1, generation: 2, createdAtMillis: 2, leader: "ta-0", removed: [Target(job: "web", labels: ghost, collector: "c-0")])
        #expect(!r.apply(bad, after: (1, 1)))
        #expect(r.installed! == (1, 1))
        let unchanged = Self.routes(state).map { Self.answer(r, $0) } == before
        #expect(unchanged, "nothing half-applied is served")

        // A target on a collector the state does not have.
        ghost = Labels([("__address__", "10.9.9.9:80")])
        bad = SnapshotDelta(epoch: 1, generation: 2, createdAtMillis: 2, leader: "ta-0", upserted: [Target(job: "web", labels: ghost, collector: "c-9")])
        #expect(!r.apply(bad, after: (1, 1)))

        // A good delta now does not apply either (the state was dropped), a whole snapshot does.
        let good = SnapshotDelta(epoch: 1, generation: 2, createdAtMillis: 2, leader: "ta-0", removed: [targets[0]])
        #expect(!r.apply(good, after: (1, 1)))
        let next = try state.applying(good)
        #expect(r.installIfNewer(next))
        let fresh = Self.responder()
        fresh.install(next)
        let same = Self.routes(next).map { Self.answer(r, $0) } == Self.routes(next).map { Self.answer(fresh, $0) }
        #expect(same, "the whole snapshot is served as a fresh replica serves it")
        // And deltas apply again after it.
        let third = SnapshotDelta(epoch: 1, generation: 3, createdAtMillis: 3, leader: "ta-0", removed: [targets[1]])
        #expect(r.apply(third, after: (1, 2)))
    }

    @Test func aCollectorThatLeavesWithTargetsIsRefused() throws {
        let collectors = [Collector(name: "c-0"), Collector(name: "c-1")]
        let t = Target(job: "web", labels: Labels([("__address__", "a:1")]), collector: "c-1")
        let state = Snapshot(epoch: 1, generation: 1, createdAtMillis: 1, leader: "ta-0", collectors: collectors, jobs: [Self.job("web")], targets: [t])
        var served = ServedState(state)
        #expect(throws: SnapshotDeltaError.self) {
            try served.apply(SnapshotDelta(epoch: 1, generation: 2, createdAtMillis: 2, leader: "ta-0", collectors: [collectors[0]]))
        }
        #expect((try? state.applying(SnapshotDelta(epoch: 1, generation: 2, createdAtMillis: 2, leader: "ta-0", collectors: [collectors[0]]))) == nil,
            "the model refuses it too")
    }
}
