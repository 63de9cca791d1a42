import ArgumentParser
import Foundation
import JSON
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// controller-runtime's zap flags, which upstream's allocator takes (the operator passes them
/// through `spec.args`), with their values checked as controller-runtime checks them and mapped
/// to swift-log: the level to a log level, the `json` encoder to one JSON object per line with
/// zap's keys (`level`, `ts`, `logger`, `msg`), the time encoding to `ts`. Stack traces are
/// not ours to give: `--zap-stacktrace-level` is checked and has no effect.
struct ZapOptions {
    enum Encoder: String { case json, console }
    enum TimeEncoding: String { case epoch, millis, nanos, iso8601, rfc3339, rfc3339nano }

    var development = false
    var encoder: Encoder?
    var level: Logger.Level?
    var timeEncoding: TimeEncoding?

    init(development: Bool?, encoder: String?, level: String?, stacktraceLevel: String?, timeEncoding: String?) throws {
        self.development = development ?? false
        if let encoder {
            guard let parsed = Encoder(rawValue: encoder.lowercased()) else { throw ValidationError("invalid encoder value \"\(encoder)\"") }
            self.encoder = parsed
        }
        if let level { self.level = try Self.level(level) }
        if let stacktraceLevel, !["info", "error", "panic"].contains(stacktraceLevel.lowercased()) {
            throw ValidationError("invalid stacktrace level \"\(stacktraceLevel)\"")
        }
        if let timeEncoding {
            guard let parsed = TimeEncoding(rawValue: timeEncoding.lowercased()) else {
                throw ValidationError("invalid time-encoding value \"\(timeEncoding)\"")
            }
            self.timeEncoding = parsed
        }
    }

    /// `debug`, `info`, `error`, `panic`, or an integer > 0: zap's custom debug levels, 1 being
    /// debug and anything more verbose mapping to trace.
    static func level(_ text: String) throws -> Logger.Level {
        switch text.lowercased() {
        case "debug": return .debug
        case "info": return .info
        case "error": return .error
        case "panic": return .critical
        default:
            guard let n = Int(text), n > 0 else { throw ValidationError("invalid log level \"\(text)\"") }
            return n == 1 ? .debug : .trace
        }
    }

    /// The level in force: `--log-level` if given, else `--zap-log-level`, else debug in
    /// development mode and info otherwise (zap's defaults).
    func effectiveLevel(explicit: Logger.Level?) -> Logger.Level {
        explicit ?? level ?? (development ? .debug : .info)
    }

    /// Sets up swift-log once, before anything logs.
    func bootstrap(level: Logger.Level) {
        if encoder == .json {
            let time = timeEncoding ?? .rfc3339
            LoggingSystem.bootstrap { label in ZapJSONLogHandler(label: label, level: level, time: time) }
        } else {
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        }
    }
}

/// One JSON object per line on standard error, as zap's production encoder writes them.
struct ZapJSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    let time: ZapOptions.TimeEncoding
    var metadata: Logger.Metadata = [:]

    init(label: String, level: Logger.Level, time: ZapOptions.TimeEncoding) {
        self.label = label
        self.logLevel = level
        self.time = time
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var line: [UInt8] = []
        line.append(contentsOf: #"{"level":"#.utf8)
        JSONWriter.string(Self.zapLevel(event.level), into: &line)
        line.append(contentsOf: #","ts":"#.utf8)
        line.append(contentsOf: Self.timestamp(Date(), time).utf8)
        line.append(contentsOf: #","logger":"#.utf8)
        JSONWriter.string(label, into: &line)
        line.append(contentsOf: #","msg":"#.utf8)
        JSONWriter.string(event.message.description, into: &line)
        var fields = metadata
        if let extra = event.metadata { fields.merge(extra) { _, new in new } }
        for (key, value) in fields.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            line.append(UInt8(ascii: ","))
            JSONWriter.string(key, into: &line)
            line.append(UInt8(ascii: ":"))
            Self.write(value, into: &line)
        }
        line.append(contentsOf: "}\n".utf8)
        // One write per line, so lines of concurrent loggers do not interleave.
        line.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if n <= 0 { break }
                offset += n
            }
        }
    }

    static func zapLevel(_ level: Logger.Level) -> String {
        switch level {
        case .trace, .debug: "debug"
        case .info, .notice: "info"
        case .warning: "warn"
        case .error: "error"
        case .critical: "dpanic"
        }
    }

    static func write(_ value: Logger.Metadata.Value, into out: inout [UInt8]) {
        switch value {
        case .string(let s): JSONWriter.string(s, into: &out)
        case .stringConvertible(let s): JSONWriter.string(s.description, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .dictionary(let members):
            out.append(UInt8(ascii: "{"))
            for (i, member) in members.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }).enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.string(member.key, into: &out)
                out.append(UInt8(ascii: ":"))
                write(member.value, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// `ts` as zap's time encoders write it (UTC): epoch seconds or milliseconds as a float,
    /// nanoseconds as an integer, or an ISO 8601 / RFC 3339 string.
    static func timestamp(_ date: Date, _ encoding: ZapOptions.TimeEncoding) -> String {
        let seconds = date.timeIntervalSince1970
        switch encoding {
        case .epoch: return String(seconds)
        case .millis: return String(seconds * 1000)
        case .nanos: return String(Int64(seconds * 1e9))
        case .iso8601, .rfc3339, .rfc3339nano:
            var whole = time_t(seconds.rounded(.down))
            let nanos = Int((seconds - Double(whole)) * 1e9)
            var parts = tm()
            gmtime_r(&whole, &parts)
            func pad(_ n: Int32, _ width: Int) -> String {
                let s = String(n)
                return String(repeating: "0", count: max(0, width - s.count)) + s
            }
            var text = "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            text += "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))"
            switch encoding {
            case .iso8601: text += "." + pad(Int32(nanos / 1_000_000), 3)
            case .rfc3339nano where nanos > 0:
                var fraction = pad(Int32(nanos), 9)
                while fraction.hasSuffix("0") { fraction.removeLast() }
                text += "." + fraction
            default: break
            }
            return "\"\(text)Z\""
        }
    }
}
