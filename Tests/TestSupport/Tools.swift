public import Foundation

#if canImport(Glibc)
import Glibc
#endif

public struct ToolResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}


/// Runs blocking work on a thread of its own, so waiting never occupies the (two-thread)
/// cooperative pool that in-process replicas need for their own tasks.
public func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}

/// Runs a real client program and waits for it (bounded by `timeout`).
/// - Parameter environment: added to this process's environment.
public func runTool(_ tool: String, _ arguments: [String], timeout: Double = 60, environment: [String: String] = [:]) async throws -> ToolResult {
    try await offPool { try runToolBlocking(tool, arguments, timeout: timeout, environment: environment) }
}

func runToolBlocking(_ tool: String, _ arguments: [String], timeout: Double, environment: [String: String] = [:]) throws -> ToolResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [tool] + arguments
    if !environment.isEmpty {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    // Drain pipes while waiting so a chatty tool cannot block on a full pipe.
    let outData = LockedData()
    let errData = LockedData()
    let readers = [(out, outData), (err, errData)].map { pipe, sink in
        Thread { sink.append(pipe.fileHandleForReading.readDataToEndOfFile()) }
    }
    readers.forEach { $0.start() }
    while process.isRunning, Date() < deadline { usleep(10_000) }
    if process.isRunning {
        process.terminate()
        process.waitUntilExit()
        throw ToolError.timedOut("\(tool) \(arguments.joined(separator: " "))")
    }
    process.waitUntilExit()
    while !(outData.finished && errData.finished) { usleep(1_000) }
    return ToolResult(
        status: process.terminationStatus, stdout: String(decoding: outData.data, as: UTF8.self),
        stderr: String(decoding: errData.data, as: UTF8.self))
}

final class LockedData: @unchecked Sendable {
    // @unchecked: every access goes through `lock`.
    private let lock = NSLock()
    private var storage = Data()
    private var done = false
    func append(_ d: Data) {
        lock.lock()
        storage.append(d)
        done = true
        lock.unlock()
    }
    var data: Data { lock.lock(); defer { lock.unlock() }; return storage }
    var finished: Bool { lock.lock(); defer { lock.unlock() }; return done }
}

public enum ToolError: Error { case timedOut(String) }

/// A blocking TCP client for sending exact (and deliberately broken) bytes.
public final class RawConnection: Sendable {
    public let fd: Int32

    public init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw RawError.connect(errno)
        }
    }

    deinit { close(fd) }

    /// Sends all bytes; returns false if the peer already closed.
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            sent += n
        }
        return true
    }

    @discardableResult
    public func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// Reads until `done` says the bytes are enough, the peer closes, or the deadline passes.
    public func read(timeout: Double = 10, until done: @escaping @Sendable ([UInt8]) -> Bool = { _ in false }) async -> (
        bytes: [UInt8], closed: Bool
    ) {
        (try? await offPool { self.readBlocking(timeout: timeout, until: done) }) ?? ([], false)
    }

    func readBlocking(timeout: Double, until done: ([UInt8]) -> Bool) -> (bytes: [UInt8], closed: Bool) {
        var received: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while Date() < deadline {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let remaining = Int32(max(1, deadline.timeIntervalSinceNow * 1000))
            guard poll(&pfd, 1, min(remaining, 200)) > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n <= 0 { return (received, true) }
            received.append(contentsOf: buffer[0..<n])
            if done(received) { return (received, false) }
        }
        return (received, false)
    }

    public func readText(timeout: Double = 10, until done: @escaping @Sendable (String) -> Bool = { _ in false }) async -> (
        text: String, closed: Bool
    ) {
        let r = await read(timeout: timeout) { done(String(decoding: $0, as: UTF8.self)) }
        return (String(decoding: r.bytes, as: UTF8.self), r.closed)
    }
}

public enum RawError: Error { case connect(Int32) }

/// Polls a condition until it holds or a generous deadline passes (never a fixed sleep).
public func eventually(timeout: Double = 20, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

/// Self-signed and CA-issued certificates made with the real openssl CLI.
public struct TestCertificates: Sendable {
    public let dir: URL
    public var caCert: String { dir.appendingPathComponent("ca.pem").path }
    public var serverCert: String { dir.appendingPathComponent("server.pem").path }
    public var serverKey: String { dir.appendingPathComponent("server.key").path }
    public var clientCert: String { dir.appendingPathComponent("client.pem").path }
    public var clientKey: String { dir.appendingPathComponent("client.key").path }

    public init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ta-certs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=test-ca"])
        try issue(name: "server", subject: "/CN=127.0.0.1", extensions: "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        try issue(name: "client", subject: "/CN=collector", extensions: "extendedKeyUsage=clientAuth\n")
    }

    /// Issues a fresh server certificate with another subject (for reload tests).
    public func reissueServer(commonName: String) throws {
        try issue(
            name: "server", subject: "/CN=\(commonName)", extensions: "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    }

    private func issue(name: String, subject: String, extensions: String) throws {
        try extensions.write(to: dir.appendingPathComponent("\(name).ext"), atomically: false, encoding: .utf8)
        try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(name).key.tmp",
            "-out", "\(name).csr", "-subj", subject])
        try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "\(name).pem.tmp",
            "-days", "2", "-extfile", "\(name).ext"])
        // Replace atomically so a watcher never reads a half-written pair.
        for file in ["\(name).key", "\(name).pem"] {
            guard rename(dir.appendingPathComponent(file + ".tmp").path, dir.appendingPathComponent(file).path) == 0 else {
                throw CertificateError.openssl("rename \(file): errno \(errno)")
            }
        }
    }

    private func openssl(_ args: [String]) throws {
        let result = try runToolBlocking("sh", ["-c", "cd '\(dir.path)' && openssl " + args.map { "'\($0)'" }.joined(separator: " ")], timeout: 60)
        guard result.status == 0 else { throw CertificateError.openssl(result.stderr) }
    }

    public func remove() { try? FileManager.default.removeItem(at: dir) }
}

public enum CertificateError: Error { case openssl(String) }

/// Resident set size of a process.
private func residentBytes(pid: String) -> Int {
    guard let statm = try? String(contentsOfFile: "/proc/\(pid)/statm", encoding: .utf8),
        let pages = Int(statm.split(separator: " ")[1])
    else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// A long-running real program (Prometheus, say) that dies with the test process even if the
/// test process crashes: a tiny shell watchdog polls its parent and kills the child.
public final class BackgroundProcess: Sendable {
    private let process: Process

    /// - Parameter environment: extra variables for the program.
    public init(_ tool: String, _ arguments: [String], log: String, environment: [String: String] = [:]) throws {
        let quoted = ([tool] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let pidFile = log + ".pid"
        self.pidFile = pidFile
        let script = """
            \(quoted) >>'\(log)' 2>&1 &
            child=$!
            echo $child > '\(pidFile)'
            trap 'kill $child 2>/dev/null; wait $child; exit 0' TERM INT
            while kill -0 $PPID 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 0.5; done
            kill $child 2>/dev/null
            wait $child
            """
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        try process.run()
    }

    private let pidFile: String

    /// The program's resident set size, measured apart from the test process (whose other
    /// tests allocate at the same time); nil until it has started.
    public var residentBytes: Int? {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8) else { return nil }
        let pid = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let bytes = TestSupport.residentBytes(pid: pid)
        return pid.isEmpty || bytes == 0 ? nil : bytes
    }

    /// The most the program has ever had resident (`VmHWM`): shows a transient peak that a
    /// sample of `residentBytes` would miss.
    public var peakResidentBytes: Int? {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
            let status = try? String(contentsOfFile: "/proc/\(text.trimmingCharacters(in: .whitespacesAndNewlines))/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kB = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return nil }
        return kB * 1024
    }

    /// Kills the program at once (SIGKILL: no cleanup, as in a crash); the watchdog then exits.
    /// Waits on a thread of its own: the two-thread cooperative pool stays free for the tests
    /// running beside this one.
    public func kill9() async {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return }
        kill(pid, SIGKILL)
        let process = self.process
        _ = try? await offPool { process.waitUntilExit() }
    }

    /// Asks the program to stop (SIGTERM) without waiting for it: for `defer` blocks, which
    /// cannot await. The watchdog stops the program and exits.
    public func terminate() {
        process.terminate()
    }

    /// Stops the program (SIGTERM, then waits for it to exit, off the cooperative pool: a
    /// replica's graceful shutdown takes seconds).
    public func stop() async {
        let process = self.process
        _ = try? await offPool {
            process.terminate()
            process.waitUntilExit()
        }
    }
}
