import Foundation
public import Logging
public import Metrics
import NIOConcurrencyHelpers
public import ServiceDiscoveryAPI
import Snapshot
import SnapshotStore

/// Serves a snapshot from a JSON file and follows changes to it, for running a replica
/// without a cluster (tests, benchmarks, static setups).
///
/// Like the ConfigMap reader, it never goes back: a file with an older epoch/generation
/// than the one installed, or one that fails to decode or validate, is rejected with a
/// log line and a metric, and the last good snapshot stays served.
public final class SnapshotFileSource: Sendable {
    public enum Outcome: Equatable, Sendable {
        case installed(epoch: UInt64, generation: UInt64)
        case unchanged
        case rejected(String)
    }

    /// Files larger than this are rejected before they are read: parsing takes about 4–5× the
    /// file's size at its peak (a 200 MiB file: 927 MB), and 128 MiB holds ~200k targets.
    public static let defaultMaxBytes = 128 * 1024 * 1024

    private let path: String
    private let maxBytes: Int
    private let responder: ServiceDiscoveryResponder
    private let logger: Logger
    /// Size and hash of the file last read: a 100k-target file is tens of MB, not worth keeping.
    private let lastContents = NIOLockedValueBox<(size: Int, hash: Int)?>(nil)
    /// A file was decoded since the last heap trim (installed or not).
    private let parsed = NIOLockedValueBox(false)
    private let heap = HeapTrim()
    private let rejected: Counter
    private let installedCounter: Counter

    public init(
        path: String, responder: ServiceDiscoveryResponder, metrics: any MetricsFactory, logger: Logger,
        maxBytes: Int = SnapshotFileSource.defaultMaxBytes
    ) {
        self.path = path
        self.maxBytes = maxBytes
        self.responder = responder
        self.logger = logger
        rejected = Counter(label: "target_allocator_snapshots_rejected_total", dimensions: [("source", "file")], factory: metrics)
        installedCounter = Counter(label: "target_allocator_snapshots_installed_total", dimensions: [("source", "file")], factory: metrics)
    }

    /// Reads the file and installs it if it changed and is valid and newer.
    @discardableResult
    public func load() -> Outcome {
        let data: Data
        do {
            guard let handle = FileHandle(forReadingAtPath: path) else {
                return reject("cannot read \(path): it does not exist or is not readable")
            }
            defer { try? handle.close() }
            let size = Int(try handle.seekToEnd())
            try handle.seek(toOffset: 0)
            var read = size <= maxBytes ? try handle.read(upToCount: size) ?? Data() : nil
            // A file that grew while being read is only too large if it grew past the limit.
            while let part = read, part.count <= maxBytes,
                let more = try handle.read(upToCount: min(maxBytes - part.count, 1 << 20) + 1), !more.isEmpty
            {
                read!.append(more)
            }
            guard let read, read.count <= maxBytes else {
                let digest = (size: max(size, read?.count ?? 0), hash: -1)
                if lastContents.withLockedValue({ $0.map { $0 == digest } ?? false }) { return .unchanged }
                lastContents.withLockedValue { $0 = digest }
                return reject("\(path): \(digest.size) bytes, more than the limit of \(maxBytes); not read")
            }
            data = read
        } catch {
            return reject("cannot read \(path): \(error.localizedDescription)")
        }
        // Every byte (Data's own hashValue looks only at a prefix).
        var hasher = Hasher()
        data.withUnsafeBytes { hasher.combine(bytes: $0) }
        let digest = (size: data.count, hash: hasher.finalize())
        if lastContents.withLockedValue({ $0.map { $0 == digest } ?? false }) { return .unchanged }
        let snapshot: Snapshot
        parsed.withLockedValue { $0 = true }
        do {
            snapshot = try SnapshotJSON.decode(data)
        } catch {
            lastContents.withLockedValue { $0 = digest }
            return reject("\(path): \(error)")
        }
        lastContents.withLockedValue { $0 = digest }
        if let (epoch, generation) = responder.installed, (snapshot.epoch, snapshot.generation) < (epoch, generation) {
            return reject(
                "\(path): epoch \(snapshot.epoch) generation \(snapshot.generation) is older than the served epoch \(epoch) generation \(generation)")
        }
        responder.install(snapshot)
        installedCounter.increment()
        logger.info(
            "installed snapshot",
            metadata: [
                "epoch": "\(snapshot.epoch)", "generation": "\(snapshot.generation)", "targets": "\(snapshot.targets.count)",
                "jobs": "\(snapshot.jobs.count)", "collectors": "\(snapshot.collectors.count)",
            ])
        return .installed(epoch: snapshot.epoch, generation: snapshot.generation)
    }

    /// Polls the file until cancelled.
    public func run(every interval: Duration) async {
        // Reading, parsing and rendering a big file is seconds of CPU: not on the cooperative pool.
        _ = try? await CPUWork.run { self.load() }
        while !Task.isCancelled {
            // A file parsed and then rejected took as much memory as a good one: hand it back too.
            if parsed.withLockedValue({ was in defer { was = false }; return was }) { heap.afterWholeState() }
            do { try await Task.sleep(for: interval) } catch { return }
            _ = try? await CPUWork.run { self.load() }
        }
    }

    private func reject(_ reason: String) -> Outcome {
        rejected.increment()
        logger.error("rejected snapshot; keeping the last good one", metadata: ["reason": "\(reason)"])
        return .rejected(reason)
    }
}
