// The scale benchmark of issue 12 (`make bench-scale`, scripts/bench-scale.sh): kube-emulator
// in its own process seeded with 100,000 annotated pods, three real target-allocator replicas
// (release builds, `--event-loop-threads 1`, pinned with taskset), and this process as the
// load generator and the observer. Phases: initial list, churn (1,000 pod changes/s for 60 s),
// steady state, then `kill -9` of the leader; or, with --latency-ms, a slow API server whose
// latency is raised past the renew deadline for a while. Every figure is printed beside its
// target and PASS/FAIL; timings come from the emulator's audit log (commit times) and the
// replicas' own `/status`, CPU and memory from /proc.
import Foundation

let settings = Settings.parse(CommandLine.arguments)
do {
    try await ScaleRun(settings).execute()
} catch {
    FileHandle.standardError.write(Data("scale-bench: \(error)\n".utf8))
    exit(1)
}
