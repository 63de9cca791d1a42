import ByteStrings
import Foundation
public import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Prometheus's `file_sd_configs`: every file matching the configs' patterns holds a list of
/// target groups; each group gets `__meta_filepath` and the source `<file>:<index>`.
///
/// Files are checked every `min(refresh_interval, 5 s)` (size, inode and modification time)
/// and re-read when changed, and all are re-read every `refresh_interval`. A file that cannot
/// be read or parsed keeps its last good groups (an error is logged and `readErrors` counts
/// it); a file that no longer matches (deleted) loses its groups.
public struct FileSDProvider: Sendable {
    public let configs: [FileSDConfig]
    let logger: Logger
    let pollInterval: Duration?
    /// Failed reads so far (malformed or unreadable files), for a metric.
    public let readErrors = Counter()

    public final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        public var value: Int { lock.withLock { count } }
        func increment() { lock.withLock { count += 1 } }
    }

    /// - Parameter pollInterval: how often files are checked for changes; by default
    ///   `min(refresh_interval, 5 s)` of each config.
    public init(configs: [FileSDConfig], logger: Logger, pollInterval: Duration? = nil) {
        self.configs = configs
        self.logger = logger
        self.pollInterval = pollInterval
    }

    /// Publishes the complete list of groups at start and whenever it changes; returns when
    /// the task is cancelled.
    public func run(publish: @escaping @Sendable ([TargetGroup]) -> Void) async {
        guard !configs.isEmpty else {
            publish([])
            return
        }
        var state = configs.map { ConfigState(config: $0) }
        let clock = ContinuousClock()
        let start = clock.now
        for i in state.indices {
            state[i].scan(forceRead: true, provider: self)
            state[i].nextPoll = start + poll(for: state[i].config)
            state[i].nextRefresh = start + state[i].config.refreshInterval
        }
        var published = state.flatMap(\.groups)
        publish(published)
        while !Task.isCancelled {
            let wake = state.map { min($0.nextPoll, $0.nextRefresh) }.min()!
            do { try await clock.sleep(until: wake) } catch { return }
            let now = clock.now
            for i in state.indices where state[i].nextPoll <= now || state[i].nextRefresh <= now {
                let refresh = state[i].nextRefresh <= now
                state[i].scan(forceRead: refresh, provider: self)
                state[i].nextPoll = now + poll(for: state[i].config)
                if refresh { state[i].nextRefresh = now + state[i].config.refreshInterval }
            }
            let groups = state.flatMap(\.groups)
            if groups != published {
                published = groups
                publish(groups)
            }
        }
    }

    func poll(for config: FileSDConfig) -> Duration {
        pollInterval ?? min(config.refreshInterval, .seconds(5))
    }

    /// One config's files: their last good groups and what they looked like when read.
    struct ConfigState {
        let config: FileSDConfig
        var files: [String] = []
        /// Keyed by the path's bytes: two names that differ only in Unicode normalization are
        /// two files (as the filesystem and Prometheus have them).
        var signatures: [ByteKey: FileSignature] = [:]
        var groupsByFile: [ByteKey: [TargetGroup]] = [:]
        var nextPoll = ContinuousClock.now
        var nextRefresh = ContinuousClock.now

        init(config: FileSDConfig) { self.config = config }

        var groups: [TargetGroup] { files.flatMap { groupsByFile[ByteKey($0)] ?? [] } }

        mutating func scan(forceRead: Bool, provider: FileSDProvider) {
            var matched: [String] = []
            var seen = Set<ByteKey>()
            for pattern in config.files {
                for file in FileSDProvider.glob(pattern) where seen.insert(ByteKey(file)).inserted { matched.append(file) }
            }
            for file in matched {
                let key = ByteKey(file)
                let signature = FileSignature(path: file)
                if !forceRead, let signature, signatures[key] == signature, groupsByFile[key] != nil { continue }
                do {
                    let groups = try FileSDProvider.readFile(file)
                    groupsByFile[key] = groups
                    signatures[key] = signature
                } catch {
                    // Keep the last good groups; note the signature so a broken file is not
                    // re-read (and re-logged) until it changes or the refresh interval passes.
                    if signatures[key] != signature || forceRead {
                        provider.readErrors.increment()
                        provider.logger.error("Error reading file", metadata: ["path": .string(file), "err": .string("\(error)")])
                    }
                    signatures[key] = signature
                }
            }
            for key in files.map(ByteKey.init) where !seen.contains(key) {
                groupsByFile[key] = nil
                signatures[key] = nil
            }
            files = matched
        }
    }

    struct FileSignature: Equatable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var seconds: Int
        var nanoseconds: Int

        init?(path: String) {
            var st = stat()
            guard stat(path, &st) == 0 else { return nil }
            device = UInt64(st.st_dev)
            inode = UInt64(st.st_ino)
            size = Int64(st.st_size)
            #if canImport(Darwin)
            seconds = st.st_mtimespec.tv_sec
            nanoseconds = st.st_mtimespec.tv_nsec
            #else
            seconds = st.st_mtim.tv_sec
            nanoseconds = st.st_mtim.tv_nsec
            #endif
        }
    }

    // MARK: - pure helpers

    /// Prometheus's rule for `files` entries: a `*` only in the last path element, and a
    /// `.json`, `.yml` or `.yaml` extension (lower or upper case).
    public static func isValidPattern(_ pattern: String) -> Bool {
        let extensions = [".json", ".yml", ".yaml", ".JSON", ".YML", ".YAML"]
        guard let ext = extensions.first(where: { pattern.hasSuffix($0) }) else { return false }
        let stem = pattern.dropLast(ext.count)
        guard let star = stem.firstIndex(of: "*") else { return true }
        // Everything from the first `*` on must stay within the last path element.
        return !stem[star...].contains("/")
    }

    /// The files a pattern names, like Go's `filepath.Glob`: the pattern itself when it has
    /// no wildcard and exists, otherwise the matching entries of its directory in name order.
    public static func glob(_ pattern: String) -> [String] {
        let slash = pattern.lastIndex(of: "/")
        let dir = slash.map { String(pattern[..<$0]) } ?? ""
        let base = slash.map { String(pattern[pattern.index(after: $0)...]) } ?? pattern
        let isMeta: (Character) -> Bool = { $0 == "*" || $0 == "?" || $0 == "[" || $0 == "\\" }
        guard base.contains(where: isMeta) else {
            var st = stat()
            return lstat(pattern, &st) == 0 ? [pattern] : []
        }
        let listDir = slash == nil ? "." : (dir.isEmpty ? "/" : dir)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: listDir) else { return [] }
        return names.filter { fnmatch(base, $0, 0) == 0 }
            .sorted { $0.bytesPrecede($1) }
            .map { slash == nil ? $0 : dir + "/" + $0 }
    }

    /// Reads and parses one file by its extension.
    public static func readFile(_ path: String) throws -> [TargetGroup] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TargetGroupDocumentError("cannot read \(path)")
        }
        let label = (name: "__meta_filepath", value: path)
        if path.lowercased().hasSuffix(".json") {
            return try TargetGroupDocument.parseJSON(Array(data), sourcePrefix: path, extraLabel: label)
        }
        return try TargetGroupDocument.parseYAML(String(decoding: data, as: UTF8.self), sourcePrefix: path, extraLabel: label)
    }
}
