import AsyncHTTPClient
import Foundation
public import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

/// Prometheus's `http_sd_configs`: GET the URL at start and every `refresh_interval` (which is
/// also the request timeout) with `Accept: application/json` and
/// `X-Prometheus-Refresh-Interval-Seconds`; a 200 with `Content-Type: application/json`
/// (optionally `; charset=utf-8`) carrying a list of target groups replaces the previous list.
/// Each group gets `__meta_url` and the source `<url>:<index>`. Any failure keeps the last
/// good list, logs, and counts in `failures`.
public struct HTTPSDProvider: Sendable {
    public let config: HTTPSDConfig
    let logger: Logger
    let userAgent: String
    /// Failed refreshes so far, for a metric (`prometheus_sd_http_failures_total`).
    public let failures = FileSDProvider.Counter()
    static let maxBodyBytes = 64 << 20

    public init(config: HTTPSDConfig, logger: Logger, userAgent: String = "Prometheus/target-allocator") {
        self.config = config
        self.logger = logger
        self.userAgent = userAgent
    }

    /// Publishes the complete list after the first refresh (an empty list if it failed) and
    /// after every refresh that changes it; returns when the task is cancelled.
    public func run(publish: @escaping @Sendable ([TargetGroup]) -> Void) async {
        let client: HTTPClient
        do {
            client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: try clientConfiguration())
        } catch {
            failures.increment()
            logger.error("Unable to create the HTTP SD client", metadata: ["url": .string(config.url), "err": .string("\(error)")])
            publish([])
            return
        }
        var published: [TargetGroup]?
        let clock = ContinuousClock()
        while !Task.isCancelled {
            let started = clock.now
            do {
                let groups = try await refresh(client: client)
                if groups != published {
                    published = groups
                    publish(groups)
                }
            } catch {
                if Task.isCancelled { break }
                failures.increment()
                logger.error("Unable to refresh target groups", metadata: ["url": .string(config.url), "err": .string("\(error)")])
                if published == nil {
                    published = []
                    publish([])
                }
            }
            do { try await clock.sleep(until: started + config.refreshInterval) } catch { break }
        }
        try? await client.shutdown()
    }

    /// One request, as Prometheus's `Refresh`.
    func refresh(client: HTTPClient) async throws -> [TargetGroup] {
        var request = HTTPClientRequest(url: config.url)
        request.method = .GET
        request.headers.add(name: "User-Agent", value: userAgent)
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "X-Prometheus-Refresh-Interval-Seconds", value: Self.seconds(config.refreshInterval))
        for header in config.headers { request.headers.add(name: header.name, value: header.value) }
        if let auth = try authorizationHeader() { request.headers.replaceOrAdd(name: "Authorization", value: auth) }

        let timeout = TimeAmount.nanoseconds(Int64(ScrapeDuration.milliseconds(config.refreshInterval)) * 1_000_000)
        let response = try await client.execute(request, timeout: timeout)
        let body = try await response.body.collect(upTo: Self.maxBodyBytes)
        guard response.status == .ok else {
            throw TargetGroupDocumentError("server returned HTTP status \(response.status.code) \(response.status.reasonPhrase)")
        }
        let contentType = response.headers.first(name: "Content-Type") ?? ""
        guard Self.isJSONContentType(contentType) else {
            throw TargetGroupDocumentError("unsupported content type \"\(contentType)\"")
        }
        return try TargetGroupDocument.parseJSON(
            body.readableBytesView, sourcePrefix: config.url, extraLabel: (name: "__meta_url", value: config.url))
    }

    /// `^application/json(;\s*charset=("utf-8"|utf-8))?$`, case-insensitive, after trimming.
    public static func isJSONContentType(_ value: String) -> Bool {
        var text = Substring(value.lowercased())
        while text.first?.isWhitespace == true { text.removeFirst() }
        while text.last?.isWhitespace == true { text.removeLast() }
        guard text.hasPrefix("application/json") else { return false }
        var rest = text.dropFirst("application/json".count)
        if rest.isEmpty { return true }
        guard rest.first == ";" else { return false }
        rest.removeFirst()
        while rest.first?.isWhitespace == true { rest.removeFirst() }
        return rest == "charset=utf-8" || rest == "charset=\"utf-8\""
    }

    /// Seconds as Go's `strconv.FormatFloat(s, 'f', -1, 64)` writes them (`60`, `0.5`).
    static func seconds(_ duration: Duration) -> String {
        let ms = ScrapeDuration.milliseconds(duration)
        if ms % 1000 == 0 { return String(ms / 1000) }
        return String(Double(ms) / 1000)
    }

    func authorizationHeader() throws -> String? {
        if let basic = config.basicAuth {
            let username = try basic.usernameFile.map(Self.readSecret) ?? basic.username
            let password = try basic.passwordFile.map(Self.readSecret) ?? basic.password ?? ""
            return "Basic " + Data((username + ":" + password).utf8).base64EncodedString()
        }
        if let auth = config.authorization {
            let credentials = try auth.credentialsFile.map(Self.readSecret) ?? auth.credentials ?? ""
            return auth.type + " " + credentials
        }
        return nil
    }

    static func readSecret(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw TargetGroupDocumentError("cannot read \(path)") }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func clientConfiguration() throws -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: config.followRedirects ? .follow(max: 10, allowCycles: false) : .disallow,
            decompression: .disabled)
        configuration.httpVersion = config.enableHTTP2 ? .automatic : .http1Only
        if let tls = config.tlsConfig {
            var t = TLSConfiguration.makeClientConfiguration()
            if let file = tls.caFile {
                t.trustRoots = .file(file)
            } else if let pem = tls.ca {
                t.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)))
            }
            if let file = tls.certFile {
                t.certificateChain = try NIOSSLCertificate.fromPEMFile(file).map { .certificate($0) }
            } else if let pem = tls.cert {
                t.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)).map { .certificate($0) }
            }
            if let file = tls.keyFile {
                t.privateKey = .privateKey(try NIOSSLPrivateKey(file: file, format: .pem))
            } else if let pem = tls.key {
                t.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(pem.utf8), format: .pem))
            }
            if tls.insecureSkipVerify { t.certificateVerification = .none }
            configuration.tlsConfiguration = t
        }
        return configuration
    }
}
