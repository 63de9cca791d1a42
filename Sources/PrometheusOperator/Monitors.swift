import JSON

extension Generation {
    // MARK: ServiceMonitor (generateServiceMonitorConfig)

    func serviceMonitor(_ r: Resource) throws(ResourceError) -> [GeneratedJob] {
        let spec = r.spec
        let (selector, roleMechanism) = try monitorSelector(spec)
        let scrapeClass = try scrapeClass(spec)
        var role = settings.serviceDiscoveryRole.rawValue
        if let sdr = try spec["serviceDiscoveryRole"].string() {
            switch sdr {
            case "Endpoints": role = "endpoints"
            case "EndpointSlice": role = "endpointslice"
            default: throw spec["serviceDiscoveryRole"].fail("unknown service discovery role \"\(sdr)\"")
            }
        }
        let classRelabelings = try classRules(scrapeClass?.relabelings, "scrapeClass.relabelings")
        let classMetricRelabelings = try classRules(scrapeClass?.metricRelabelings, "scrapeClass.metricRelabelings")
        let attachNode = try spec["attachMetadata"].isSet ? (spec["attachMetadata"]["node"].bool() ?? false) : scrapeClass?.attachMetadataNode
        let targetLabels = try spec["targetLabels"].stringArray() ?? []
        let podTargetLabels = try spec["podTargetLabels"].stringArray() ?? []
        let jobLabel = try spec["jobLabel"].string() ?? ""
        let http = renderer(r)

        var jobs: [GeneratedJob] = []
        for ep in try spec["endpoints"].array() ?? [] {
            let index = jobs.count
            try checkExclusiveAuth(ep)
            try checkIntervals(interval: ep["interval"], timeout: ep["scrapeTimeout"])
            let jobName = "serviceMonitor/\(r.namespace)/\(r.name)/\(index)"
            var o = ObjectBuilder()
            o.set("job_name", jobName)
            o.set("honor_labels", try ep["honorLabels"].bool() ?? false)
            if let v = try ep["honorTimestamps"].bool() { o.set("honor_timestamps", v) }
            if let v = try ep["trackTimestampsStaleness"].bool() { o.set("track_timestamps_staleness", v) }
            o.set("kubernetes_sd_configs", try k8sSD(
                namespaceSelector: spec["namespaceSelector"], namespace: r.namespace, role: role, attachNode: attachNode,
                roleSelectors: roleMechanism ? ([role, "service"], selector) : nil))
            try commonEndpointFields(ep, into: &o)
            if let v = try ep["followRedirects"].bool() { o.set("follow_redirects", v) }
            if let v = try ep["enableHttp2"].bool() { o.set("enable_http2", v) }
            try http.proxy(ep, into: &o)
            if let v = try http.oauth2(ep["oauth2"]) { o.set("oauth2", v) }
            if let v = try http.tlsWithClass(ep["tlsConfig"], fullTLS: true, scrapeClass: scrapeClass) { o.set("tls_config", v) }
            if let v = try ep["bearerTokenFile"].string(), !v.isEmpty { o.set("bearer_token_file", v) }
            if ep["bearerTokenSecret"].isSet, let name = try ep["bearerTokenSecret"]["name"].string(), !name.isEmpty {
                o.set("bearer_token", try http.secretKey(ep["bearerTokenSecret"]))
            }
            if let v = try http.basicAuth(ep["basicAuth"]) { o.set("basic_auth", v) }
            if let v = try http.authorization(ep["authorization"], scrapeClass: scrapeClass) { o.set("authorization", v) }

            var rl: [JSONValue] = [Self.jobToTmp]
            if !roleMechanism { rl += selectorRules(selector, prefix: "__meta_kubernetes_service_") }
            let port = try ep["port"].string() ?? ""
            let targetPort = try ep["targetPort"].intOrString()
            if !port.isEmpty {
                rl.append(Self.keep(role == "endpointslice" ? "__meta_kubernetes_endpointslice_port_name" : "__meta_kubernetes_endpoint_port_name", port))
            } else if let targetPort {
                switch targetPort {
                case .string(let s) where !s.isEmpty: rl.append(Self.keep("__meta_kubernetes_pod_container_port_name", s))
                case .int(let n) where n != 0: rl.append(Self.keep("__meta_kubernetes_pod_container_port_number", String(n)))
                default: break
                }
            }
            let flavor = role == "endpointslice" ? "endpointslice" : "endpoint"
            let kindAndName = JSONValue.strings(["__meta_kubernetes_\(flavor)_address_target_kind", "__meta_kubernetes_\(flavor)_address_target_name"])
            for (kind, target) in [("Node", "node"), ("Pod", "pod")] {
                rl.append(Self.rule([
                    ("source_labels", kindAndName), ("separator", .string(";")), ("regex", .string("\(kind);(.*)")),
                    ("replacement", .string("${1}")), ("target_label", .string(target)),
                ]))
            }
            rl.append(Self.copy("__meta_kubernetes_namespace", to: "namespace"))
            rl.append(Self.copy("__meta_kubernetes_service_name", to: "service"))
            rl.append(Self.copy("__meta_kubernetes_pod_name", to: "pod"))
            rl.append(Self.copy("__meta_kubernetes_pod_container_name", to: "container"))
            if try ep["filterRunning"].bool() ?? true { rl.append(Self.runningFilter) }
            for l in targetLabels {
                rl.append(Self.labelFrom("__meta_kubernetes_service_label_\(sanitizeLabelName(l))", to: sanitizeLabelName(l)))
            }
            for l in podTargetLabels {
                rl.append(Self.labelFrom("__meta_kubernetes_pod_label_\(sanitizeLabelName(l))", to: sanitizeLabelName(l)))
            }
            rl.append(Self.rule([("source_labels", .strings(["__meta_kubernetes_service_name"])), ("target_label", .string("job")), ("replacement", .string("${1}"))]))
            if !jobLabel.isEmpty {
                rl.append(Self.labelFrom("__meta_kubernetes_service_label_\(sanitizeLabelName(jobLabel))", to: "job"))
            }
            jobs.append(
                try finishMonitorJob(
                    jobName, o, relabelings: rl, endpoint: ep, port: port, targetPort: targetPort, spec: spec,
                    scrapeClass: scrapeClass, classRelabelings: classRelabelings, classMetricRelabelings: classMetricRelabelings))
        }
        return jobs
    }

    /// The end of a ServiceMonitor or PodMonitor endpoint's job, the same for both kinds: the
    /// `endpoint` label, scrape-class and user relabelings, sharding, limits, protocols and
    /// metric relabelings.
    func finishMonitorJob(
        _ jobName: String, _ builder: ObjectBuilder, relabelings: [JSONValue], endpoint ep: Field, port: String,
        targetPort: IntOrString?, spec: Field, scrapeClass: ScrapeClass?, classRelabelings: [JSONValue],
        classMetricRelabelings: [JSONValue]
    ) throws(ResourceError) -> GeneratedJob {
        var o = builder
        var rl = relabelings
        if !port.isEmpty {
            rl.append(Self.set("endpoint", port))
        } else if let targetPort, !targetPort.text.isEmpty {
            rl.append(Self.set("endpoint", targetPort.text))
        }
        rl += classRelabelings
        rl += try rules.convert(ep["relabelings"])
        rl += sharding(label: "__address__")
        o.set("relabel_configs", .array(rl))

        try limits(spec, into: &o)
        try protocols(spec, scrapeClass: scrapeClass, into: &o)
        if let v = try spec["bodySizeLimit"].string(), !v.isEmpty { o.set("body_size_limit", v) }
        let metric = classMetricRelabelings + (try rules.convert(ep["metricRelabelings"]))
        if !metric.isEmpty { o.set("metric_relabel_configs", .array(metric)) }
        return GeneratedJob(jobName: jobName, scrapeConfig: o.value, source: jobName)
    }

    /// interval, timeout, path, params, scheme: shared by both monitor kinds.
    func commonEndpointFields(_ ep: Field, into o: inout ObjectBuilder) throws(ResourceError) {
        if let v = try ep["interval"].string(), !v.isEmpty { o.set("scrape_interval", v) }
        if let v = try ep["scrapeTimeout"].string(), !v.isEmpty { o.set("scrape_timeout", v) }
        if let v = try ep["path"].string(), !v.isEmpty { o.set("metrics_path", v) }
        if let params = try ep["params"].stringListMap() {
            o.set("params", .object(params.map { JSONMember($0.0, .strings($0.1)) }))
        }
        if let v = try ep["scheme"].string() { o.set("scheme", v.lowercased()) }
    }

    // MARK: PodMonitor (generatePodMonitorConfig)

    func podMonitor(_ r: Resource) throws(ResourceError) -> [GeneratedJob] {
        let spec = r.spec
        let (selector, roleMechanism) = try monitorSelector(spec)
        let scrapeClass = try scrapeClass(spec)
        let classRelabelings = try classRules(scrapeClass?.relabelings, "scrapeClass.relabelings")
        let classMetricRelabelings = try classRules(scrapeClass?.metricRelabelings, "scrapeClass.metricRelabelings")
        let attachNode = try spec["attachMetadata"].isSet ? (spec["attachMetadata"]["node"].bool() ?? false) : scrapeClass?.attachMetadataNode
        let podTargetLabels = try spec["podTargetLabels"].stringArray() ?? []
        let jobLabel = try spec["jobLabel"].string() ?? ""
        let http = renderer(r)

        var jobs: [GeneratedJob] = []
        for ep in try spec["podMetricsEndpoints"].array() ?? [] {
            let index = jobs.count
            try checkExclusiveAuth(ep)
            try checkIntervals(interval: ep["interval"], timeout: ep["scrapeTimeout"])
            let jobName = "podMonitor/\(r.namespace)/\(r.name)/\(index)"
            var o = ObjectBuilder()
            o.set("job_name", jobName)
            o.set("honor_labels", try ep["honorLabels"].bool() ?? false)
            if let v = try ep["honorTimestamps"].bool() { o.set("honor_timestamps", v) }
            if let v = try ep["trackTimestampsStaleness"].bool() { o.set("track_timestamps_staleness", v) }
            o.set("kubernetes_sd_configs", try k8sSD(
                namespaceSelector: spec["namespaceSelector"], namespace: r.namespace, role: "pod", attachNode: attachNode,
                roleSelectors: roleMechanism ? (["pod"], selector) : nil))
            try commonEndpointFields(ep, into: &o)
            if let v = try ep["followRedirects"].bool() { o.set("follow_redirects", v) }
            if let v = try ep["enableHttp2"].bool() { o.set("enable_http2", v) }
            if let v = try http.tlsWithClass(ep["tlsConfig"], fullTLS: false, scrapeClass: scrapeClass) { o.set("tls_config", v) }
            if ep["bearerTokenSecret"].isSet, let name = try ep["bearerTokenSecret"]["name"].string(), !name.isEmpty {
                o.set("bearer_token", try http.secretKey(ep["bearerTokenSecret"]))
            }
            if let v = try http.basicAuth(ep["basicAuth"]) { o.set("basic_auth", v) }
            if let v = try http.oauth2(ep["oauth2"]) { o.set("oauth2", v) }
            try http.proxy(ep, into: &o)
            if let v = try http.authorization(ep["authorization"], scrapeClass: scrapeClass) { o.set("authorization", v) }

            var rl: [JSONValue] = [Self.jobToTmp]
            if try ep["filterRunning"].bool() ?? true { rl.append(Self.runningFilter) }
            if !roleMechanism { rl += selectorRules(selector, prefix: "__meta_kubernetes_pod_") }
            let port = try ep["port"].string() ?? ""
            let portNumber = try ep["portNumber"].int() ?? 0
            let targetPort = try ep["targetPort"].intOrString()
            if !port.isEmpty {
                rl.append(Self.keep("__meta_kubernetes_pod_container_port_name", port))
            } else if portNumber != 0 {
                rl.append(Self.keep("__meta_kubernetes_pod_container_port_number", String(portNumber)))
            } else if let targetPort {
                switch targetPort {
                case .string(let s) where !s.isEmpty: rl.append(Self.keep("__meta_kubernetes_pod_container_port_name", s))
                case .int(let n) where n != 0: rl.append(Self.keep("__meta_kubernetes_pod_container_port_number", String(n)))
                default: break
                }
            }
            rl.append(Self.copy("__meta_kubernetes_namespace", to: "namespace"))
            rl.append(Self.copy("__meta_kubernetes_pod_container_name", to: "container"))
            rl.append(Self.copy("__meta_kubernetes_pod_name", to: "pod"))
            for l in podTargetLabels {
                rl.append(Self.labelFrom("__meta_kubernetes_pod_label_\(sanitizeLabelName(l))", to: sanitizeLabelName(l)))
            }
            rl.append(Self.set("job", "\(r.namespace)/\(r.name)"))
            if !jobLabel.isEmpty {
                rl.append(Self.labelFrom("__meta_kubernetes_pod_label_\(sanitizeLabelName(jobLabel))", to: "job"))
            }
            jobs.append(
                try finishMonitorJob(
                    jobName, o, relabelings: rl, endpoint: ep, port: port, targetPort: targetPort, spec: spec,
                    scrapeClass: scrapeClass, classRelabelings: classRelabelings, classMetricRelabelings: classMetricRelabelings))
        }
        return jobs
    }

    // MARK: Probe (generateProbeConfig)

    func probe(_ r: Resource) throws(ResourceError) -> GeneratedJob {
        let spec = r.spec
        let scrapeClass = try scrapeClass(spec)
        let classRelabelings = try classRules(scrapeClass?.relabelings, "scrapeClass.relabelings")
        let classMetricRelabelings = try classRules(scrapeClass?.metricRelabelings, "scrapeClass.metricRelabelings")
        let http = renderer(r)
        let prober = spec["prober"]
        let targets = spec["targets"]
        let staticConfig = targets["staticConfig"], ingress = targets["ingress"]
        if !staticConfig.isSet && !ingress.isSet {
            throw targets.fail("at least one of .spec.targets.staticConfig and .spec.targets.ingress is required")
        }
        try checkExclusiveAuth(spec)
        try checkIntervals(interval: spec["interval"], timeout: spec["scrapeTimeout"])
        let url = try prober["url"].string() ?? ""
        guard Self.validProberURL(url) else {
            throw ResourceError(path: "", message: "\"\(url)\" url specified in proberSpec is invalid, it should be of the format `hostname` or `hostname:port`")
        }

        let jobName = "probe/\(r.namespace)/\(r.name)"
        var o = ObjectBuilder()
        o.set("job_name", jobName)
        o.set("honor_timestamps", true)
        // The CRD defaults `prober.path` to `/probe`; the apiserver fills it in.
        o.set("metrics_path", try prober["path"].string() ?? "/probe")
        if let v = try spec["interval"].string(), !v.isEmpty { o.set("scrape_interval", v) }
        if let v = try spec["scrapeTimeout"].string(), !v.isEmpty { o.set("scrape_timeout", v) }
        if let v = try prober["scheme"].string() { o.set("scheme", v.lowercased()) }
        let module = try spec["module"].string() ?? ""
        var params = ObjectBuilder()
        if !module.isEmpty { params.set("module", strings: [module]) }
        for p in try spec["params"].array() ?? [] {
            let name = try p["name"].string() ?? ""
            if !module.isEmpty && name == "module" { continue }
            params.set(name, strings: try p["values"].stringArray() ?? [])
        }
        if !params.isEmpty { o.set("params", params.value) }
        try limits(spec, into: &o)
        try protocols(spec, scrapeClass: scrapeClass, into: &o)

        var rl: [JSONValue] = [Self.jobToTmp]
        if let job = try spec["jobName"].string(), !job.isEmpty { rl.append(Self.set("job", job)) }
        try http.proxy(prober, into: &o)
        if let v = try spec["followRedirects"].bool() { o.set("follow_redirects", v) }
        if let v = try spec["enableHttp2"].bool() { o.set("enable_http2", v) }
        if let v = try http.tlsWithClass(spec["tlsConfig"], fullTLS: false, scrapeClass: scrapeClass) { o.set("tls_config", v) }

        if staticConfig.isSet {
            var labels = try staticConfig["labels"].stringMap() ?? []
            if !labels.contains(where: { $0.0 == "namespace" }) {
                labels.append(("namespace", r.namespace))
                labels.sort { goLess($0.0, $1.0) }
            }
            var sc = ObjectBuilder()
            sc.set("targets", strings: try staticConfig["static"].stringArray() ?? [])
            sc.set("labels", .stringMap(labels))
            o.set("static_configs", .array([sc.value]))
            rl.append(Self.copy("__address__", to: "__param_target"))
            rl.append(Self.copy("__param_target", to: "instance"))
            rl.append(Self.set("__address__", url))
            rl += classRelabelings
            rl += try rules.convert(staticConfig["relabelingConfigs"])
        } else {
            let sel: LabelSelectorSpec
            do throws(ResourceError) {
                sel = try LabelSelectorSpec.parse(ingress["selector"])
            } catch {
                throw ResourceError(path: "", message: "failed to parse label selector: \(error.text)")
            }
            rl += selectorRules(sel, prefix: "__meta_kubernetes_ingress_")
            o.set("kubernetes_sd_configs", try k8sSD(namespaceSelector: ingress["namespaceSelector"], namespace: r.namespace, role: "ingress", attachNode: nil, roleSelectors: nil))
            rl.append(Self.rule([
                ("source_labels", .strings(["__meta_kubernetes_ingress_scheme", "__address__", "__meta_kubernetes_ingress_path"])),
                ("separator", .string(";")), ("regex", .string("(.+);(.+);(.+)")), ("target_label", .string("__param_target")),
                ("replacement", .string("${1}://${2}${3}")), ("action", .string("replace")),
            ]))
            rl.append(Self.copy("__meta_kubernetes_namespace", to: "namespace"))
            rl.append(Self.copy("__meta_kubernetes_ingress_name", to: "ingress"))
            rl.append(Self.rule([
                ("source_labels", .strings(["__address__"])), ("separator", .string(";")), ("regex", .string("(.*)")),
                ("target_label", .string("__tmp_ingress_address")), ("replacement", .string("$1")), ("action", .string("replace")),
            ]))
            rl.append(Self.copy("__param_target", to: "instance"))
            rl.append(Self.set("__address__", url))
            rl += classRelabelings
            rl += try rules.convert(ingress["relabelingConfigs"])
        }
        rl += sharding(label: "__param_target")
        o.set("relabel_configs", .array(rl))

        if spec["bearerTokenSecret"].isSet { o.set("bearer_token", try http.secretKey(spec["bearerTokenSecret"])) }
        if let v = try http.basicAuth(spec["basicAuth"]) { o.set("basic_auth", v) }
        if let v = try http.oauth2(spec["oauth2"]) { o.set("oauth2", v) }
        if let v = try http.authorization(spec["authorization"], scrapeClass: scrapeClass) { o.set("authorization", v) }
        let metric = classMetricRelabelings + (try rules.convert(spec["metricRelabelings"]))
        if !metric.isEmpty { o.set("metric_relabel_configs", .array(metric)) }
        return GeneratedJob(jobName: jobName, scrapeConfig: o.value, source: jobName)
    }

    /// `validateProberURL`: `host` or `host:port`, no scheme or path.
    static func validProberURL(_ url: String) -> Bool {
        guard !url.isEmpty, !url.contains("/"), !url.contains(" ") else { return false }
        if url.hasPrefix("[") {
            guard let close = url.firstIndex(of: "]") else { return false }
            let rest = url[url.index(after: close)...]
            if rest.isEmpty { return true }
            guard rest.hasPrefix(":"), let p = Int(rest.dropFirst()), (0...65535).contains(p) else { return false }
            return true
        }
        let parts = url.split(separator: ":", omittingEmptySubsequences: false)
        switch parts.count {
        case 1: return true
        case 2:
            guard !parts[0].isEmpty, let p = Int(parts[1]), (0...65535).contains(p) else { return false }
            return true
        default: return false
        }
    }
}
