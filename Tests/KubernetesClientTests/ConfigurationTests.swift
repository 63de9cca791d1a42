import Foundation
import TestSupport
import Testing

@testable import KubernetesClient

@Suite struct ConfigurationTests {
    func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func kubeconfigWithTokenFileAndRelativeCA() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".write(
            to: dir.appendingPathComponent("ca.crt"), atomically: false, encoding: .utf8)
        try "tok-1\n".write(to: dir.appendingPathComponent("token"), atomically: false, encoding: .utf8)
        let text = """
            apiVersion: v1
            kind: Config
            current-context: dev
            clusters:
            - name: c1
              cluster: {server: "https://10.0.0.1:6443/", certificate-authority: ca.crt, tls-server-name: api.internal}
            - name: c2
              cluster: {server: "http://127.0.0.1:1234", insecure-skip-tls-verify: true}
            contexts:
            - name: dev
              context: {cluster: c1, user: u1, namespace: team-a}
            - name: other
              context: {cluster: c2, user: u2}
            users:
            - name: u1
              user: {tokenFile: token}
            - name: u2
              user:
                client-certificate-data: \(Data("CERT".utf8).base64EncodedString())
                client-key-data: \(Data("KEY".utf8).base64EncodedString())
            """
        let dev = try ClusterConfiguration.parseKubeconfig(text, context: nil, baseDirectory: dir.path)
        #expect(dev.server == "https://10.0.0.1:6443")
        #expect(dev.namespace == "team-a")
        #expect(dev.tls.caPEM.map { String(decoding: $0, as: UTF8.self) }?.contains("BEGIN CERTIFICATE") == true)
        #expect(dev.tls.serverName == "api.internal")
        guard case .tokenFile(let path) = dev.credentials else {
            Issue.record("expected a token file, got \(dev.credentials)")
            return
        }
        #expect(path == dir.appendingPathComponent("token").path)
        let other = try ClusterConfiguration.parseKubeconfig(text, context: "other", baseDirectory: dir.path)
        #expect(other.tls.insecureSkipVerify)
        #expect(other.tls.clientCertificatePEM == Data("CERT".utf8) && other.tls.clientKeyPEM == Data("KEY".utf8))
        #expect(throws: KubernetesError.self) { try ClusterConfiguration.parseKubeconfig(text, context: "missing", baseDirectory: dir.path) }
        #expect(throws: KubernetesError.self) { try ClusterConfiguration.parseKubeconfig("{{{", context: nil, baseDirectory: dir.path) }
    }

    @Test func kubeconfigSearchOrder() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = "current-context: x\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\ncontexts: [{name: x, context: {cluster: c}}]\n"
        try config.write(to: dir.appendingPathComponent("second"), atomically: false, encoding: .utf8)
        let found = try ClusterConfiguration.kubeconfig(
            environment: ["KUBECONFIG": "\(dir.path)/missing:\(dir.path)/second", "HOME": dir.path])
        #expect(found.server == "http://127.0.0.1:9")
        #expect(throws: KubernetesError.self) { try ClusterConfiguration.kubeconfig(environment: ["HOME": dir.path]) }
    }

    @Test func inClusterReadsTheServiceAccount() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try "t0".write(to: dir.appendingPathComponent("token"), atomically: false, encoding: .utf8)
        try "monitoring\n".write(to: dir.appendingPathComponent("namespace"), atomically: false, encoding: .utf8)
        let c = try ClusterConfiguration.inCluster(
            environment: ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"], directory: dir.path)
        #expect(c.server == "https://[fd00::1]:443")
        #expect(c.namespace == "monitoring")
        #expect(throws: KubernetesError.self) { try ClusterConfiguration.inCluster(environment: [:], directory: dir.path) }
    }

    @Test func tokenFilesAreReReadAfterTheyRotate() async throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("token").path
        try "first".write(toFile: path, atomically: false, encoding: .utf8)
        let source = TokenSource(.tokenFile(path), fileRefresh: 0.05)
        #expect(try await source.authorization() == "Bearer first")
        try "second".write(toFile: path, atomically: false, encoding: .utf8)
        #expect(try await eventually { try await source.authorization() == "Bearer second" })
        try FileManager.default.removeItem(atPath: path)
        #expect(try await source.authorization() == "Bearer second", "a vanished file keeps the last token")
    }

    @Test func execPluginTokensAreCachedUntilExpiry() async throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = dir.appendingPathComponent("plugin.sh").path
        let counter = dir.appendingPathComponent("count").path
        try """
            #!/bin/sh
            echo run >> '\(counter)'
            echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"'"$TOKEN_VALUE"'","expirationTimestamp":"2999-01-01T00:00:00Z"}}'
            """.write(toFile: script, atomically: false, encoding: .utf8)
        chmod(script, 0o755)
        let plugin = ClusterConfiguration.ExecPlugin(
            command: script, environment: ["TOKEN_VALUE": "from-plugin"], apiVersion: "client.authentication.k8s.io/v1")
        let source = TokenSource(.exec(plugin))
        #expect(try await source.authorization() == "Bearer from-plugin")
        #expect(try await source.authorization() == "Bearer from-plugin")
        #expect(try String(contentsOfFile: counter, encoding: .utf8).split(separator: "\n").count == 1, "cached until expiry")
        source.invalidate()
        _ = try await source.authorization()
        #expect(try String(contentsOfFile: counter, encoding: .utf8).split(separator: "\n").count == 2, "a 401 forces a fresh token")
        let failing = TokenSource(.exec(.init(command: "false", apiVersion: "client.authentication.k8s.io/v1")))
        await #expect(throws: KubernetesError.self) { try await failing.authorization() }
    }
}

@Suite struct WireFormatTests {
    @Test func microTimeHasExactlySixDigitsInUTC() throws {
        let date = try #require(RFC3339.parse("2026-07-24T16:05:30.1234567+02:00"))
        #expect(MicroTime(date).text == "2026-07-24T14:05:30.123457Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: 0), fractionDigits: 0) == "1970-01-01T00:00:00Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: -1.5), fractionDigits: 6) == "1969-12-31T23:59:58.500000Z")
        #expect(RFC3339.parse("2026-02-30T00:00:00") == nil)
        #expect(RFC3339.parse("2026-07-24 14:05:30Z") == nil)
        let lease = Lease(metadata: ObjectMeta(name: "l"), spec: .init(holderIdentity: "a", renewTime: MicroTime(date)))
        let json = String(decoding: try JSONEncoder().encode(lease), as: UTF8.self)
        #expect(json.contains(#""renewTime":"2026-07-24T14:05:30.123457Z""#))
    }

    @Test func statusErrorsClassifyByReasonAndCode() {
        let conflict = KubernetesError.from(
            code: 409,
            body: Data(#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Conflict","code":409,"details":{"name":"l","group":"coordination.k8s.io","kind":"leases"}}"#.utf8),
            retryAfter: nil)
        #expect(conflict.isConflict && !conflict.isAlreadyExists)
        let exists = KubernetesError.from(code: 409, body: Data(#"{"kind":"Status","reason":"AlreadyExists","code":409}"#.utf8), retryAfter: nil)
        #expect(exists.isAlreadyExists && !exists.isConflict)
        let gone = KubernetesError.from(code: 410, body: Data("not json".utf8), retryAfter: nil)
        #expect(gone.isGone)
        let busy = KubernetesError.from(code: 429, body: Data(), retryAfter: "3")
        #expect(busy.isTooManyRequests && busy.retryAfter == 3)
    }

    @Test func watchLinesSplitAcrossChunks() {
        var splitter = LineSplitter()
        #expect(splitter.feed(.init(string: #"{"type":"ADD"#)).isEmpty)
        let lines = splitter.feed(.init(string: "ED\"}\n{\"a\":1}\n{\"b\""))
        #expect(lines.map { String(decoding: $0, as: UTF8.self) } == [#"{"type":"ADDED"}"#, #"{"a":1}"#])
        #expect(splitter.feed(.init(string: ":2}\n")).map { String(decoding: $0, as: UTF8.self) } == [#"{"b":2}"#])
    }

    @Test func watchEventsDecode() throws {
        let added = try KubernetesClient.decodeEvent(
            ConfigMap.self, Data(#"{"type":"ADDED","object":{"metadata":{"name":"a","namespace":"n","resourceVersion":"7"},"data":{"k":"v"}}}"#.utf8))
        guard case .added(let cm) = added else { Issue.record("\(added)"); return }
        #expect(cm.data == ["k": "v"] && cm.key == "n/a" && added.resourceVersion == "7")
        let bookmark = try KubernetesClient.decodeEvent(
            EndpointSlice.self, Data(#"{"type":"BOOKMARK","object":{"kind":"EndpointSlice","metadata":{"resourceVersion":"99"}}}"#.utf8))
        #expect(bookmark.resourceVersion == "99")
        #expect {
            try KubernetesClient.decodeEvent(
                Pod.self, Data(#"{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old"}}"#.utf8))
        } throws: { ($0 as? KubernetesError)?.isGone == true }
    }
}
