import JSON

extension Generation {
    /// SD mechanisms of the ScrapeConfig CRD this allocator cannot discover with; a resource that
    /// uses one is skipped rather than silently losing targets.
    static let unsupportedSDFields = [
        "consulSDConfigs", "ec2SDConfigs", "azureSDConfigs", "gceSDConfigs", "openstackSDConfigs",
        "digitalOceanSDConfigs", "kumaSDConfigs", "eurekaSDConfigs", "dockerSDConfigs", "linodeSDConfigs",
        "hetznerSDConfigs", "nomadSDConfigs", "dockerSwarmSDConfigs", "puppetDBSDConfigs", "lightSailSDConfigs",
        "ovhcloudSDConfigs", "scalewaySDConfigs", "ionosSDConfigs",
    ]

    static let kubernetesRoles = ["pod", "endpoints", "endpointslice", "ingress", "service", "node"]

    // MARK: ScrapeConfig (generateScrapeConfig)

    func scrapeConfig(_ r: Resource) throws(ResourceError) -> GeneratedJob {
        let spec = r.spec
        let scrapeClass = try scrapeClass(spec)
        let http = renderer(r)
        for field in Self.unsupportedSDFields where ((try spec[field].array()) ?? []).isEmpty == false {
            throw spec[field].fail("not supported by this target allocator")
        }
        try checkIntervals(interval: spec["scrapeInterval"], timeout: spec["scrapeTimeout"])

        let jobName = "scrapeConfig/\(r.namespace)/\(r.name)"
        var o = ObjectBuilder()
        o.set("job_name", jobName)
        var rl: [JSONValue] = [Self.jobToTmp]
        rl += try classRules(scrapeClass?.relabelings, "scrapeClass.relabelings")
        if let job = try spec["jobName"].string() {
            rl.append(Self.rule([("target_label", .string("job")), ("action", .string("replace")), ("replacement", .string(job))]))
        }
        if let v = try spec["honorTimestamps"].bool() { o.set("honor_timestamps", v) }
        if let v = try spec["trackTimestampsStaleness"].bool() { o.set("track_timestamps_staleness", v) }
        if let v = try spec["honorLabels"].bool() { o.set("honor_labels", v) }
        if let v = try spec["metricsPath"].string() { o.set("metrics_path", v) }
        if let params = try spec["params"].stringListMap(), !params.isEmpty {
            o.set("params", .object(params.map { JSONMember($0.0, .strings($0.1)) }))
        }
        if let v = try spec["enableCompression"].bool() { o.set("enable_compression", v) }
        if let v = try spec["enableHTTP2"].bool() { o.set("enable_http2", v) }
        if let v = try spec["scrapeInterval"].string() { o.set("scrape_interval", v) }
        if let v = try spec["scrapeTimeout"].string() { o.set("scrape_timeout", v) }
        try protocols(spec, scrapeClass: scrapeClass, into: &o)
        if let v = try spec["scheme"].string() { o.set("scheme", v.lowercased()) }
        try http.proxy(spec, into: &o)
        try checkExclusiveAuth(spec)
        if let v = try http.basicAuth(spec["basicAuth"]) { o.set("basic_auth", v) }
        if let v = try http.authorization(spec["authorization"], scrapeClass: scrapeClass) { o.set("authorization", v) }
        if let v = try http.oauth2(spec["oauth2"]) { o.set("oauth2", v) }
        if let v = try http.tlsWithClass(spec["tlsConfig"], fullTLS: false, scrapeClass: scrapeClass) { o.set("tls_config", v) }
        try limits(spec, into: &o)
        if let v = try spec["bodySizeLimit"].string(), !v.isEmpty { o.set("body_size_limit", v) }

        if let items = try spec["staticConfigs"].array(), !items.isEmpty {
            var out: [JSONValue] = []
            for item in items {
                var s = ObjectBuilder()
                s.set("targets", strings: try item["targets"].stringArray() ?? [])
                s.set("labels", .stringMap(try item["labels"].stringMap() ?? []))
                out.append(s.value)
            }
            o.set("static_configs", .array(out))
        }
        if let items = try spec["fileSDConfigs"].array(), !items.isEmpty {
            var out: [JSONValue] = []
            for item in items {
                var s = ObjectBuilder()
                s.set("files", strings: try item["files"].stringArray() ?? [])
                if let v = try item["refreshInterval"].string() { s.set("refresh_interval", v) }
                out.append(s.value)
            }
            o.set("file_sd_configs", .array(out))
        }
        if let items = try spec["httpSDConfigs"].array(), !items.isEmpty {
            var out: [JSONValue] = []
            for item in items {
                try checkExclusiveAuth(item)
                var s = ObjectBuilder()
                if let v = try http.basicAuth(item["basicAuth"]) { s.set("basic_auth", v) }
                if let v = try http.authorization(item["authorization"], scrapeClass: nil) { s.set("authorization", v) }
                if item["tlsConfig"].isSet { s.set("tls_config", try http.tls(item["tlsConfig"], readFiles: false)) }
                try http.proxy(item, into: &s)
                if let v = try http.oauth2(item["oauth2"]) { s.set("oauth2", v) }
                s.set("url", try item["url"].requiredString())
                if let v = try item["refreshInterval"].string() { s.set("refresh_interval", v) }
                if let v = try item["followRedirects"].bool() { s.set("follow_redirects", v) }
                if let v = try item["enableHTTP2"].bool() { s.set("enable_http2", v) }
                out.append(s.value)
            }
            o.set("http_sd_configs", .array(out))
        }
        if let items = try spec["kubernetesSDConfigs"].array(), !items.isEmpty {
            var out: [JSONValue] = []
            for item in items {
                try checkExclusiveAuth(item)
                var s = ObjectBuilder()
                if let v = try item["apiServer"].string() { s.set("api_server", v) }
                let role = (try item["role"].string() ?? "").lowercased()
                guard Self.kubernetesRoles.contains(role) else { throw item["role"].fail("unknown Kubernetes role \"\(role)\"") }
                s.set("role", role)
                if let v = try http.basicAuth(item["basicAuth"]) { s.set("basic_auth", v) }
                if let v = try http.authorization(item["authorization"], scrapeClass: nil) { s.set("authorization", v) }
                if let v = try http.oauth2(item["oauth2"]) { s.set("oauth2", v) }
                try http.proxy(item, into: &s)
                if let v = try item["followRedirects"].bool() { s.set("follow_redirects", v) }
                if let v = try item["enableHTTP2"].bool() { s.set("enable_http2", v) }
                if item["tlsConfig"].isSet { s.set("tls_config", try http.tls(item["tlsConfig"], readFiles: false)) }
                if item["namespaces"].isSet {
                    var n = ObjectBuilder()
                    n.set("names", strings: try item["namespaces"]["names"].stringArray() ?? [])
                    if let own = try item["namespaces"]["ownNamespace"].bool() { n.set("own_namespace", own) }
                    s.set("namespaces", n.value)
                }
                if let selectors = try item["selectors"].array(), !selectors.isEmpty {
                    var list: [JSONValue] = []
                    for sel in selectors {
                        var e = ObjectBuilder()
                        e.set("role", (try sel["role"].string() ?? "").lowercased())
                        if let v = try sel["label"].string() { e.set("label", v) }
                        if let v = try sel["field"].string() { e.set("field", v) }
                        list.append(e.value)
                    }
                    s.set("selectors", .array(list))
                }
                // Prometheus only knows attach_metadata for these roles; the operator drops it otherwise.
                if item["attachMetadata"].isSet, ["pod", "endpoints", "endpointslice"].contains(role) {
                    var a = ObjectBuilder()
                    if let node = try item["attachMetadata"]["node"].bool() { a.set("node", node) }
                    s.set("attach_metadata", a.value)
                }
                out.append(s.value)
            }
            o.set("kubernetes_sd_configs", .array(out))
        }
        if let items = try spec["dnsSDConfigs"].array(), !items.isEmpty {
            var out: [JSONValue] = []
            for item in items {
                var s = ObjectBuilder()
                s.set("names", strings: try item["names"].stringArray() ?? [])
                if let v = try item["refreshInterval"].string() { s.set("refresh_interval", v) }
                // NS needs Prometheus 2.49 and MX 2.38; the targeted version has both.
                if let v = try item["type"].string() { s.set("type", v) }
                if let v = try item["port"].int() { s.set("port", v) }
                out.append(s.value)
            }
            o.set("dns_sd_configs", .array(out))
        }

        let user = try rules.convert(spec["relabelings"])
        rl += user
        if settings.shards != 1, !rl.contains(where: { $0["action"]?.stringValue == "hashmod" }) {
            rl += sharding(label: "__address__")
        }
        o.set("relabel_configs", .array(rl))
        let metric = try classRules(scrapeClass?.metricRelabelings, "scrapeClass.metricRelabelings") + (try rules.convert(spec["metricRelabelings"]))
        if !metric.isEmpty { o.set("metric_relabel_configs", .array(metric)) }
        if let v = try spec["nameValidationScheme"].string() { o.set("metric_name_validation_scheme", v.lowercased() == "utf8" ? "utf8" : "legacy") }
        if let v = try spec["nameEscapingScheme"].string() { o.set("metric_name_escaping_scheme", Self.escapingScheme(v)) }
        return GeneratedJob(jobName: jobName, scrapeConfig: o.value, source: jobName)
    }

    static func escapingScheme(_ v: String) -> String {
        switch v {
        case "AllowUTF8": return "allow-utf-8"
        case "Underscores": return "underscores"
        case "Dots": return "dots"
        case "Values": return "values"
        default: return v.lowercased()
        }
    }
}
