import Foundation
public import Logging
import NIOConcurrencyHelpers
public import NIOSSL

/// Where the HTTPS listener's key material lives on disk.
public struct TLSFiles: Sendable, Hashable {
    public var certificateChain: String
    public var privateKey: String
    /// When set, clients must present a certificate issued by this CA (mTLS).
    public var clientCA: String?

    public init(certificateChain: String, privateKey: String, clientCA: String? = nil) {
        self.certificateChain = certificateChain
        self.privateKey = privateKey
        self.clientCA = clientCA
    }
}

/// The current TLS context, rebuilt when the certificate, key or CA files change so that
/// rotated certificates (cert-manager, projected secrets) apply without a restart.
/// Each new connection takes the context current at accept time.
public final class TLSContextProvider: Sendable {
    public let files: TLSFiles
    private let state: NIOLockedValueBox<(context: NIOSSLContext, contents: [Data])>

    public init(files: TLSFiles) throws {
        self.files = files
        let contents = try Self.read(files)
        state = NIOLockedValueBox((try Self.makeContext(files), contents))
    }

    public var context: NIOSSLContext { state.withLockedValue { $0.context } }

    /// Whether clients must present a verified certificate.
    public var requiresClientCertificate: Bool { files.clientCA != nil }

    /// Rebuilds the context if any file's bytes changed. A broken new file set throws and
    /// leaves the current context in place.
    @discardableResult
    public func reloadIfChanged() throws -> Bool {
        let contents = try Self.read(files)
        guard contents != state.withLockedValue({ $0.contents }) else { return false }
        let context = try Self.makeContext(files)
        state.withLockedValue { $0 = (context, contents) }
        return true
    }

    /// Polls the files until cancelled, logging reloads and failures.
    public func watch(every interval: Duration, logger: Logger) async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
            do {
                if try reloadIfChanged() { logger.info("reloaded TLS certificate", metadata: ["certificate": "\(files.certificateChain)"]) }
            } catch {
                logger.error(
                    "TLS files changed but cannot be loaded; keeping the previous certificate",
                    metadata: ["error": "\(error)", "certificate": "\(files.certificateChain)"])
            }
        }
    }

    private static func read(_ files: TLSFiles) throws -> [Data] {
        try [files.certificateChain, files.privateKey, files.clientCA].compactMap { $0 }.map {
            try Data(contentsOf: URL(fileURLWithPath: $0))
        }
    }

    static func makeContext(_ files: TLSFiles) throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMFile(files.certificateChain)
        guard !chain.isEmpty else { throw TLSSetupError.noCertificate(files.certificateChain) }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: files.privateKey, format: .pem)))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["h2", "http/1.1"]
        if let ca = files.clientCA {
            let roots = try NIOSSLCertificate.fromPEMFile(ca)
            guard !roots.isEmpty else { throw TLSSetupError.noCertificate(ca) }
            configuration.certificateVerification = .noHostnameVerification
            configuration.trustRoots = .certificates(roots)
            configuration.sendCANameList = true
        }
        return try NIOSSLContext(configuration: configuration)
    }
}

public enum TLSSetupError: Error, CustomStringConvertible {
    case noCertificate(String)

    public var description: String {
        switch self {
        case .noCertificate(let path): "no PEM certificate found in \(path)"
        }
    }
}
