import Foundation
import JSON
import TestSupport
import Testing

/// Every value of type `Secret` in Prometheus's config model is withheld from clients that are
/// not mTLS-verified (issue 14). The list below is written by hand from the Go structs of
/// prometheus/prometheus v3.14.0 (`discovery/*/*.go`, each registered `SDConfig`) and
/// prometheus/common v0.70.1 (`config/http_config.go`, `config/headers.go`), the versions the
/// upstream allocator builds against; the allocator derives its own schema from the same structs
/// with `scripts/derive-secret-fields.py`, so this is a second, independent reading.
@Suite(.serialized) struct SecretRedactionTests {
    /// Each registered mechanism: its own `Secret` fields, and whether it embeds the HTTP
    /// client config (`HTTPClientConfig yaml:",inline"`).
    static let mechanisms: [(name: String, secrets: [String], httpClient: Bool)] = [
        ("aws", ["secret_key"], true), ("azure", ["client_secret"], true), ("consul", ["token", "password"], true),
        // dns has no Secret and is left out: its discovery would send queries off this machine.
        ("digitalocean", [], true), ("docker", [], true), ("dockerswarm", [], true), ("ec2", ["secret_key"], true),
        ("ecs", ["secret_key"], true), ("elasticache", ["secret_key"], true), ("eureka", [], true), ("file", [], false), ("gce", [], false),
        ("hetzner", [], true), ("http", [], true), ("ionos", [], true), ("kubernetes", [], true), ("kuma", [], true),
        ("lightsail", ["secret_key"], true), ("linode", [], true), ("marathon", ["auth_token"], true), ("msk", ["secret_key"], true),
        ("nerve", [], false), ("nomad", [], true), ("oci", ["key_passphrase"], true),
        ("openstack", ["password", "application_credential_secret", "tls_config.key"], false), ("outscale", ["secret_key"], true),
        ("ovhcloud", ["application_secret", "consumer_key"], false), ("puppetdb", [], true), ("rds", ["secret_key"], true),
        ("scaleway", ["secret_key"], true), ("serverset", [], false), ("stackit", ["service_account_key", "private_key"], true),
        ("triton", ["tls_config.key"], false), ("uyuni", ["password"], true), ("vultr", [], true),
    ]

    /// The HTTP client config's `Secret`s, reachable from every scrape config and from every
    /// mechanism that embeds it. One authentication method per client (Prometheus allows one).
    static let clientJobs: [(job: String, yaml: String, secrets: [String])] = [
        (
            "client-basic",
            """
                basic_auth: {username: u, password: SECRET-basic-password}
                tls_config: {cert: CERT-TEXT, key: SECRET-tls-key}
                proxy_url: http://proxy.example:3128
                proxy_connect_header: {X-Proxy-A: [SECRET-proxy-a1, SECRET-proxy-a2], X-Proxy-B: [SECRET-proxy-b]}
                http_headers: {X-Tenant: {values: [visible-header-value], secrets: [SECRET-header-1, SECRET-header-2]}}
            """,
            ["SECRET-basic-password", "SECRET-tls-key", "SECRET-proxy-a1", "SECRET-proxy-a2", "SECRET-proxy-b", "SECRET-header-1", "SECRET-header-2"]
        ),
        ("client-authorization", "    authorization: {type: Bearer, credentials: SECRET-authorization-credentials}\n", ["SECRET-authorization-credentials"]),
        ("client-bearer", "    bearer_token: SECRET-bearer-token\n", ["SECRET-bearer-token"]),
        (
            "client-oauth2",
            """
                oauth2:
                  client_id: visible-client-id
                  client_secret: SECRET-oauth2-client-secret
                  token_url: https://token.example/
                  tls_config: {cert: CERT-TEXT, key: SECRET-oauth2-tls-key}
                  proxy_url: http://proxy.example:3128
                  proxy_connect_header: {X-Proxy: [SECRET-oauth2-proxy]}
            """,
            ["SECRET-oauth2-client-secret", "SECRET-oauth2-tls-key", "SECRET-oauth2-proxy"]
        ),
        (
            "client-oauth2-jwt",
            """
                oauth2:
                  client_id: visible-client-id
                  grant_type: urn:ietf:params:oauth:grant-type:jwt-bearer
                  client_certificate_key_id: visible-key-id
                  client_certificate_key: SECRET-oauth2-certificate-key
                  token_url: https://token.example/
            """,
            ["SECRET-oauth2-certificate-key"]
        ),
    ]

    /// `a.b` → `{a: {b: value}}` as a YAML flow mapping entry.
    static func entry(_ path: String, _ value: String) -> String {
        let parts = path.split(separator: ".")
        return parts.dropLast().reversed().reduce("\(parts.last!): \(value)") { "\($1): {\($0)}" }
    }

    static func config(httpsPort: Int, certs: TestCertificates) -> (yaml: String, secrets: [String]) {
        var secrets: [String] = []
        var yaml = """
            collector_namespace: observability
            allow_insecure_auth_secrets: true
            leader_election: {lease_duration: 3s, renew_deadline: 2s, retry_period: 500ms}
            snapshot: {min_write_interval: 100ms}
            https:
              listen_addr: 127.0.0.1:\(httpsPort)
              ca_file_path: \(certs.caCert)
              tls_cert_file_path: \(certs.serverCert)
              tls_key_file_path: \(certs.serverKey)
            config:
              scrape_configs:

            """
        for client in clientJobs {
            yaml += "  - job_name: \(client.job)\n" + client.yaml.split(separator: "\n").map { $0 + "\n" }.joined()
            yaml += "    static_configs: [{targets: [\"10.0.0.1:80\"], labels: {password: VISIBLE-label-password, token: VISIBLE-label-token}}]\n"
            secrets += client.secrets
        }
        for mechanism in mechanisms {
            var fields = mechanism.secrets.map { entry($0, "SECRET-\(mechanism.name)-\($0)") }
            secrets += mechanism.secrets.map { "SECRET-\(mechanism.name)-\($0)" }
            if mechanism.httpClient {
                fields.append("basic_auth: {username: visible-user, password: SECRET-\(mechanism.name)-basic_auth.password}")
                secrets.append("SECRET-\(mechanism.name)-basic_auth.password")
            }
            switch mechanism.name {
            // Discovery runs for the mechanisms we implement: point them at a closed local port.
            case "http": fields.append("url: http://127.0.0.1:1/targets")
            case "kubernetes": fields += ["role: pod", "api_server: http://127.0.0.1:1"]
            case "file": fields.append("files: [/nonexistent/*.json]")
            case "gce": fields.append("project: visible-gce-project")
            case "consul": fields.append("username: visible-consul-username")  // a plain string beside a Secret
            case "ec2": fields.append("access_key: visible-access-key")
            default: break
            }
            yaml += "  - job_name: sd-\(mechanism.name)\n    \(mechanism.name)_sd_configs: [{\(fields.joined(separator: ", "))}]\n"
        }
        // A mechanism Prometheus does not have: its fields cannot be typed, so all are withheld.
        yaml += "  - job_name: sd-unknown\n    future_sd_configs: [{endpoint: http://future.example, api_key: SECRET-future-api-key}]\n"
        return (yaml, secrets)
    }

    @Test func noSecretOverPlainHTTPAllForMTLSClients() async throws {
        let harness = try await ReplicaProcessHarness()
        let certs = try TestCertificates()
        defer { certs.remove() }
        do {
            let http = try freePort()
            let https = try freePort()
            let (yaml, secrets) = Self.config(httpsPort: https, certs: certs)
            #expect(Set(secrets).count == secrets.count, "distinct secret values")
            try harness.dir.write("config.yaml", yaml)
            // The file enables secrets over plain HTTP, the flag turns that off again; HTTPS is
            // enabled by the flag with its certificate paths only in the file.
            try harness.start([
                "--config-file=\(harness.dir.path("config.yaml"))", "--listen-addr=127.0.0.1:\(http)", "--enable-https-server=true",
                "--allow-insecure-auth-secrets=false",
            ])
            let plainURL = "http://127.0.0.1:\(http)/scrape_configs"
            let tlsArgs = ["--cacert", certs.caCert, "--cert", certs.clientCert, "--key", certs.clientKey]
            let tlsURL = "https://127.0.0.1:\(https)/scrape_configs"
            #expect(await ReplicaProcessHarness.ready(plainURL), "\(harness.log().suffix(3000))")
            let plain = try #require(await ReplicaProcessHarness.get(plainURL))
            let mtls = try #require(await ReplicaProcessHarness.get(tlsURL, tlsArgs))
            #expect(plain.status == 200 && mtls.status == 200)
            let jobs = Self.clientJobs.map(\.job) + Self.mechanisms.map { "sd-\($0.name)" } + ["sd-unknown"]
            let servedJobs = Set((try JSONValue.parse(plain.body)).objectKeys)
            #expect(servedJobs == Set(jobs), "served \(servedJobs.symmetricDifference(jobs))")

            for secret in secrets + ["SECRET-future-api-key"] {
                #expect(!plain.body.contains(secret), "\(secret) served over plain HTTP")
                #expect(mtls.body.contains(secret), "\(secret) missing for the mTLS client")
            }
            // Exactly the secrets are withheld, nothing else typed as a string (the unknown
            // mechanism's two strings aside): a name is not a type.
            #expect(try JSONValue.parse(plain.body).count(of: "<secret>") == secrets.count + 2)
            #expect(try JSONValue.parse(mtls.body).count(of: "<secret>") == 0)
            for visible in [
                "VISIBLE-label-password", "VISIBLE-label-token", "visible-header-value", "visible-client-id", "visible-key-id", "visible-user",
                "visible-consul-username", "visible-access-key", "CERT-TEXT", "visible-gce-project",
            ] {
                #expect(plain.body.contains(visible), "\(visible) redacted over plain HTTP")
            }

            // A second replica whose file allows secrets over plain HTTP, without the flag.
            let followerHTTP = try freePort()
            try harness.dir.write("follower.yaml", yaml.replacingOccurrences(of: "https:\n", with: "unused_https:\n"))
            try harness.start(
                ["--config-file", harness.dir.path("follower.yaml"), "--listen-addr", "127.0.0.1:\(followerHTTP)"], identity: "ta-1",
                log: "follower.log")
            let followerURL = "http://127.0.0.1:\(followerHTTP)/scrape_configs"
            #expect(await ReplicaProcessHarness.ready(followerURL), "\(harness.log("follower.log").suffix(3000))")
            let follower = try #require(await ReplicaProcessHarness.get(followerURL))
            #expect(secrets.allSatisfy { follower.body.contains($0) }, "allow_insecure_auth_secrets from the file")
        } catch {
            await harness.shutdown()
            throw error
        }
        await harness.shutdown()
    }
}

extension JSONValue {
    /// How many string values, at any depth, are exactly `text`.
    func count(of text: String) -> Int {
        switch self {
        case .string(let s): s.utf8.elementsEqual(text.utf8) ? 1 : 0
        case .array(let items): items.reduce(0) { $0 + $1.count(of: text) }
        case .object(let members): members.reduce(0) { $0 + $1.value.count(of: text) }
        default: 0
        }
    }

    var objectKeys: [String] {
        if case .object(let members) = self { return members.map(\.key) }
        return []
    }
}
