import Foundation
import HTTPServer
import Logging
import NIOPosix
import Snapshot
import JSON
import TargetAllocator
import TestSupport

/// Runs a replica in-process on 127.0.0.1 ephemeral ports and always stops it.
func withReplica<T>(
    _ settings: ReplicaSettings, _ body: (Replica, (plain: Int?, tls: Int?)) async throws -> T
) async throws -> T {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    var logger = Logger(label: "replica")
    logger.logLevel = .warning
    let replica = try Replica(settings: settings, group: group, logger: logger)
    let running = Task { try await replica.run() }
    do {
        let addresses = try await replica.addresses()
        let result = try await body(replica, (addresses.plain?.port, addresses.tls?.port))
        running.cancel()
        _ = try? await running.value
        try await group.shutdownGracefully()
        return result
    } catch {
        running.cancel()
        _ = try? await running.value
        try await group.shutdownGracefully()
        throw error
    }
}

/// A scratch directory removed at the end of a test.
struct ScratchDirectory: Sendable {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("ta-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    func write(_ name: String, _ contents: String) throws {
        // Write aside, then rename: a poller never reads half a file. (Foundation's own
        // `atomically: true` leaves an empty TemporaryDirectory.* behind in /tmp every time.)
        try contents.write(toFile: path(name) + ".tmp", atomically: false, encoding: .utf8)
        guard rename(path(name) + ".tmp", path(name)) == 0 else { throw CocoaError(.fileWriteUnknown) }
    }
    func remove() { try? FileManager.default.removeItem(at: url) }
}

func snapshotJSON(_ snapshot: Snapshot) -> String { String(decoding: SnapshotJSON.encode(snapshot), as: UTF8.self) }

/// A port that was free a moment ago (for programs that cannot report the port they bound).
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}
