public import Foundation
public import KubernetesClient
public import Logging
import NIOConcurrencyHelpers

/// Timing and identity of an election (client-go's defaults and constraints).
public struct LeaderElectionConfiguration: Sendable {
    public var leaseName: String
    public var namespace: String
    public var identity: String
    public var leaseDuration: Duration = .seconds(15)
    public var renewDeadline: Duration = .seconds(10)
    public var retryPeriod: Duration = .seconds(2)

    public init(leaseName: String, namespace: String, identity: String) {
        self.leaseName = leaseName
        self.namespace = namespace
        self.identity = identity
    }

    /// lease_duration > renew_deadline > 1.2 × retry_period, identity set.
    public func validate() throws {
        guard !identity.isEmpty else { throw ElectionError.invalid("identity must not be empty") }
        guard !leaseName.isEmpty else { throw ElectionError.invalid("lease name must not be empty") }
        guard leaseDuration > renewDeadline else { throw ElectionError.invalid("lease_duration must be greater than renew_deadline") }
        guard renewDeadline > retryPeriod * 1.2 else {
            throw ElectionError.invalid("renew_deadline must be greater than 1.2 × retry_period")
        }
        guard retryPeriod > .zero else { throw ElectionError.invalid("retry_period must be positive") }
        guard leaseDuration >= .seconds(1) else { throw ElectionError.invalid("lease_duration must be at least 1s") }
    }

    /// One request may take at most this long, so a hung call cannot eat the renew deadline.
    public var requestTimeout: Duration { max(.seconds(1), renewDeadline / 2) }
}

public enum ElectionError: Error, CustomStringConvertible {
    case invalid(String)
    public var description: String {
        switch self {
        case .invalid(let m): "leader election: \(m)"
        }
    }
}

/// A term of leadership: the fencing epoch snapshots carry.
public struct LeaderTerm: Sendable, Hashable {
    public var identity: String
    /// `leaseTransitions` when this term began; grows with every takeover.
    public var leaseTransitions: Int32
    public var acquireTime: Date
}

/// Lease-based leader election with client-go semantics (reference A.5):
/// expiry is judged on the local monotonic clock from when the record last changed, using the
/// record's own `leaseDurationSeconds`; every write is a PUT with the last resourceVersion
/// (the API server's compare-and-swap decides races); takeover bumps `leaseTransitions`.
///
/// Leading is a scope: the leader work runs in a child task that is cancelled and awaited as
/// soon as no renew has succeeded for `renewDeadline` (earlier than client-go, which can take
/// `retryPeriod` longer), i.e. before the lease can expire for anyone else.
///
/// The Lease comes first: the elector, its timers, its child tasks and its HTTP connection live
/// on a thread of their own (`DedicatedExecutor`), so leader work saturating Swift's cooperative
/// pool, or a large list download on the shared client's connections, cannot delay a renew.
/// Only the leader work itself runs on the shared pool.
public actor LeaderElector {
    public let configuration: LeaderElectionConfiguration
    /// The Lease's own client: its own connection and rate limit, its I/O on `executor`.
    private let client: KubernetesClient
    private let logger: Logger
    private let clock = ContinuousClock()
    private let executor: DedicatedExecutor

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    private var cached: Lease?
    private var observedSpec: Lease.Spec?
    private var observedTime: ContinuousClock.Instant = .now
    private var lastRenew: ContinuousClock.Instant?

    private nonisolated let status = NIOLockedValueBox<(leader: String?, isLeader: Bool, term: LeaderTerm?)>((nil, false, nil))

    /// - Parameter cluster: where the API server is; the elector opens its own connection to it.
    public init(cluster: ClusterConfiguration, configuration: LeaderElectionConfiguration, logger: Logger) throws {
        try configuration.validate()
        let executor = DedicatedExecutor()
        do {
            client = try KubernetesClient(configuration: cluster, eventLoopGroup: executor.loop)
        } catch {
            Task { await executor.shutdown() }
            throw error
        }
        self.executor = executor
        self.configuration = configuration
        self.logger = logger
    }

    /// Closes the elector's connection and stops its thread; call once `run` has returned.
    public nonisolated func shutdown() async {
        try? await client.shutdown()
        await executor.shutdown()
    }

    /// Who holds the lease, as last observed, and whether it is us.
    public nonisolated var leadership: (leader: String?, isLeader: Bool) {
        status.withLockedValue { ($0.leader, $0.isLeader) }
    }

    public nonisolated var currentTerm: LeaderTerm? { status.withLockedValue { $0.term } }

    /// When our last successful write of the Lease happened (monotonic clock).
    private nonisolated let renewedAt = NIOLockedValueBox<ContinuousClock.Instant?>(nil)

    /// Whether this replica holds the Lease with a renew younger than `renewDeadline`: the
    /// window in which leader writes are safe. Writers check it before every request, so work
    /// that outlives its term (a slow step, a starved process) cannot write late.
    public nonisolated var holdsFreshLease: Bool {
        guard leadership.isLeader, let renewed = renewedAt.withLockedValue({ $0 }) else { return false }
        return ContinuousClock.now - renewed < configuration.renewDeadline
    }

    /// Campaigns until cancelled. Each time this replica wins, `lead` runs with the term; it is
    /// cancelled (and awaited) when leadership is lost. On cancellation the lease is released
    /// once leader work has stopped, and only if a fresh read still shows us as holder.
    public func run(lead: @escaping @Sendable (LeaderTerm) async -> Void) async {
        // Child tasks inherit the preference: they start on the elector's thread, not the pool.
        await withTaskExecutorPreference(executor) { await campaign(lead: lead) }
    }

    private func campaign(lead: @escaping @Sendable (LeaderTerm) async -> Void) async {
        defer { status.withLockedValue { $0.isLeader = false } }
        while !Task.isCancelled {
            guard let term = await acquire() else { break }
            logger.info(
                "started leading", metadata: ["identity": "\(configuration.identity)", "transitions": "\(term.leaseTransitions)"])
            // The renewer is not a child: when we are cancelled (shutdown), it keeps the lease
            // fresh while leader work winds down, so the lease is released, never left to lapse.
            // When it gives up (lost lease), leader work is cancelled at once.
            let renewer = Task(executorPreference: executor) { await self.renewUntilLost() }
            await withTaskGroup(of: Void.self) { group in
                // The leader work, alone, runs on the shared pool.
                group.addTask(name: "leader work", executorPreference: globalConcurrentExecutor) { await lead(term) }
                group.addTask { await renewer.value }
                await group.next()
                group.cancelAll()
                renewer.cancel()
            }
            status.withLockedValue {
                $0.isLeader = false
                $0.term = nil
            }
            logger.info("stopped leading", metadata: ["identity": "\(configuration.identity)"])
        }
        // Leaving (cancelled), perhaps between terms while still the holder: hand the Lease back.
        // Our own task is cancelled, and so would be its requests: release from a fresh one.
        await Task(executorPreference: executor) { await self.release() }.value
    }

    // MARK: - acquire and renew

    private func acquire() async -> LeaderTerm? {
        while !Task.isCancelled {
            if await tryAcquireOrRenew(), let term = status.withLockedValue({ $0.term }) {
                return term
            }
            // client-go's JitterUntil: retryPeriod plus up to 1.2 × retryPeriod.
            let wait = configuration.retryPeriod + configuration.retryPeriod * Double.random(in: 0..<1.2)
            do { try await executor.sleep(for: wait) } catch { return nil }
        }
        return nil
    }

    /// Renews every `retryPeriod` until a renew round misses the deadline (each attempt is
    /// cut off when `renewDeadline` has passed since the last success, however slow the API
    /// server is) or another holder is seen.
    private func renewUntilLost() async {
        while !Task.isCancelled {
            do { try await executor.sleep(for: configuration.retryPeriod) } catch { return }
            let deadline = (lastRenew ?? clock.now) + configuration.renewDeadline
            let executor = self.executor
            let renewed = await withTaskGroup(of: Bool?.self) { group in
                group.addTask { await self.tryAcquireOrRenew() }
                group.addTask {
                    try? await executor.sleep(until: deadline)
                    return nil
                }
                let first = await group.next() ?? nil
                group.cancelAll()
                return first
            }
            if renewed == nil || clock.now >= deadline && renewed != true {
                logger.error(
                    "failed to renew the lease within the renew deadline; giving up leadership",
                    metadata: ["identity": "\(configuration.identity)"])
                return
            }
            if renewed == false, !leadership.isLeader {
                logger.warning("lost the lease to another holder", metadata: ["leader": "\(leadership.leader ?? "")"])
                return
            }
        }
    }

    /// One attempt (reference A.5 steps 1–6). Returns true if we hold the lease afterwards.
    private func tryAcquireOrRenew() async -> Bool {
        let now = Date()
        let timeout = configuration.requestTimeout
        let me = configuration.identity

        // 1. Fast path: still the valid holder, update the cached object directly.
        if var lease = cached, observedSpec?.holderIdentity == me, isLeaseValid() {
            lease.spec = desiredSpec(now: now, renewing: observedSpec)
            if let updated = try? await client.update(lease, timeout: timeout) {
                observe(updated, wroteAt: clock.now)
                return true
            }
        }

        // 2. Read (or create).
        let lease: Lease
        do {
            lease = try await client.get(Lease.self, namespace: configuration.namespace, name: configuration.leaseName, timeout: timeout)
        } catch let error as KubernetesError where error.isNotFound {
            var fresh = Lease(metadata: ObjectMeta(name: configuration.leaseName, namespace: configuration.namespace))
            fresh.spec = desiredSpec(now: now, renewing: nil)
            do {
                observe(try await client.create(fresh, timeout: timeout), wroteAt: clock.now)
                return true
            } catch {
                logger.debug("creating the lease failed", metadata: ["error": "\(error)"])
                return false
            }
        } catch {
            logger.debug("reading the lease failed", metadata: ["error": "\(error)"])
            return false
        }

        // 3. Record changed since we last looked: restart the expiry clock.
        // Compared as values: serializations need not be stable (key order may vary).
        cached = lease
        if lease.spec != observedSpec {
            observedSpec = lease.spec
            observedTime = clock.now
            publishObserved()
        }

        // 4. Held by someone else and not expired (an empty holder means released).
        let holder = lease.spec?.holderIdentity ?? ""
        if !holder.isEmpty, holder != me, isLeaseValid() { return false }

        // 5 and 6. Renew (keep acquireTime and transitions) or take over (+1), CAS on resourceVersion.
        var next = lease
        next.spec = desiredSpec(now: now, renewing: holder == me ? lease.spec : nil, previous: lease.spec)
        do {
            observe(try await client.update(next, timeout: timeout), wroteAt: clock.now)
            return true
        } catch {
            logger.debug("writing the lease failed", metadata: ["error": "\(error)"])
            return false
        }
    }

    private func desiredSpec(now: Date, renewing current: Lease.Spec?, previous: Lease.Spec? = nil) -> Lease.Spec {
        var spec = Lease.Spec(
            holderIdentity: configuration.identity,
            leaseDurationSeconds: Int32(configuration.leaseDuration.components.seconds),
            acquireTime: MicroTime(now), renewTime: MicroTime(now), leaseTransitions: 0)
        if let current {
            spec.acquireTime = current.acquireTime ?? spec.acquireTime
            spec.leaseTransitions = current.leaseTransitions ?? 0
        } else if let previous {
            spec.leaseTransitions = (previous.leaseTransitions ?? 0) + 1
        }
        return spec
    }

    private func isLeaseValid() -> Bool {
        let seconds = Int64(observedSpec?.leaseDurationSeconds ?? 0)
        return observedTime + .seconds(seconds) > clock.now
    }

    private func observe(_ lease: Lease, wroteAt instant: ContinuousClock.Instant) {
        cached = lease
        observedSpec = lease.spec
        observedTime = instant
        lastRenew = instant
        renewedAt.withLockedValue { $0 = instant }
        publishObserved()
    }

    private func publishObserved() {
        let holder = observedSpec?.holderIdentity
        let me = configuration.identity
        let term = observedSpec.flatMap { spec -> LeaderTerm? in
            guard spec.holderIdentity == me else { return nil }
            return LeaderTerm(identity: me, leaseTransitions: spec.leaseTransitions ?? 0, acquireTime: spec.acquireTime?.date ?? Date())
        }
        status.withLockedValue { s in
            if s.leader != holder, let holder, !holder.isEmpty, holder != me {
                logger.info("new leader observed", metadata: ["leader": "\(holder)"])
            }
            s.leader = (holder?.isEmpty ?? true) ? nil : holder
            s.isLeader = holder == me
            s.term = term
        }
    }

    // MARK: - release

    /// Hands the lease back (empty holder, 1 s duration) so a successor need not wait out
    /// the lease. Only if a fresh read shows us as holder: after a lost term, another
    /// replica may already hold it and must not be overwritten.
    private func release() async {
        let timeout = configuration.renewDeadline
        for _ in 0..<3 {
            let lease: Lease
            do {
                lease = try await client.get(Lease.self, namespace: configuration.namespace, name: configuration.leaseName, timeout: timeout)
            } catch {
                logger.warning("cannot read the lease to release it; successors wait for it to expire", metadata: ["error": "\(error)"])
                return
            }
            guard lease.spec?.holderIdentity == configuration.identity else { return }
            var released = lease
            let now = MicroTime(Date())
            released.spec?.holderIdentity = ""
            released.spec?.leaseDurationSeconds = 1
            released.spec?.acquireTime = now
            released.spec?.renewTime = now
            do {
                _ = try await client.update(released, timeout: timeout)
                logger.info("released the lease", metadata: ["identity": "\(configuration.identity)"])
                status.withLockedValue {
                    $0.leader = nil
                    $0.isLeader = false
                }
                return
            } catch let error as KubernetesError where error.isConflict {
                continue
            } catch {
                logger.warning("releasing the lease failed", metadata: ["error": "\(error)"])
                return
            }
        }
    }
}
