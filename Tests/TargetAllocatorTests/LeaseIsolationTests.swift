import Foundation
import KubernetesEmulator
import LeaderElection
import NIOConcurrencyHelpers
import TargetAllocator
import TestSupport
import Testing

/// The Lease comes first (issue 12): a leader whose work holds every thread of Swift's
/// cooperative pool, without yielding, for several lease durations keeps renewing on its own
/// thread, and nobody else takes over. Proven from the API server's audit log, not from timings
/// measured in the process under test.
///
/// The scenario saturates its whole process's pool, so it runs in a process of its own (this
/// test binary again, with only `PoolSaturationScenario` enabled): the other suites running in
/// parallel here keep their threads.
@Suite struct LeaseIsolationTests {
    @Test func aLeaderSaturatingTheCooperativePoolKeepsRenewingAndNobodyTakesOver() async throws {
        let result = try await runTool(
            CommandLine.arguments[0], ["--testing-library", "swift-testing", "--filter", "PoolSaturationScenario"], timeout: 300,
            environment: [PoolSaturationScenario.switchVariable: "1"])
        let output = result.stdout + result.stderr
        #expect(result.status == 0, "\(output)")
        #expect(output.contains("saturated pool:") && output.contains("1 test in 1 suite passed"), "\(output)")
        print(output.split(separator: "\n").filter { $0.contains("saturated pool:") }.joined(separator: "\n"))
    }
}

/// The scenario itself; enabled only in the child process `LeaseIsolationTests` starts.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment[poolSaturationSwitch] != nil))
struct PoolSaturationScenario {
    static let switchVariable = poolSaturationSwitch
    /// Leader work that, besides the real pipeline, spins on every pool thread (twice over) for
    /// `duration`, checking only for cancellation (which never yields).
    struct SaturatingWork: LeaderWork {
        let inner: any LeaderWork
        let duration: Duration
        let window: NIOLockedValueBox<(start: Date?, end: Date?, probeRan: Date?)>

        func lead(term: LeaderTerm) async {
            await withDiscardingTaskGroup { group in
                group.addTask { await inner.lead(term: term) }
                let alreadySaturated = window.withLockedValue { $0.start != nil }
                guard !alreadySaturated else { return }
                window.withLockedValue { $0.start = Date() }
                let threads = 2 * ProcessInfo.processInfo.activeProcessorCount
                let spinners = NIOLockedValueBox(threads)
                let clock = ContinuousClock()
                let end = clock.now + duration
                for _ in 0..<threads {
                    group.addTask {
                        var x: UInt64 = 1
                        while clock.now < end, !Task.isCancelled { x = x &* 6_364_136_223_846_793_005 &+ 1 }
                        blackHole(x)
                        let left = spinners.withLockedValue { count in
                            count -= 1
                            return count
                        }
                        if left == 0 { window.withLockedValue { $0.end = Date() } }
                    }
                }
                // A probe queued on the shared pool now can only run once a spinner lets go of a
                // thread: it shows the pool really was saturated.
                group.addTask {
                    window.withLockedValue { $0.probeRan = Date() }
                }
            }
        }
    }

    @Test func aLeaderSaturatingTheCooperativePoolKeepsRenewingAndNobodyTakesOver() async throws {
        let window = NIOLockedValueBox<(start: Date?, end: Date?, probeRan: Date?)>((nil, nil, nil))
        let spin = Duration.seconds(4 * ClusterHarness.leaseDuration)
        let cluster = try await ClusterHarness(replicas: 3, collectors: 2, targets: 100) { inner in
            SaturatingWork(inner: inner, duration: spin, window: window)
        }
        try await cluster.startReplicas()
        do {
            #expect(await eventually(timeout: 60) { window.withLockedValue { $0.end } != nil })
            let (start, end, probe) = window.withLockedValue { $0 }
            let spinStart = try #require(start)
            let spinEnd = try #require(end)
            // The pool was saturated: the probe ran only after the spinners released it.
            #expect(try #require(probe) >= spinEnd.addingTimeInterval(-0.5), "the probe ran during the spin: the pool was not saturated")
            #expect(spinEnd.timeIntervalSince(spinStart) >= 3.0 * Double(ClusterHarness.leaseDuration))

            let leaseWrites = cluster.emulator.auditLog.filter { $0.resource.hasPrefix("leases") }
            let leader = try #require(leaseWrites.last(where: { $0.time <= spinStart })?.identity)
            let during = leaseWrites.filter { $0.time > spinStart && $0.time < spinEnd }
            // Nobody else wrote the Lease while the leader's pool was saturated...
            #expect(during.allSatisfy { $0.identity == leader }, "other holders: \(during.filter { $0.identity != leader })")
            // ...and the leader kept its cadence: renews all along, never a gap that reaches the
            // renew deadline (which would have cost it leadership).
            let times = [spinStart] + during.map(\.time) + [spinEnd]
            let gaps = zip(times.dropFirst(), times).map { $0.timeIntervalSince($1) }
            let deadline = Double(ClusterHarness.renewDeadline.components.seconds)
            #expect(gaps.allSatisfy { $0 < deadline }, "renew gaps \(gaps)")
            let expected = spinEnd.timeIntervalSince(spinStart) / 0.5
            #expect(Double(during.count) >= expected / 2, "\(during.count) renews in \(spinEnd.timeIntervalSince(spinStart)) s")
            print("saturated pool: \(during.count) renews by \(leader) in \(spinEnd.timeIntervalSince(spinStart)) s, max gap \(gaps.max() ?? 0) s")
            #expect(cluster.leaders == [leader])
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }
}

private let poolSaturationSwitch = "TA_POOL_SATURATION_SCENARIO"

/// Keeps a value alive so the optimiser cannot drop the loop that computes it.
@inline(never) func blackHole<T>(_ value: T) { withExtendedLifetime(value) {} }
