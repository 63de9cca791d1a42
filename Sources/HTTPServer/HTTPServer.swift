import CoreMetrics
public import Logging
import NIOConcurrencyHelpers
public import NIOCore
import NIOPosix
import NIOSSL
#if canImport(Glibc)
import Glibc
#endif

/// The data-plane server: plain HTTP (HTTP/1.1, h2c by preface or Upgrade) and optional
/// HTTPS (ALPN `h2`/`http/1.1`, optional client certificates) serving one responder.
///
/// It knows nothing about target allocation; the responder decides every answer.
public final class HTTPServer: Sendable {
    public let plainAddress: SocketAddress?
    public let tlsAddress: SocketAddress?
    private let listeners: [any Channel]
    private let connections: ConnectionTracker

    public static func start(
        group: any EventLoopGroup,
        plain: ListenAddress?,
        tls: (address: ListenAddress, provider: TLSContextProvider)?,
        responder: any HTTPResponder,
        limits: HTTPServerLimits = HTTPServerLimits(),
        metrics: HTTPServerMetrics,
        logger: Logger
    ) async throws -> HTTPServer {
        let template = HTTP2SessionTemplate(limits: limits)
        let tracker = ConnectionTracker(limit: limits.maxConnections, metrics: metrics)
        let sendPasses = SendPasses()  // shared by both listeners: one pass per event loop
        var listeners: [any Channel] = []
        do {
            var plainAddress: SocketAddress?
            var tlsAddress: SocketAddress?
            if let plain {
                let channel = try await bind(
                    group: group, address: plain, tls: nil, responder: responder, template: template, tracker: tracker,
                    sendPasses: sendPasses, metrics: metrics)
                listeners.append(channel)
                plainAddress = channel.localAddress
            }
            if let tls {
                let channel = try await bind(
                    group: group, address: tls.address, tls: tls.provider, responder: responder, template: template,
                    tracker: tracker, sendPasses: sendPasses, metrics: metrics)
                listeners.append(channel)
                tlsAddress = channel.localAddress
            }
            logger.info(
                "serving HTTP", metadata: ["http": "\(plainAddress.map { "\($0)" } ?? "off")", "https": "\(tlsAddress.map { "\($0)" } ?? "off")"])
            return HTTPServer(plainAddress: plainAddress, tlsAddress: tlsAddress, listeners: listeners, connections: tracker)
        } catch {
            for channel in listeners { try? await channel.close() }
            throw error
        }
    }

    private init(plainAddress: SocketAddress?, tlsAddress: SocketAddress?, listeners: [any Channel], connections: ConnectionTracker) {
        self.plainAddress = plainAddress
        self.tlsAddress = tlsAddress
        self.listeners = listeners
        self.connections = connections
    }

    /// Stops accepting, then closes every open connection.
    public func shutdown() async {
        for listener in listeners { try? await listener.close() }
        for channel in connections.all() { try? await channel.close() }
    }

    /// Connections currently open (for tests and metrics).
    public var openConnections: Int { connections.count }

    private static func bind(
        group: any EventLoopGroup, address: ListenAddress, tls: TLSContextProvider?, responder: any HTTPResponder,
        template: HTTP2SessionTemplate, tracker: ConnectionTracker, sendPasses: SendPasses, metrics: HTTPServerMetrics
    ) async throws -> any Channel {
        // -1 sets UINT32_MAX, the kernel's default (no limit).
        let lowat = template.limits.unsentBytesLowWatermark.map { SocketOptionValue(clamping: $0) } ?? -1
        let connection = ConnectionInfo(isTLS: tls != nil, clientCertificateVerified: tls?.requiresClientCertificate ?? false)
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // At most 2 × 16 KiB read per event-loop tick: with the read gate in the connection
            // handler this bounds what a flooding, non-reading client can park in memory.
            .childChannelOption(.maxMessagesPerRead, value: 2)
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 16 * 1024))
            // A request followed at once by FIN is answered before the connection closes.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(ChannelOptions.Types.SocketOption(level: .tcp, name: .init(rawValue: TCP_NOTSENT_LOWAT)), value: lowat)
            .childChannelInitializer { channel in
                guard tracker.admit(channel) else {
                    return channel.close()
                }
                return channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let tls { try pipeline.addHandler(NIOSSLServerHandler(context: tls.context)) }
                    try pipeline.addHandler(
                        HTTPConnectionHandler(
                            responder: responder, template: template, connection: connection, metrics: metrics,
                            sendPass: sendPasses.pass(for: channel.eventLoop), now: channel.eventLoop.now))
                }
            }
            .bind(host: address.host, port: address.port)
            .get()
    }
}

/// `host:port` as the upstream flags spell it (`:8080` means every interface).
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `:8080`, `127.0.0.1:8080`, `[::1]:8080` or `localhost:0`.
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host.isEmpty ? "0.0.0.0" : host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Counts open connections, refuses those over the limit, and remembers them for shutdown.
final class ConnectionTracker: Sendable {
    private let open = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])
    private let limit: Int
    private let metrics: HTTPServerMetrics

    init(limit: Int, metrics: HTTPServerMetrics) {
        self.limit = limit
        self.metrics = metrics
    }

    func admit(_ channel: any Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        let admitted = open.withLockedValue { open -> Bool in
            guard open.count < limit else { return false }
            open[id] = channel
            return true
        }
        guard admitted else {
            metrics.connectionsRejected.increment()
            return false
        }
        metrics.connectionsOpened.increment()
        metrics.activeConnections.increment()
        channel.closeFuture.whenComplete { [self] _ in
            open.withLockedValue { _ = $0.removeValue(forKey: id) }
            metrics.activeConnections.decrement()
        }
        return true
    }

    var count: Int { open.withLockedValue { $0.count } }
    func all() -> [any Channel] { open.withLockedValue { Array($0.values) } }
}
