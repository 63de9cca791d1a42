/// One `file_sd_configs` entry: glob patterns (a `*` only in the last path element) of JSON
/// or YAML files, each a list of target groups, re-read every `refresh_interval`.
public struct FileSDConfig: Sendable, Hashable {
    public var files: [String]
    /// Prometheus's default is 5 minutes.
    public var refreshInterval: Duration

    public init(files: [String], refreshInterval: Duration = .seconds(300)) {
        self.files = files
        self.refreshInterval = refreshInterval
    }
}

/// One `http_sd_configs` entry: a URL answering with the complete list of target groups.
public struct HTTPSDConfig: Sendable, Hashable {
    public struct BasicAuth: Sendable, Hashable {
        public var username: String
        public var usernameFile: String?
        public var password: String?
        public var passwordFile: String?

        public init(username: String = "", usernameFile: String? = nil, password: String? = nil, passwordFile: String? = nil) {
            self.username = username
            self.usernameFile = usernameFile
            self.password = password
            self.passwordFile = passwordFile
        }
    }

    public struct Authorization: Sendable, Hashable {
        /// `Bearer` unless configured.
        public var type: String
        public var credentials: String?
        public var credentialsFile: String?

        public init(type: String = "Bearer", credentials: String? = nil, credentialsFile: String? = nil) {
            self.type = type
            self.credentials = credentials
            self.credentialsFile = credentialsFile
        }
    }

    public struct TLSConfig: Sendable, Hashable {
        public var caFile: String?
        public var ca: String?
        public var certFile: String?
        public var cert: String?
        public var keyFile: String?
        public var key: String?
        public var serverName: String?
        public var insecureSkipVerify: Bool

        public init(
            caFile: String? = nil, ca: String? = nil, certFile: String? = nil, cert: String? = nil, keyFile: String? = nil,
            key: String? = nil, serverName: String? = nil, insecureSkipVerify: Bool = false
        ) {
            self.caFile = caFile
            self.ca = ca
            self.certFile = certFile
            self.cert = cert
            self.keyFile = keyFile
            self.key = key
            self.serverName = serverName
            self.insecureSkipVerify = insecureSkipVerify
        }
    }

    public var url: String
    /// Prometheus's default is 60 seconds; it is also the request timeout.
    public var refreshInterval: Duration
    public var basicAuth: BasicAuth?
    /// Also set from the deprecated `bearer_token` / `bearer_token_file`.
    public var authorization: Authorization?
    public var tlsConfig: TLSConfig?
    public var followRedirects: Bool
    public var enableHTTP2: Bool
    /// Extra request headers (`http_headers.<name>.values`).
    public var headers: [(name: String, value: String)] {
        get { headerPairs.map { ($0.name, $0.value) } }
        set { headerPairs = newValue.map { HeaderPair(name: $0.name, value: $0.value) } }
    }

    struct HeaderPair: Sendable, Hashable {
        var name: String
        var value: String
    }
    var headerPairs: [HeaderPair] = []

    public init(
        url: String, refreshInterval: Duration = .seconds(60), basicAuth: BasicAuth? = nil, authorization: Authorization? = nil,
        tlsConfig: TLSConfig? = nil, followRedirects: Bool = true, enableHTTP2: Bool = true
    ) {
        self.url = url
        self.refreshInterval = refreshInterval
        self.basicAuth = basicAuth
        self.authorization = authorization
        self.tlsConfig = tlsConfig
        self.followRedirects = followRedirects
        self.enableHTTP2 = enableHTTP2
    }
}
