import Foundation
import NIOConcurrencyHelpers

/// Produces the `Authorization` header value, refreshing rotating credentials:
/// token files are re-read every minute (kubelet rotates projected tokens), exec-plugin
/// tokens are cached until their `expirationTimestamp`.
final class TokenSource: Sendable {
    private let credentials: ClusterConfiguration.Credentials
    private let cache = NIOLockedValueBox<(value: String?, expires: Date)>((nil, .distantPast))
    private let fileRefresh: TimeInterval

    init(_ credentials: ClusterConfiguration.Credentials, fileRefresh: TimeInterval = 60) {
        self.credentials = credentials
        self.fileRefresh = fileRefresh
    }

    /// The header value, or nil for anonymous access.
    func authorization() async throws -> String? {
        switch credentials {
        case .none:
            return nil
        case .token(let token):
            return "Bearer \(token)"
        case .basic(let username, let password):
            return "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
        case .tokenFile(let path):
            if let cached = fresh() { return cached }
            let token: String
            do {
                token = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                // Keep using the last token we had rather than failing every request.
                if let last = cache.withLockedValue({ $0.value }) { return last }
                throw KubernetesError.configuration("cannot read token file \(path): \(error.localizedDescription)")
            }
            let value = "Bearer \(token)"
            cache.withLockedValue { $0 = (value, Date().addingTimeInterval(fileRefresh)) }
            return value
        case .exec(let plugin):
            if let cached = fresh() { return cached }
            let (token, expiry) = try await Self.run(plugin)
            let value = "Bearer \(token)"
            cache.withLockedValue { $0 = (value, expiry ?? Date().addingTimeInterval(fileRefresh)) }
            return value
        }
    }

    /// Forgets the cached token (after a 401, the next request fetches a fresh one).
    func invalidate() {
        cache.withLockedValue { $0 = (nil, .distantPast) }
    }

    private func fresh() -> String? {
        cache.withLockedValue { $0.expires > Date() ? $0.value : nil }
    }

    /// Runs a client-go credential plugin and reads its ExecCredential.
    static func run(_ plugin: ClusterConfiguration.ExecPlugin) async throws -> (String, Date?) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [plugin.command] + plugin.arguments
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in plugin.environment { environment[k] = v }
        environment["KUBERNETES_EXEC_INFO"] =
            #"{"apiVersion":"\#(plugin.apiVersion)","kind":"ExecCredential","spec":{"interactive":false}}"#
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        let data: Data = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { _ in }
            do {
                try process.run()
            } catch {
                continuation.resume(throwing: KubernetesError.configuration("cannot run credential plugin \(plugin.command): \(error)"))
                return
            }
            Thread {
                let data = output.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                if process.terminationStatus == 0 {
                    continuation.resume(returning: data)
                } else {
                    continuation.resume(
                        throwing: KubernetesError.configuration("credential plugin \(plugin.command) exited with \(process.terminationStatus)"))
                }
            }.start()
        }
        struct ExecCredential: Decodable {
            struct Status: Decodable {
                var token: String?
                var expirationTimestamp: KubeTime?
            }
            var status: Status?
        }
        guard let credential = try? JSONDecoder().decode(ExecCredential.self, from: data), let token = credential.status?.token else {
            throw KubernetesError.configuration("credential plugin \(plugin.command) printed no ExecCredential token")
        }
        return (token, credential.status?.expirationTimestamp?.date)
    }
}

/// Client-side rate limiting (token bucket), so a relist storm cannot flood the API server.
final class RateLimiter: Sendable {
    private let state: NIOLockedValueBox<(tokens: Double, last: ContinuousClock.Instant)>
    private let rate: Double
    private let burst: Double

    init(queriesPerSecond: Double, burst: Int) {
        rate = max(queriesPerSecond, 0.001)
        self.burst = Double(max(burst, 1))
        state = NIOLockedValueBox((Double(max(burst, 1)), .now))
    }

    /// Waits until one request may go.
    func acquire() async throws {
        let wait = state.withLockedValue { s -> Double in
            let now = ContinuousClock.now
            let elapsed = now - s.last
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            s.tokens = min(burst, s.tokens + seconds * rate)
            s.last = now
            s.tokens -= 1
            return s.tokens >= 0 ? 0 : -s.tokens / rate
        }
        if wait > 0 { try await Task.sleep(for: .milliseconds(Int64(wait * 1000))) }
    }
}
