import JSON

/// A key of a Secret (or, for TLS CAs/certs and OAuth2 client ids, a ConfigMap) that a resource
/// references. References are always resolved in the resource's own namespace.
public struct SecretReference: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        case secret
        case configMap
    }

    public var kind: Kind
    public var namespace: String
    public var name: String
    public var key: String

    public init(kind: Kind = .secret, namespace: String, name: String, key: String) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.key = key
    }

    public var description: String {
        "key \"\(key)\" in \(kind == .secret ? "secret" : "configmap") \"\(namespace)/\(name)\""
    }
}

/// Resolves a reference to its value, or nil when the object or key is missing (or not readable).
public typealias SecretLookup = @Sendable (SecretReference) -> String?

/// Renders the HTTP client fields of a resource (TLS, basic auth, authorization, OAuth2, proxy)
/// the way prometheus-operator does with `WithInlineTLSConfig`, reading secrets as it goes.
struct HTTPRenderer {
    let namespace: String
    let secrets: SecretLookup

    func secretKey(_ f: Field) throws(ResourceError) -> String {
        let name = try f["name"].string() ?? ""
        let key = try f["key"].string() ?? ""
        if key.isEmpty { throw f.fail("secret key selector needs a key") }
        let ref = SecretReference(kind: .secret, namespace: namespace, name: name, key: key)
        guard let value = secrets(ref) else { throw f.fail("unable to get \(ref)") }
        return value
    }

    /// A `SecretOrConfigMap`; nil when neither is set.
    func secretOrConfigMap(_ f: Field) throws(ResourceError) -> String? {
        let secret = f["secret"], configMap = f["configMap"]
        switch (secret.isSet, configMap.isSet) {
        case (false, false): return nil
        case (true, true): throw f.fail("SecretOrConfigMap can not specify both Secret and ConfigMap")
        case (true, false): return try secretKey(secret)
        case (false, true):
            let name = try configMap["name"].string() ?? ""
            let key = try configMap["key"].string() ?? ""
            let ref = SecretReference(kind: .configMap, namespace: namespace, name: name, key: key)
            guard let value = secrets(ref) else { throw configMap.fail("unable to get \(ref)") }
            return value
        }
    }

    /// `tls_config` from a `SafeTLSConfig`, plus the file fields of a `TLSConfig` when
    /// `readFiles`. `fallbackFiles` is a scrape class' TLS config whose file fields fill in where
    /// the resource sets neither the file nor the secret.
    func tls(_ f: Field, readFiles: Bool, fallbackFiles: Field? = nil) throws(ResourceError) -> JSONValue {
        var o = ObjectBuilder()
        if let skip = try f["insecureSkipVerify"].bool() { o.set("insecure_skip_verify", skip) }
        let hasCA = f["ca"]["secret"].isSet || f["ca"]["configMap"].isSet
        let hasCert = f["cert"]["secret"].isSet || f["cert"]["configMap"].isSet
        let hasKey = f["keySecret"].isSet
        if hasCert && !hasKey { throw f.fail("client cert specified without client key") }
        if hasKey && !hasCert { throw f.fail("client key specified without client cert") }
        if let ca = try secretOrConfigMap(f["ca"]) { o.set("ca", ca) }
        if let cert = try secretOrConfigMap(f["cert"]) { o.set("cert", cert) }
        if hasKey { o.set("key", try secretKey(f["keySecret"])) }
        if let serverName = try f["serverName"].string(), !serverName.isEmpty { o.set("server_name", serverName) }
        let minVersion = try f["minVersion"].string(), maxVersion = try f["maxVersion"].string()
        if let minVersion, let maxVersion, goLess(maxVersion, minVersion) {
            throw f.fail("maxVersion must more than or equal to minVersion")
        }
        if let minVersion { o.set("min_version", minVersion) }
        if let maxVersion { o.set("max_version", maxVersion) }
        var caFile = readFiles ? try f["caFile"].string() ?? "" : ""
        var certFile = readFiles ? try f["certFile"].string() ?? "" : ""
        var keyFile = readFiles ? try f["keyFile"].string() ?? "" : ""
        if let fb = fallbackFiles {
            if caFile.isEmpty && !hasCA { caFile = try fb["caFile"].string() ?? "" }
            if certFile.isEmpty && !hasCert { certFile = try fb["certFile"].string() ?? "" }
            if keyFile.isEmpty && !hasKey { keyFile = try fb["keyFile"].string() ?? "" }
        }
        if !caFile.isEmpty { o.set("ca_file", caFile) }
        if !certFile.isEmpty { o.set("cert_file", certFile) }
        if !keyFile.isEmpty { o.set("key_file", keyFile) }
        return o.value
    }

    /// `tls_config` for a resource merged with its scrape class (`mergeTLSConfigWithScrapeClass`).
    /// `fullTLS`: the field is a `TLSConfig` (ServiceMonitor endpoints: any present value counts and
    /// file fields are read); otherwise a `SafeTLSConfig`, where an empty value counts as unset.
    func tlsWithClass(_ f: Field, fullTLS: Bool, scrapeClass: ScrapeClass?) throws(ResourceError) -> JSONValue? {
        let classTLS = scrapeClass?.tlsConfig.map { Field($0, path: "scrapeClass.tlsConfig") }
        let unset = fullTLS ? !f.isSet : ((try f.object()).map { $0.isEmpty } ?? true)
        if unset {
            guard let classTLS else { return nil }
            return try tls(classTLS, readFiles: true)
        }
        return try tls(f, readFiles: fullTLS, fallbackFiles: classTLS)
    }

    func basicAuth(_ f: Field) throws(ResourceError) -> JSONValue? {
        guard f.isSet else { return nil }
        var o = ObjectBuilder()
        o.set("username", try secretKey(f["username"]))
        o.set("password", try secretKey(f["password"]))
        return o.value
    }

    /// `authorization` from a `SafeAuthorization`, merged with the scrape class' like
    /// `mergeAuthorizationWithScrapeClass`.
    func authorization(_ f: Field, scrapeClass: ScrapeClass?) throws(ResourceError) -> JSONValue? {
        let classAuth = scrapeClass?.authorization.map { Field($0, path: "scrapeClass.authorization") }
        let resourceSet = (try f.object()).map { !$0.isEmpty } ?? false
        let source: Field
        var credentials: Field?
        var credentialsFile = ""
        if resourceSet {
            source = f
            if f["credentials"].isSet { credentials = f["credentials"] }
            if let classAuth, credentials == nil {
                if classAuth["credentials"].isSet {
                    credentials = classAuth["credentials"]
                } else {
                    credentialsFile = try classAuth["credentialsFile"].string() ?? ""
                }
            }
        } else if let classAuth {
            source = classAuth
            if classAuth["credentials"].isSet { credentials = classAuth["credentials"] }
            credentialsFile = try classAuth["credentialsFile"].string() ?? ""
        } else {
            return nil
        }
        var type = try source["type"].string() ?? ""
        if type.isEmpty { type = "Bearer" }
        if type.lowercased() == "basic" {
            throw source.fail("authorization type cannot be set to \"basic\", use \"basic_auth\" instead")
        }
        var o = ObjectBuilder()
        o.set("type", type.trimmingSpaces)
        if let credentials { o.set("credentials", try secretKey(credentials)) }
        if !credentialsFile.isEmpty { o.set("credentials_file", credentialsFile) }
        return o.value
    }

    func oauth2(_ f: Field) throws(ResourceError) -> JSONValue? {
        guard f.isSet else { return nil }
        guard let clientID = try secretOrConfigMap(f["clientId"]) else { throw f["clientId"].fail("required field is missing") }
        var o = ObjectBuilder()
        o.set("client_id", clientID)
        o.set("client_secret", try secretKey(f["clientSecret"]))
        o.set("token_url", try f["tokenUrl"].requiredString())
        if let scopes = try f["scopes"].stringArray(), !scopes.isEmpty { o.set("scopes", strings: scopes) }
        if let params = try f["endpointParams"].stringMap(), !params.isEmpty { o.set("endpoint_params", .stringMap(params)) }
        try proxy(f, into: &o)
        if f["tlsConfig"].isSet { o.set("tls_config", try tls(f["tlsConfig"], readFiles: false)) }
        return o.value
    }

    /// The inline `ProxyConfig` fields.
    func proxy(_ f: Field, into o: inout ObjectBuilder) throws(ResourceError) {
        if let url = try f["proxyUrl"].string() { o.set("proxy_url", url) }
        if let noProxy = try f["noProxy"].string() { o.set("no_proxy", noProxy) }
        if let env = try f["proxyFromEnvironment"].bool() { o.set("proxy_from_environment", env) }
        if let headers = try f["proxyConnectHeader"].object() {
            var h = ObjectBuilder()
            for name in headers.map(\.key).sorted(by: goLess) {
                var values: [String] = []
                for item in try f["proxyConnectHeader"][name].array() ?? [] {
                    values.append(try secretKey(item))
                }
                h.set(name, strings: values)
            }
            o.set("proxy_connect_header", h.value)
        }
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}
