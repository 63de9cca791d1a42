public import Foundation
import Yams

/// Everything needed to reach one API server as one identity.
public struct ClusterConfiguration: Sendable {
    /// `https://host:port` (or `http://` for a local emulator).
    public var server: String
    public var tls: TLS
    public var credentials: Credentials
    /// The namespace to use when none is given (in-cluster: the service account's).
    public var namespace: String?
    /// Timeout of one non-watch request.
    public var requestTimeout: Duration = .seconds(10)
    /// Client-side rate limit (client-go's defaults are 5 QPS, burst 10; we read more).
    public var queriesPerSecond: Double = 50
    public var burst: Int = 100

    public init(server: String, tls: TLS = TLS(), credentials: Credentials = .none, namespace: String? = nil) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.tls = tls
        self.credentials = credentials
        self.namespace = namespace
    }

    public struct TLS: Sendable {
        /// PEM bytes of the CA bundle that signs the server certificate; nil = system roots.
        public var caPEM: Data?
        public var clientCertificatePEM: Data?
        public var clientKeyPEM: Data?
        public var insecureSkipVerify = false
        public var serverName: String?

        public init(caPEM: Data? = nil, clientCertificatePEM: Data? = nil, clientKeyPEM: Data? = nil, insecureSkipVerify: Bool = false) {
            self.caPEM = caPEM
            self.clientCertificatePEM = clientCertificatePEM
            self.clientKeyPEM = clientKeyPEM
            self.insecureSkipVerify = insecureSkipVerify
        }
    }

    public enum Credentials: Sendable {
        case none
        case token(String)
        /// Re-read periodically: projected service-account tokens rotate.
        case tokenFile(String)
        /// A client-go credential plugin (`users[].user.exec`).
        case exec(ExecPlugin)
        case basic(username: String, password: String)
    }

    public struct ExecPlugin: Sendable, Hashable {
        public var command: String
        public var arguments: [String]
        public var environment: [String: String]
        public var apiVersion: String

        public init(command: String, arguments: [String] = [], environment: [String: String] = [:], apiVersion: String) {
            self.command = command
            self.arguments = arguments
            self.environment = environment
            self.apiVersion = apiVersion
        }
    }

    // MARK: - in-cluster

    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// The pod's own configuration: `KUBERNETES_SERVICE_HOST/PORT`, the service-account
    /// token (re-read as it rotates), CA and namespace files.
    public static func inCluster(
        environment: [String: String] = ProcessInfo.processInfo.environment, directory: String = serviceAccountDirectory
    ) throws -> ClusterConfiguration {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], let port = environment["KUBERNETES_SERVICE_PORT"] else {
            throw KubernetesError.configuration("not running in a cluster: KUBERNETES_SERVICE_HOST/PORT are not set")
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        let ca = try? Data(contentsOf: URL(fileURLWithPath: "\(directory)/ca.crt"))
        let namespace = (try? String(contentsOfFile: "\(directory)/namespace", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard FileManager.default.fileExists(atPath: "\(directory)/token") else {
            throw KubernetesError.configuration("no service-account token at \(directory)/token")
        }
        return ClusterConfiguration(
            server: "https://\(hostPart):\(port)", tls: TLS(caPEM: ca), credentials: .tokenFile("\(directory)/token"),
            namespace: namespace)
    }

    // MARK: - kubeconfig

    /// Loads a kubeconfig: `path`, else `$KUBECONFIG` (first existing of a `:` list), else
    /// `~/.kube/config`; `context` defaults to `current-context`.
    public static func kubeconfig(
        path: String? = nil, context: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> ClusterConfiguration {
        let candidates: [String]
        if let path {
            candidates = [path]
        } else if let list = environment["KUBECONFIG"], !list.isEmpty {
            candidates = list.split(separator: ":").map(String.init)
        } else {
            candidates = [(environment["HOME"] ?? NSHomeDirectory()) + "/.kube/config"]
        }
        guard let file = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw KubernetesError.configuration("no kubeconfig found (looked at \(candidates.joined(separator: ", ")))")
        }
        let text = try String(contentsOfFile: file, encoding: .utf8)
        return try parseKubeconfig(text, context: context, baseDirectory: (file as NSString).deletingLastPathComponent)
    }

    static func parseKubeconfig(_ text: String, context requested: String?, baseDirectory: String) throws -> ClusterConfiguration {
        let document: KubeconfigDocument
        do {
            document = try YAMLDecoder().decode(KubeconfigDocument.self, from: text)
        } catch {
            throw KubernetesError.configuration("kubeconfig does not parse: \(error)")
        }
        guard let contextName = requested ?? document.currentContext, !contextName.isEmpty else {
            throw KubernetesError.configuration("kubeconfig names no current-context; pass one")
        }
        guard let context = document.contexts?.first(where: { $0.name == contextName })?.context else {
            throw KubernetesError.configuration("kubeconfig has no context \"\(contextName)\"")
        }
        guard let cluster = document.clusters?.first(where: { $0.name == context.cluster })?.cluster else {
            throw KubernetesError.configuration("kubeconfig has no cluster \"\(context.cluster)\"")
        }
        let user = context.user.flatMap { name in document.users?.first(where: { $0.name == name })?.user }

        func resolve(_ path: String) -> String { path.hasPrefix("/") ? path : baseDirectory + "/" + path }
        func bytes(data: String?, file: String?, what: String) throws -> Data? {
            if let data {
                guard let decoded = Data(base64Encoded: data) else { throw KubernetesError.configuration("\(what) is not base64") }
                return decoded
            }
            if let file {
                do { return try Data(contentsOf: URL(fileURLWithPath: resolve(file))) } catch {
                    throw KubernetesError.configuration("cannot read \(what) file \(resolve(file)): \(error.localizedDescription)")
                }
            }
            return nil
        }

        var tls = TLS(
            caPEM: try bytes(data: cluster.certificateAuthorityData, file: cluster.certificateAuthority, what: "certificate-authority"),
            clientCertificatePEM: try bytes(data: user?.clientCertificateData, file: user?.clientCertificate, what: "client-certificate"),
            clientKeyPEM: try bytes(data: user?.clientKeyData, file: user?.clientKey, what: "client-key"),
            insecureSkipVerify: cluster.insecureSkipTLSVerify ?? false)
        tls.serverName = cluster.tlsServerName

        var credentials = Credentials.none
        if let token = user?.token, !token.isEmpty {
            credentials = .token(token)
        } else if let tokenFile = user?.tokenFile, !tokenFile.isEmpty {
            credentials = .tokenFile(resolve(tokenFile))
        } else if let exec = user?.exec {
            credentials = .exec(
                ExecPlugin(
                    command: exec.command, arguments: exec.args ?? [],
                    environment: Dictionary((exec.env ?? []).map { ($0.name, $0.value) }, uniquingKeysWith: { _, b in b }),
                    apiVersion: exec.apiVersion ?? "client.authentication.k8s.io/v1"))
        } else if let username = user?.username, let password = user?.password {
            credentials = .basic(username: username, password: password)
        }
        return ClusterConfiguration(server: cluster.server, tls: tls, credentials: credentials, namespace: context.namespace)
    }
}

/// The parts of a kubeconfig we honour.
struct KubeconfigDocument: Decodable {
    var currentContext: String?
    var clusters: [Named<Cluster>]?
    var contexts: [Named<Context>]?
    var users: [NamedUser]?

    enum CodingKeys: String, CodingKey {
        case currentContext = "current-context", clusters, contexts, users
    }

    struct Named<T: Decodable>: Decodable {
        var name: String
        var cluster: T?
        var context: T?

        enum CodingKeys: String, CodingKey { case name, cluster, context }
    }

    struct NamedUser: Decodable {
        var name: String
        var user: User?
    }

    struct Cluster: Decodable {
        var server: String
        var certificateAuthority: String?
        var certificateAuthorityData: String?
        var insecureSkipTLSVerify: Bool?
        var tlsServerName: String?

        enum CodingKeys: String, CodingKey {
            case server, certificateAuthority = "certificate-authority", certificateAuthorityData = "certificate-authority-data"
            case insecureSkipTLSVerify = "insecure-skip-tls-verify", tlsServerName = "tls-server-name"
        }
    }

    struct Context: Decodable {
        var cluster: String
        var user: String?
        var namespace: String?
    }

    struct User: Decodable {
        var token: String?
        var tokenFile: String?
        var clientCertificate: String?
        var clientCertificateData: String?
        var clientKey: String?
        var clientKeyData: String?
        var username: String?
        var password: String?
        var exec: Exec?

        enum CodingKeys: String, CodingKey {
            case token, tokenFile, clientCertificate = "client-certificate", clientCertificateData = "client-certificate-data"
            case clientKey = "client-key", clientKeyData = "client-key-data", username, password, exec
        }
    }

    struct Exec: Decodable {
        var command: String
        var args: [String]?
        var env: [EnvVar]?
        var apiVersion: String?
    }

    struct EnvVar: Decodable {
        var name: String
        var value: String
    }
}
