public import AsyncHTTPClient
public import Foundation
import Logging
public import NIOCore
public import NIOHTTP1
import NIOSSL

/// A Kubernetes API client: typed verbs, errors decoded from `Status`, watches as async
/// sequences, client-side rate limiting and per-request timeouts.
public final class KubernetesClient: Sendable {
    public let configuration: ClusterConfiguration
    private let http: HTTPClient
    private let tokens: TokenSource
    private let limiter: RateLimiter
    private static let maxBody = 64 * 1024 * 1024

    public init(configuration: ClusterConfiguration, eventLoopGroup: any EventLoopGroup = HTTPClient.defaultEventLoopGroup) throws {
        self.configuration = configuration
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let ca = configuration.tls.caPEM {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(ca)))
        }
        if let cert = configuration.tls.clientCertificatePEM, let key = configuration.tls.clientKeyPEM {
            tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(cert)).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(key), format: .pem))
        }
        if configuration.tls.insecureSkipVerify { tls.certificateVerification = .none }
        var http = HTTPClient.Configuration(tlsConfiguration: tls)
        http.timeout = .init(connect: .seconds(5))
        http.redirectConfiguration = .disallow
        // Every watch holds an HTTP/1.1 connection for minutes (HTTP/2 multiplexes them when the
        // server offers it over TLS); AsyncHTTPClient's default of 8 per host would queue the
        // Lease renewals behind the informers' watches.
        http.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 256)
        self.http = HTTPClient(eventLoopGroup: eventLoopGroup, configuration: http)
        tokens = TokenSource(configuration.credentials)
        limiter = RateLimiter(queriesPerSecond: configuration.queriesPerSecond, burst: configuration.burst)
    }

    /// Closes connections; call once, when no request is running.
    public func shutdown() async throws {
        try await http.shutdown()
    }

    // MARK: - typed verbs

    public func get<T: KubernetesObject>(_ type: T.Type, namespace: String? = nil, name: String, timeout: Duration? = nil) async throws -> T {
        try decode(T.self, try await send(.GET, T.resource.objectPath(namespace: ns(T.self, namespace), name: name), timeout: timeout))
    }

    /// One page of a list.
    public func list<T: KubernetesObject>(
        _ type: T.Type, namespace: String? = nil, options: ListOptions = ListOptions()
    ) async throws -> ObjectList<T> {
        let body = try await send(.GET, T.resource.collectionPath(namespace: namespace), query: options.query)
        return try ObjectList<T>.decode(json: body)
    }

    /// Every item, following `continue` tokens; returns the list's resourceVersion.
    public func listAll<T: KubernetesObject>(
        _ type: T.Type, namespace: String? = nil, options: ListOptions = ListOptions()
    ) async throws -> (items: [T], resourceVersion: String) {
        var options = options
        var items: [T] = []
        while true {
            let page = try await list(T.self, namespace: namespace, options: options)
            items += page.items
            guard let token = page.metadata.continue, !token.isEmpty else {
                return (items, page.metadata.resourceVersion ?? "")
            }
            options.continueToken = token
            options.resourceVersion = nil
        }
    }

    public func create<T: KubernetesObject>(_ object: T, timeout: Duration? = nil) async throws -> T {
        let body = try JSONEncoder().encode(object)
        return try decode(
            T.self, try await send(.POST, T.resource.collectionPath(namespace: ns(T.self, object.namespace)), body: body, timeout: timeout))
    }

    /// PUT. The object's resourceVersion is the precondition: a stale one fails with Conflict.
    public func update<T: KubernetesObject>(_ object: T, timeout: Duration? = nil) async throws -> T {
        let body = try JSONEncoder().encode(object)
        let path = T.resource.objectPath(namespace: ns(T.self, object.namespace), name: object.name)
        return try decode(T.self, try await send(.PUT, path, body: body, timeout: timeout))
    }

    public func updateStatus<T: KubernetesObject>(_ object: T) async throws -> T {
        let body = try JSONEncoder().encode(object)
        let path = T.resource.objectPath(namespace: ns(T.self, object.namespace), name: object.name) + "/status"
        return try decode(T.self, try await send(.PUT, path, body: body))
    }

    public enum PatchType: String, Sendable {
        case merge = "application/merge-patch+json"
        case strategicMerge = "application/strategic-merge-patch+json"
        case json = "application/json-patch+json"
    }

    public func patch<T: KubernetesObject>(
        _ type: T.Type, namespace: String? = nil, name: String, patch: Data, as patchType: PatchType = .merge
    ) async throws -> T {
        try decode(
            T.self,
            try await send(.PATCH, T.resource.objectPath(namespace: ns(T.self, namespace), name: name), body: patch, contentType: patchType.rawValue))
    }

    /// Deletes; with `resourceVersion`/`uid` the server refuses (Conflict) if the object changed.
    public func delete<T: KubernetesObject>(
        _ type: T.Type, namespace: String? = nil, name: String, resourceVersion: String? = nil, uid: String? = nil
    ) async throws {
        var body: Data?
        if resourceVersion != nil || uid != nil {
            var preconditions: [String: String] = [:]
            preconditions["resourceVersion"] = resourceVersion
            preconditions["uid"] = uid
            body = try JSONSerialization.data(withJSONObject: [
                "kind": "DeleteOptions", "apiVersion": "v1", "preconditions": preconditions,
            ])
        }
        _ = try await send(.DELETE, T.resource.objectPath(namespace: ns(T.self, namespace), name: name), body: body)
    }

    // MARK: - transport

    /// Sends one request and returns the body of a 2xx answer; any other answer throws.
    public func send(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: Data? = nil,
        contentType: String = "application/json", timeout: Duration? = nil
    ) async throws -> Data {
        try await limiter.acquire()
        let request = try await makeRequest(method, path, query: query, body: body, contentType: contentType)
        let limit = timeout ?? configuration.requestTimeout
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await http.execute(request, timeout: TimeAmount.nanoseconds(limit.nanoseconds))
            bytes = try await response.body.collect(upTo: Self.maxBody)
        } catch let error as KubernetesError {
            throw error
        } catch {
            throw KubernetesError.transport("\(method) \(path): \(error)")
        }
        let data = Data(bytes.readableBytesView)
        guard (200..<300).contains(response.status.code) else {
            if response.status.code == 401 { tokens.invalidate() }
            throw KubernetesError.from(code: Int(response.status.code), body: data, retryAfter: response.headers.first(name: "Retry-After"))
        }
        return data
    }

    /// Opens a streaming request (watches); the caller consumes and ends the body.
    func stream(_ path: String, query: [(String, String)]) async throws -> HTTPClientResponse {
        try await limiter.acquire()
        let request = try await makeRequest(.GET, path, query: query, body: nil, contentType: "application/json")
        let response: HTTPClientResponse
        do {
            // The server ends the watch (timeoutSeconds); this deadline is only a backstop.
            response = try await http.execute(request, timeout: TimeAmount.hours(2))
        } catch {
            throw KubernetesError.transport("watch \(path): \(error)")
        }
        guard response.status.code == 200 else {
            let data = Data(((try? await response.body.collect(upTo: 1 << 20)) ?? ByteBuffer()).readableBytesView)
            if response.status.code == 401 { tokens.invalidate() }
            throw KubernetesError.from(code: Int(response.status.code), body: data, retryAfter: response.headers.first(name: "Retry-After"))
        }
        return response
    }

    private func makeRequest(
        _ method: HTTPMethod, _ path: String, query: [(String, String)], body: Data?, contentType: String
    ) async throws -> HTTPClientRequest {
        var url = configuration.server + path
        if !query.isEmpty {
            url += "?" + query.map { "\(Self.escape($0.0))=\(Self.escape($0.1))" }.joined(separator: "&")
        }
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "target-allocator")
        if let authorization = try await tokens.authorization() {
            request.headers.add(name: "Authorization", value: authorization)
        }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        return request
    }

    private static let queryAllowed: CharacterSet = {
        var set = CharacterSet.alphanumerics
        set.insert(charactersIn: "-._~")
        return set
    }()

    static func escape(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: queryAllowed) ?? s }

    private func ns<T: KubernetesObject>(_ type: T.Type, _ namespace: String?) -> String? {
        T.resource.namespaced ? (namespace ?? configuration.namespace ?? "default") : nil
    }

    func decode<V: Decodable>(_ type: V.Type, _ data: Data) throws -> V {
        do {
            return try JSONDecoder().decode(V.self, from: data)
        } catch {
            throw KubernetesError.decoding("\(V.self): \(error)")
        }
    }
}

/// Parameters of list and watch calls.
public struct ListOptions: Sendable, Hashable {
    public var labelSelector: String?
    public var fieldSelector: String?
    public var limit: Int?
    public var continueToken: String?
    public var resourceVersion: String?
    public var timeoutSeconds: Int?
    public var allowWatchBookmarks = false

    public init(labelSelector: String? = nil, fieldSelector: String? = nil, limit: Int? = nil, resourceVersion: String? = nil) {
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.limit = limit
        self.resourceVersion = resourceVersion
    }

    var query: [(String, String)] {
        var q: [(String, String)] = []
        if let labelSelector, !labelSelector.isEmpty { q.append(("labelSelector", labelSelector)) }
        if let fieldSelector, !fieldSelector.isEmpty { q.append(("fieldSelector", fieldSelector)) }
        if let limit { q.append(("limit", String(limit))) }
        if let continueToken { q.append(("continue", continueToken)) }
        if let resourceVersion { q.append(("resourceVersion", resourceVersion)) }
        if let timeoutSeconds { q.append(("timeoutSeconds", String(timeoutSeconds))) }
        if allowWatchBookmarks { q.append(("allowWatchBookmarks", "true")) }
        return q
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let c = components
        return c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000
    }
}
