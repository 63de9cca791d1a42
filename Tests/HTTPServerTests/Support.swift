import Foundation
import Logging
import Metrics
import NIOCore
import NIOPosix
import Testing
import TestSupport

@testable import HTTPServer

#if canImport(Glibc)
import Glibc
#endif

/// A responder with a few fixed resources, for exercising the protocol engine.
struct TestResponder: HTTPResponder {
    static let small = HTTPResource(status: .ok, contentType: "application/json", body: ByteBuffer(string: #"[{"targets":["a:1"]}]"# + "\n"))
    static let big = HTTPResource(
        status: .ok, contentType: "application/json",
        body: ByteBuffer(string: "[" + (0..<20_000).map { #"{"targets":["10.0.\#($0 / 256).\#($0 % 256):8080"]}"# }.joined(separator: ",") + "]\n"))
    /// Below the copy limit, so each answer is copied into the connection's output buffer.
    static let medium = HTTPResource(
        status: .ok, contentType: "application/json", body: ByteBuffer(string: String(repeating: "m", count: 12_000)),
        compressionThreshold: nil)
    static let empty = HTTPResource(status: .ok, contentType: "application/json", body: ByteBuffer())
    static let notFound = HTTPResource.json(.notFound, #"{"error":"not found"}"#)
    static let secure = HTTPResource.text(.ok, "verified\n")
    static let insecure = HTTPResource.text(.ok, "unverified\n")

    func respond(to request: HTTPRequest) -> HTTPResource {
        switch String(decoding: request.path, as: UTF8.self) {
        case "/small": Self.small
        case "/big": Self.big
        case "/medium": Self.medium
        case "/empty": Self.empty
        case "/whoami": request.connection.clientCertificateVerified ? Self.secure : Self.insecure
        default: Self.notFound
        }
    }
}

/// Starts a server on 127.0.0.1 ephemeral ports and always shuts it down.
func withServer<T>(
    limits: HTTPServerLimits = HTTPServerLimits(), tls: TLSContextProvider? = nil, plain: Bool = true,
    _ body: (HTTPServer) async throws -> T
) async throws -> T {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let server: HTTPServer
    do {
        server = try await HTTPServer.start(
            group: group, plain: plain ? ListenAddress(host: "127.0.0.1", port: 0) : nil,
            tls: tls.map { (ListenAddress(host: "127.0.0.1", port: 0), $0) }, responder: TestResponder(), limits: limits,
            metrics: HTTPServerMetrics(factory: NOOPMetricsHandler.instance), logger: Logger(label: "test"))
    } catch {
        try await group.shutdownGracefully()
        throw error
    }
    do {
        let result = try await body(server)
        await server.shutdown()
        try await group.shutdownGracefully()
        return result
    } catch {
        await server.shutdown()
        try await group.shutdownGracefully()
        throw error
    }
}

extension HTTPServer {
    var plainPort: Int { plainAddress!.port! }
    var tlsPort: Int { tlsAddress!.port! }
}
