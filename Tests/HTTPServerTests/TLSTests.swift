import Foundation
import Logging
import Testing
import TestSupport

@testable import HTTPServer

/// HTTPS with ALPN, client certificates and certificate rotation, checked with curl and openssl.
@Suite(.serialized) struct TLSTests {
    @Test func alpnNegotiatesH2AndHTTP11() async throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        let provider = try TLSContextProvider(files: TLSFiles(certificateChain: certs.serverCert, privateKey: certs.serverKey))
        try await withServer(tls: provider, plain: false) { server in
            let url = "https://127.0.0.1:\(server.tlsPort)/small"
            let h2 = try await runTool("curl", ["-sS", "-v", "--cacert", certs.caCert, "--http2", url])
            #expect(h2.status == 0, "\(h2.stderr)")
            #expect(h2.stderr.contains("ALPN: server accepted h2"), "\(h2.stderr)")
            #expect(h2.stderr.contains("< HTTP/2 200"))
            #expect(h2.stdout == String(buffer: TestResponder.small.identity.body))
            let h1 = try await runTool("curl", ["-sS", "-v", "--cacert", certs.caCert, "--http1.1", url, url])
            #expect(h1.status == 0, "\(h1.stderr)")
            #expect(h1.stderr.contains("ALPN: server accepted http/1.1"), "\(h1.stderr)")
            #expect(h1.stderr.contains("< HTTP/1.1 200 OK"))
            #expect(h1.stderr.contains("Re-using existing connection"))
            let big = try await runTool("curl", ["-sS", "--cacert", certs.caCert, "--http2", "https://127.0.0.1:\(server.tlsPort)/big"])
            #expect(big.stdout == String(buffer: TestResponder.big.identity.body), "big body over TLS differs")
            let load = try await runTool("h2load", ["-n", "2000", "-c", "4", "-m", "50", "https://127.0.0.1:\(server.tlsPort)/small"])
            #expect(load.stdout.contains("2000 succeeded"), "\(load.stdout)")
            #expect(load.stdout.contains("Application protocol: h2"))
        }
    }

    @Test func refusesTLSBelow12() async throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        let provider = try TLSContextProvider(files: TLSFiles(certificateChain: certs.serverCert, privateKey: certs.serverKey))
        try await withServer(tls: provider, plain: false) { server in
            let old = try await runTool("curl", ["-sS", "--cacert", certs.caCert, "--tlsv1.1", "--tls-max", "1.1", "https://127.0.0.1:\(server.tlsPort)/small"])
            #expect(old.status != 0)
            let ok = try await runTool("curl", ["-sS", "--cacert", certs.caCert, "--tlsv1.2", "--tls-max", "1.2", "https://127.0.0.1:\(server.tlsPort)/small"])
            #expect(ok.status == 0, "\(ok.stderr)")
        }
    }

    @Test func mutualTLSRequiresAClientCertificateFromTheCA() async throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        let provider = try TLSContextProvider(
            files: TLSFiles(certificateChain: certs.serverCert, privateKey: certs.serverKey, clientCA: certs.caCert))
        try await withServer(tls: provider, plain: true) { server in
            let url = "https://127.0.0.1:\(server.tlsPort)/whoami"
            let anonymous = try await runTool("curl", ["-sS", "--cacert", certs.caCert, url])
            #expect(anonymous.status != 0, "a client without a certificate must be refused")
            for flag in ["--http2", "--http1.1"] {
                let authenticated = try await runTool(
                    "curl", ["-sS", flag, "--cacert", certs.caCert, "--cert", certs.clientCert, "--key", certs.clientKey, url])
                #expect(authenticated.status == 0, "\(authenticated.stderr)")
                #expect(authenticated.stdout == "verified\n")
            }
            // A certificate from another CA is refused.
            let stranger = try TestCertificates()
            defer { stranger.remove() }
            let foreign = try await runTool(
                "curl", ["-sS", "--cacert", certs.caCert, "--cert", stranger.clientCert, "--key", stranger.clientKey, url])
            #expect(foreign.status != 0)
            // The plain port never claims a verified client.
            let plain = try await runTool("curl", ["-sS", "http://127.0.0.1:\(server.plainPort)/whoami"])
            #expect(plain.stdout == "unverified\n")
        }
    }

    @Test func rotatedCertificatesApplyToNewConnections() async throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        let provider = try TLSContextProvider(files: TLSFiles(certificateChain: certs.serverCert, privateKey: certs.serverKey))
        let watcher = Task { await provider.watch(every: .milliseconds(100), logger: Logger(label: "tls")) }
        defer { watcher.cancel() }
        try await withServer(tls: provider, plain: false) { server in
            func subject() async throws -> String {
                let r = try await runTool(
                    "sh", ["-c", "openssl s_client -connect 127.0.0.1:\(server.tlsPort) -servername localhost </dev/null 2>/dev/null | openssl x509 -noout -subject"])
                return r.stdout
            }
            #expect(try await subject().contains("CN = 127.0.0.1"))
            try certs.reissueServer(commonName: "rotated.example")
            #expect(try await eventually { try await subject().contains("CN = rotated.example") }, "the new certificate is served")
            // A broken replacement is rejected and the last good certificate stays.
            try "not a certificate".write(toFile: certs.serverCert, atomically: false, encoding: .utf8)
            #expect(throws: (any Error).self) { try provider.reloadIfChanged() }
            #expect(try await subject().contains("CN = rotated.example"))
            let r = try await runTool("curl", ["-sS", "--cacert", certs.caCert, "https://127.0.0.1:\(server.tlsPort)/small"])
            #expect(r.status == 0, "\(r.stderr)")
        }
    }
}
