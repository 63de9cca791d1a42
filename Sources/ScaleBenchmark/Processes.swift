import Foundation

/// A program the benchmark started: pinned to CPUs with `taskset`, and killed by the kernel
/// if the benchmark dies first (`setpriv --pdeathsig KILL`), so no run leaves processes behind.
final class Child: Sendable {
    let name: String
    let log: String
    private let process: Process

    /// - Parameter stdout: where standard output goes (default: the log, with standard error).
    init(name: String, binary: String, arguments: [String], cpus: String, environment: [String: String] = [:], log: String, stdout: String? = nil)
        throws
    {
        self.name = name
        self.log = log
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--pdeathsig", "KILL", "--", "/usr/bin/taskset", "-c", cpus, binary] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.standardError = logHandle
        if let stdout {
            _ = FileManager.default.createFile(atPath: stdout, contents: nil)
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdout))
        } else {
            process.standardOutput = logHandle
        }
        try process.run()
        self.process = process
    }

    /// setpriv and taskset exec the program, so it keeps this pid.
    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    /// SIGKILL: no cleanup at all, as in a crash.
    func kill9() {
        kill(pid, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    func stop(grace: Duration = .seconds(10)) async {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning { kill9() }
    }

    /// Waits until `match` finds something in the log (polling the file), or the deadline.
    func waitForLog<T>(timeout: Duration, _ match: (String) -> T?) async -> T? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOfFile: log, encoding: .utf8), let found = match(text) { return found }
            if !process.isRunning { return nil }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }
}

/// A kubeconfig naming the emulator and one bearer token (each replica has its own identity).
func writeKubeconfig(path: String, server: String, token: String) throws {
    try """
    apiVersion: v1
    kind: Config
    clusters:
    - name: emulator
      cluster:
        server: \(server)
    users:
    - name: user
      user:
        token: \(token)
    contexts:
    - name: emulator
      context:
        cluster: emulator
        user: user
    current-context: emulator

    """.write(toFile: path, atomically: true, encoding: .utf8)
}
