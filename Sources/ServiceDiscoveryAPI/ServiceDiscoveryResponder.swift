import ByteStrings
public import HTTPServer
import NIOConcurrencyHelpers
import NIOCore
public import Prometheus
public import Snapshot
import JSON

#if canImport(Glibc)
import Glibc
#endif

/// The upstream-compatible SD API (`/scrape_configs`, `/jobs`, `/jobs/{job}/targets`,
/// `/livez`, `/readyz`, `/metrics`) plus `/status`, served from the installed snapshot.
///
/// Until a snapshot is installed the SD routes answer 503, not an empty list: Prometheus
/// keeps its previous targets on an error but would drop them all on `[]`.
public final class ServiceDiscoveryResponder: HTTPResponder {
    public struct Options: Sendable {
        /// This replica's identity, reported by `/status`.
        public var identity: String
        /// Serve secrets in `/scrape_configs` to clients without a verified certificate.
        public var allowInsecureAuthSecrets: Bool
        /// The leader's strategy, for the HTML views (nil: not known, nothing drawn).
        public var allocation: AllocationDescription?

        public init(identity: String, allowInsecureAuthSecrets: Bool = false, allocation: AllocationDescription? = nil) {
            self.identity = identity
            self.allowInsecureAuthSecrets = allowInsecureAuthSecrets
            self.allocation = allocation
        }
    }

    /// The served snapshot and when it was installed (Unix ms; `/status` reports it so a
    /// benchmark can time propagation without polling faster than snapshots change).
    private let current = NIOLockedValueBox<(rendered: RenderedSnapshot, installedAtMillis: Int64)?>(nil)
    /// The state the rendered answers come from, which deltas change in place. Its lock also
    /// orders installers: one whole snapshot or delta at a time (requests read `current` only).
    /// nil after a delta failed to apply: the next generation must come whole.
    private let state = NIOLockedValueBox<ServedState?>(nil)
    private let options: Options
    private let registry: PrometheusCollectorRegistry
    private let leadership: @Sendable () -> (leader: String?, isLeader: Bool)
    private let clock: @Sendable () -> Int64
    private let served: ServedMetrics
    /// Leadership changes and commits as this replica saw them, for `/`.
    let history = ClusterHistory()

    private static let livez = HTTPResource.text(.ok, "ok\n")
    private static let ready = HTTPResource.text(.ok, "ok\n")
    private static let notReady = HTTPResource.json(.serviceUnavailable, #"{"error":"no snapshot loaded yet"}"# + "\n")
    private static let notFound = HTTPResource.json(.notFound, #"{"error":"not found"}"# + "\n")
    private static let badJob = HTTPResource.json(.badRequest, #"{"error":"invalid escaping in job name"}"# + "\n")

    /// - Parameters:
    ///   - leadership: who leads now, as this replica knows it (from the Lease).
    ///   - clock: Unix time in milliseconds (injected so tests control snapshot age).
    public init(
        options: Options, registry: PrometheusCollectorRegistry,
        leadership: @escaping @Sendable () -> (leader: String?, isLeader: Bool) = { (nil, false) },
        clock: @escaping @Sendable () -> Int64 = ServiceDiscoveryResponder.unixMillis
    ) {
        self.options = options
        self.registry = registry
        self.leadership = leadership
        self.clock = clock
        served = ServedMetrics(registry: registry)
    }

    /// Renders and installs a snapshot. Rendering is CPU work proportional to the snapshot:
    /// call it off the event loops. Requests see the old or the new snapshot, never a mix.
    public func install(_ snapshot: Snapshot) {
        _ = swap(to: ServedState(snapshot), if: { _ in true })
    }

    /// Installs `snapshot` only if it is newer (epoch, then generation) than the one served;
    /// atomic against concurrent installers, so the served snapshot never goes back.
    @discardableResult
    public func installIfNewer(_ snapshot: Snapshot) -> Bool {
        if let served = installed, (snapshot.epoch, snapshot.generation) <= (served.epoch, served.generation) { return false }
        return swap(to: ServedState(snapshot), if: { served in served.map { ($0.epoch, $0.generation) < (snapshot.epoch, snapshot.generation) } ?? true })
    }

    /// Applies `delta` if the served snapshot is exactly `after` (the generation the delta
    /// follows); false otherwise, or when the delta does not apply to it (then the state is
    /// dropped and only a whole snapshot installs next). Costs what the delta touches.
    /// - Parameter failure: told why, when the delta was for the served generation and did not apply.
    @discardableResult
    public func apply(
        _ delta: SnapshotDelta, after: (epoch: UInt64, generation: UInt64), failure: (SnapshotDeltaError) -> Void = { _ in }
    ) -> Bool {
        let done: (RenderedSnapshot, RenderedSnapshot?, SnapshotDiff)? = state.withLockedValue { state -> (RenderedSnapshot, RenderedSnapshot?, SnapshotDiff)? in
            guard var served = state, (served.epoch, served.generation) == after,
                let old = current.withLockedValue({ $0?.rendered }), (old.epoch, old.generation) == after
            else { return nil }
            state = nil  // the only reference now: the delta changes it in place
            let applied: ServedState.Applied
            do throws(SnapshotDeltaError) { applied = try served.apply(delta) } catch {
                failure(error)
                return nil
            }
            let rendered = RenderedSnapshot(served, reusing: old, changed: applied.changed, jobsChanged: applied.jobsChanged)
            state = served
            current.withLockedValue { $0 = (rendered, clock()) }
            return (rendered, old, applied.diff)
        }
        guard let (rendered, old, diff) = done else { return false }
        history.installed(rendered, replacing: old, diff: diff)
        return true
    }

    /// Renders `served` and installs it if `condition` holds for the served one at the swap.
    private func swap(to served: ServedState, if condition: (RenderedSnapshot?) -> Bool) -> Bool {
        let rendered = RenderedSnapshot(served, reusing: nil, changed: nil, jobsChanged: true)
        let done: (RenderedSnapshot?, SnapshotDiff?)? = state.withLockedValue { state in
            let old = current.withLockedValue { $0?.rendered }
            guard condition(old) else { return nil }
            let diff = state.map { served.diff(from: $0) }
            state = served
            current.withLockedValue { $0 = (rendered, clock()) }
            return (old, old == nil ? nil : diff)
        }
        guard let (old, diff) = done else { return false }
        history.installed(rendered, replacing: old, diff: diff)
        return true
    }

    /// Samples who holds the Lease every `interval` until cancelled, so `/` can tell when the
    /// leader changed (the elector only reports the present).
    public func followLeadership(every interval: Duration) async {
        while !Task.isCancelled {
            history.observe(leader: leadership().leader, nowMillis: clock())
            try? await Task.sleep(for: interval)
        }
    }

    /// The installed snapshot's epoch and generation, if any.
    public var installed: (epoch: UInt64, generation: UInt64)? {
        current.withLockedValue { $0.map { ($0.rendered.epoch, $0.rendered.generation) } }
    }

    public func respond(to request: HTTPRequest) -> HTTPResource {
        let started = ContinuousClock.now
        let (resource, route) = answer(request)
        served.durations[route.rawValue].record(ContinuousClock.now - started)
        return resource
    }

    private func answer(_ request: HTTPRequest) -> (HTTPResource, Route) {
        let installed = current.withLockedValue { $0 }
        let rendered = installed?.rendered
        if request.acceptsHTML || hasPrefix(request.target, "/debug/"), let view = htmlView(request, rendered) {
            return view
        }
        if let hit = rendered?.routes.lookup(request.target) {
            // The table holds `/jobs` and `/jobs/{job}/targets…`.
            return (hit, request.target.count > 5 ? .jobTargets : .jobs)
        }
        let path = request.path
        if equals(path, "/") { return (page(rendered), .root) }
        if equals(path, "/livez") { return (Self.livez, .livez) }
        if equals(path, "/readyz") { return (rendered == nil ? Self.notReady : Self.ready, .readyz) }
        if equals(path, "/metrics") { return (metrics(rendered), .metrics) }
        if equals(path, "/status") { return (status(rendered, installedAtMillis: installed?.installedAtMillis), .status) }
        if equals(path, "/scrape_configs") {
            guard let rendered else { return (Self.notReady, .scrapeConfigs) }
            let secrets = request.connection.clientCertificateVerified || options.allowInsecureAuthSecrets
            return (secrets ? rendered.scrapeConfigsWithSecrets : rendered.scrapeConfigs, .scrapeConfigs)
        }
        if equals(path, "/jobs") { return (rendered?.jobs ?? Self.notReady, .jobs) }
        if path.count > 14, hasPrefix(path, "/jobs/"), hasSuffix(path, "/targets") {
            guard let rendered else { return (Self.notReady, .jobTargets) }
            return (targets(rendered, path: path, query: request.query), .jobTargets)
        }
        return (Self.notFound, .unmatched)
    }

    // MARK: - HTML views

    /// The HTML view for a browser's request (`Accept: text/html`) or an upstream `/debug/...`
    /// route; nil where JSON (or another answer) stands.
    private func htmlView(_ request: HTTPRequest, _ rendered: RenderedSnapshot?) -> (HTTPResource, Route)? {
        let path = request.path
        let query = request.query
        let route: Route
        if equals(path, "/jobs") || equals(path, "/debug/jobs") {
            route = .jobs
        } else if equals(path, "/scrape_configs") || equals(path, "/debug/scrape_configs") {
            route = .scrapeConfigs
        } else if path.count > 14, hasPrefix(path, "/jobs/"), hasSuffix(path, "/targets") {
            route = .jobTargets
        } else if equals(path, "/debug/job") {
            route = .debugJob
        } else if equals(path, "/debug/collector") {
            route = .debugCollector
        } else if equals(path, "/debug/targets") {
            route = .debugTargets
        } else if equals(path, "/debug/target") {
            route = .debugTarget
        } else {
            return nil
        }
        guard let rendered else {
            return (HTMLPage.error(.serviceUnavailable, title: "No snapshot yet", message: "This replica has not loaded a snapshot yet."), route)
        }
        let page = Self.queryValue(query, name: "page").flatMap { Int($0) }.map { max(0, min($0, 1_000_000)) } ?? 0
        switch route {
        case .jobs:
            return (OperatorViews.jobs(rendered), route)
        case .scrapeConfigs:
            return (OperatorViews.scrapeConfigs(rendered), route)
        case .jobTargets:
            let escapedJob = path[6..<(path.count - 8)]
            guard !escapedJob.contains(UInt8(ascii: "/")), let job = GoURLEscaping.queryUnescape(escapedJob) else {
                return (HTMLPage.error(.badRequest, title: "Bad request", message: "The job name in the path is not escaped like Go's url.QueryEscape."), route)
            }
            return (OperatorViews.job(rendered, name: job, collector: Self.queryValue(query, name: "collector_id"), pageNumber: page), route)
        case .debugJob:
            guard let job = Self.queryValue(query, name: "job_id"), Self.queryCount(query, name: "job_id") == 1 else {
                return (HTMLPage.error(.badRequest, title: "Bad request", message: "Expected one job_id in the query string, e.g. /debug/job?job_id=my-job."), route)
            }
            return (OperatorViews.job(rendered, name: job, collector: Self.queryValue(query, name: "collector_id"), pageNumber: page), route)
        case .debugCollector:
            guard let collector = Self.queryValue(query, name: "collector_id"), !collector.isEmpty else {
                return (
                    HTMLPage.error(
                        .badRequest, title: "Bad request", message: "Expected collector_id in the query string, e.g. /debug/collector?collector_id=my-collector-42."),
                    route
                )
            }
            return (OperatorViews.collector(rendered, name: collector, pageNumber: page), route)
        case .debugTargets:
            return (OperatorViews.targets(rendered, query: Self.queryValue(query, name: "q"), pageNumber: page), route)
        default:
            return (OperatorViews.target(rendered, hash: Self.queryValue(query, name: "target_hash"), balance: options.allocation?.why), route)
        }
    }

    /// How many times a query parameter appears (upstream's job view wants exactly one).
    static func queryCount(_ query: UnsafeRawBufferPointer, name: String) -> Int {
        query.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true).count { pair in
            let key = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)[0]
            return GoURLEscaping.queryUnescape(key) == name
        }
    }

    // MARK: - routes

    private func targets(_ rendered: RenderedSnapshot, path: UnsafeRawBufferPointer, query: UnsafeRawBufferPointer) -> HTTPResource {
        let escapedJob = path[6..<(path.count - 8)]
        guard !escapedJob.contains(UInt8(ascii: "/")), let job = GoURLEscaping.queryUnescape(escapedJob) else {
            return escapedJob.contains(UInt8(ascii: "/")) ? Self.notFound : Self.badJob
        }
        guard let collector = Self.queryValue(query, name: "collector_id") else {
            return rendered.perJob(job) ?? RenderedSnapshot.allCollectorsEmpty(rendered, job: job)
        }
        return rendered.perCollector[.init(job: job, collector: collector)] ?? RenderedSnapshot.emptyList
    }

    /// The first value of a query parameter, unescaped like Go's `url.ParseQuery`, which skips a
    /// pair with a malformed escape. Go keeps the value's bytes even when they are not UTF-8
    /// (`%ff`, overlong `%c0%ae`); here those bytes become U+FFFD, a name no collector has (pod
    /// names are DNS labels), so such a `collector_id` is an unknown collector, not a missing one.
    static func queryValue(_ query: UnsafeRawBufferPointer, name: String) -> String? {
        for pair in query.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = GoURLEscaping.queryUnescape(parts[0]), key.bytesEqual(name) else { continue }
            guard parts.count > 1 else { return "" }
            guard let value = GoURLEscaping.queryUnescapeBytes(parts[1]) else { continue }
            return String(decoding: value, as: UTF8.self)
        }
        return nil
    }

    private func metrics(_ rendered: RenderedSnapshot?) -> HTTPResource {
        served.refresh(rendered, isLeader: leadership().isLeader, nowMillis: clock())
        var out: [UInt8] = []
        registry.emit(into: &out)
        return HTTPResource(
            status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body: ByteBuffer(bytes: out), etag: false)
    }

    private func page(_ rendered: RenderedSnapshot?) -> HTTPResource {
        let lead = leadership()
        let now = clock()
        history.observe(leader: lead.leader, nowMillis: now)
        return StatusPage.render(
            .init(
                identity: options.identity, leader: lead.leader ?? rendered?.leader, isLeader: lead.isLeader, rendered: rendered,
                nowMillis: now, history: history, allocation: options.allocation))
    }

    private func status(_ rendered: RenderedSnapshot?, installedAtMillis: Int64?) -> HTTPResource {
        let lead = leadership()
        var members: [JSONMember] = [
            JSONMember("identity", .string(options.identity)),
            JSONMember("leader", lead.leader.map(JSONValue.string) ?? rendered.map { .string($0.leader) } ?? .null),
            JSONMember("is_leader", .bool(lead.isLeader)),
        ]
        if let rendered {
            let age = Double(max(0, clock() - rendered.createdAtMillis)) / 1000
            members += [
                JSONMember("epoch", .number(String(rendered.epoch))),
                JSONMember("generation", .number(String(rendered.generation))),
                JSONMember("snapshot_age_seconds", .number(String(format3(age)))),
                JSONMember("installed_at_millis", .number(String(installedAtMillis ?? 0))),
                JSONMember("targets", .number(String(rendered.targetCount))),
                JSONMember("unassigned_targets", .number(String(rendered.unassignedTargets))),
                JSONMember("jobs", .number(String(rendered.jobCount))),
                JSONMember("collectors", .object(rendered.collectorLoads.map { JSONMember($0.0, .number(String($0.1))) })),
            ]
        } else {
            members += [JSONMember("epoch", .null), JSONMember("generation", .null), JSONMember("snapshot_age_seconds", .null)]
        }
        var out: [UInt8] = []
        JSONValue.object(members).write(into: &out)
        out.append(0x0a)
        return HTTPResource(status: .ok, contentType: "application/json", body: ByteBuffer(bytes: out), etag: false)
    }

    public static let unixMillis: @Sendable () -> Int64 = {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    // MARK: - byte helpers

    private func equals(_ bytes: UnsafeRawBufferPointer, _ s: StaticString) -> Bool {
        bytes.count == s.utf8CodeUnitCount && memcmp(bytes.baseAddress!, s.utf8Start, bytes.count) == 0
    }

    private func hasPrefix(_ bytes: UnsafeRawBufferPointer, _ s: StaticString) -> Bool {
        bytes.count >= s.utf8CodeUnitCount && memcmp(bytes.baseAddress!, s.utf8Start, s.utf8CodeUnitCount) == 0
    }

    private func hasSuffix(_ bytes: UnsafeRawBufferPointer, _ s: StaticString) -> Bool {
        let n = s.utf8CodeUnitCount
        return bytes.count >= n && memcmp(bytes.baseAddress! + (bytes.count - n), s.utf8Start, n) == 0
    }
}

/// Three decimals, without Foundation's locale-dependent formatting.
private func format3(_ value: Double) -> String {
    let millis = Int64((value * 1000).rounded())
    let fraction = millis % 1000
    let pad = fraction < 10 ? "00" : fraction < 100 ? "0" : ""
    return "\(millis / 1000).\(pad)\(fraction)"
}

extension RenderedSnapshot {
    /// The debug view for a job this snapshot does not know: every collector, no targets (as upstream).
    static func allCollectorsEmpty(_ rendered: RenderedSnapshot, job: String) -> HTTPResource {
        var out: [UInt8] = [UInt8(ascii: "{")]
        for (i, (collector, _)) in rendered.collectorLoads.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONWriter.string(collector, into: &out)
            out.append(contentsOf: #":{"_link":"#.utf8)
            JSONWriter.string(
                "/jobs/\(GoURLEscaping.queryEscape(job))/targets?collector_id=\(GoURLEscaping.queryEscape(collector))", into: &out)
            out.append(contentsOf: #","targets":[]}"#.utf8)
        }
        out.append(contentsOf: "}\n".utf8)
        return HTTPResource(status: .ok, contentType: "application/json", body: ByteBuffer(bytes: out))
    }
}
