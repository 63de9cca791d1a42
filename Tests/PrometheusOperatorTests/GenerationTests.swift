import JSON
import PrometheusOperator
import Testing

@Suite struct MalformedTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var kind: String
        var spec: String
        var reason: String
        var testDescription: String { reason }
    }

    static let cases: [Case] = [
        Case(kind: "ServiceMonitor", spec: #"{"selector":{},"endpoints":[{"port":"a"},{"port":"b","relabelings":[{"targetLabel":"x"},{"action":"foo"}]}]}"#,
             reason: #"endpoints[1].relabelings[1]: unknown action "foo""#),
        Case(kind: "ServiceMonitor", spec: #"{"selector":{},"endpoints":[{"port":"a","metricRelabelings":[{"action":"drop","regex":"(unclosed"}]}]}"#,
             reason: "endpoints[0].metricRelabelings[0]: invalid regex (unclosed for relabel configuration"),
        Case(kind: "ServiceMonitor", spec: #"{"selector":{"matchExpressions":[{"key":"a","operator":"Sometimes"}]},"endpoints":[{"port":"a"}]}"#,
             reason: #"failed to parse label selector: selector.matchExpressions[0]: "Sometimes" is not a valid label selector operator"#),
        Case(kind: "ServiceMonitor", spec: #"{"selector":{},"endpoints":[{"port":"a","interval":"10s","scrapeTimeout":"20s"}]}"#,
             reason: #"scrapeTimeout "20s" greater than scrapeInterval "10s""#),
        Case(kind: "ServiceMonitor", spec: #"{"selector":{},"endpoints":[{"port":"a","relabelings":[{"action":"hashmod","targetLabel":"h"}]}]}"#,
             reason: "endpoints[0].relabelings[0]: relabel configuration for hashmod requires non-zero modulus"),
        Case(kind: "ServiceMonitor", spec: #"{"selector":{},"endpoints":[{"port":"a","relabelings":[{"action":"replace"}]}]}"#,
             reason: "endpoints[0].relabelings[0]: relabel configuration for replace action needs targetLabel value"),
        Case(kind: "ServiceMonitor", spec: #"{"selector":{},"endpoints":[{"port":"a","relabelings":[{"action":"labeldrop","regex":"x","sourceLabels":["a"]}]}]}"#,
             reason: "endpoints[0].relabelings[0]: labeldrop action requires only 'regex', and no other fields"),
        Case(kind: "ServiceMonitor", spec: #"{"selector":{},"scrapeClass":"missing","endpoints":[{"port":"a"}]}"#,
             reason: #"scrapeClassName: scrapeClass "missing" not found in Prometheus scrapeClasses"#),
        Case(kind: "ServiceMonitor", spec: #"{"selector":{},"endpoints":[{"port":7}]}"#,
             reason: "endpoints[0].port: expected a string"),
        Case(kind: "PodMonitor", spec: #"{"selector":{},"podMetricsEndpoints":[{"port":"a","basicAuth":{"username":{"name":"s","key":"u"},"password":{"name":"s","key":"p"}},"authorization":{"credentials":{"name":"s","key":"t"}}}]}"#,
             reason: "podMetricsEndpoints[0]: authorization and basicAuth cannot be configured at the same time"),
        Case(kind: "Probe", spec: #"{"prober":{"url":"bb:9115"}}"#,
             reason: "targets: at least one of .spec.targets.staticConfig and .spec.targets.ingress is required"),
        Case(kind: "Probe", spec: #"{"prober":{"url":"http://bb:9115/"},"targets":{"staticConfig":{"static":["x"]}}}"#,
             reason: "\"http://bb:9115/\" url specified in proberSpec is invalid, it should be of the format `hostname` or `hostname:port`"),
        Case(kind: "ScrapeConfig", spec: #"{"consulSDConfigs":[{"server":"consul:8500"}]}"#,
             reason: "consulSDConfigs: not supported by this target allocator"),
        Case(kind: "ServiceMonitor", spec: #"{"selector":{},"endpoints":[{"port":"a"}],"nativeHistogramMinBucketFactor":"1.5x"}"#,
             reason: #"nativeHistogramMinBucketFactor: "1.5x" is not a quantity"#),
        Case(kind: "ScrapeConfig", spec: #"{"kubernetesSDConfigs":[{"role":"Galaxy"}]}"#,
             reason: #"kubernetesSDConfigs[0].role: unknown Kubernetes role "galaxy""#),
    ]

    @Test(arguments: cases)
    func isSkippedWithAReasonAndOthersSurvive(_ c: Case) {
        let bad = resource(c.kind, name: "bad", spec: c.spec)
        let good: JSONValue
        switch c.kind {
        case "ServiceMonitor": good = resource(c.kind, name: "good", spec: #"{"selector":{},"endpoints":[{"port":"a"}]}"#)
        case "PodMonitor": good = resource(c.kind, name: "good", spec: #"{"selector":{},"podMetricsEndpoints":[{"port":"a"}]}"#)
        case "Probe": good = resource(c.kind, name: "good", spec: #"{"prober":{"url":"bb"},"targets":{"staticConfig":{"static":["x"]}}}"#)
        default: good = resource(c.kind, name: "good", spec: #"{"staticConfigs":[{"targets":["t:1"]}]}"#)
        }
        let objects = [bad, good]
        let r = OperatorConfigGenerator.generate(
            serviceMonitors: c.kind == "ServiceMonitor" ? objects : [], podMonitors: c.kind == "PodMonitor" ? objects : [],
            probes: c.kind == "Probe" ? objects : [], scrapeConfigs: c.kind == "ScrapeConfig" ? objects : [],
            settings: goldenSettings())
        let kind = c.kind.prefix(1).lowercased() + c.kind.dropFirst()
        #expect(r.skipped.map(\.description) == ["\(kind) default/bad: \(c.reason)"])
        #expect(r.jobs.count == 1)
        #expect(r.jobs.allSatisfy { $0.jobName.contains("/good") })
    }

    @Test func relabelValidatorHookReplacesRegexCheck() {
        let sm = resource("ServiceMonitor", name: "a", spec: #"{"selector":{},"endpoints":[{"port":"a","relabelings":[{"targetLabel":"x","regex":"(?P<n>a)","replacement":"y"}]}]}"#)
        let r = OperatorConfigGenerator.generate(
            serviceMonitors: [sm], settings: goldenSettings(),
            relabelValidator: { rule in rule["regex"]?.stringValue == "(?P<n>a)" ? "RE2 says no" : nil })
        #expect(r.skipped.map(\.description) == ["serviceMonitor default/a: endpoints[0].relabelings[0]: RE2 says no"])
    }
}

@Suite struct SecretTests {
    static let spec = #"""
        {"selector":{},"endpoints":[{"port":"web","scheme":"HTTPS",
          "basicAuth":{"username":{"name":"creds","key":"user"},"password":{"name":"creds","key":"pass"}},
          "tlsConfig":{"ca":{"configMap":{"name":"ca","key":"ca.crt"}},"cert":{"secret":{"name":"tls","key":"crt"}},
                       "keySecret":{"name":"tls","key":"key"},"serverName":"svc","insecureSkipVerify":true,"minVersion":"TLS12"}}]}
        """#

    @Test func resolvesSecretsInTheResourcesNamespace() {
        let sm = resource("ServiceMonitor", ns: "team", name: "a", spec: Self.spec)
        let lookup: SecretLookup = { ref in
            switch (ref.kind, ref.namespace, ref.name, ref.key) {
            case (.secret, "team", "creds", "user"): "alice"
            case (.secret, "team", "creds", "pass"): "s3cret"
            case (.configMap, "team", "ca", "ca.crt"): "CA"
            case (.secret, "team", "tls", "crt"): "CERT"
            case (.secret, "team", "tls", "key"): "KEY"
            default: nil
            }
        }
        let r = OperatorConfigGenerator.generate(serviceMonitors: [sm], settings: goldenSettings(), secrets: lookup)
        #expect(r.skipped.isEmpty, "\(r.skipped)")
        let job = r.jobs.first?.scrapeConfig
        #expect(job?["scheme"] == .string("https"))
        expectSame(job?["tls_config"], json(#"{"insecure_skip_verify":true,"ca":"CA","cert":"CERT","key":"KEY","server_name":"svc","min_version":"TLS12"}"#))
        expectSame(job?["basic_auth"], json(#"{"username":"alice","password":"s3cret"}"#))
    }

    @Test func missingSecretSkipsTheResource() {
        let sm = resource("ServiceMonitor", ns: "team", name: "a", spec: Self.spec)
        let r = OperatorConfigGenerator.generate(serviceMonitors: [sm], settings: goldenSettings(), secrets: { _ in nil })
        #expect(r.jobs.isEmpty)
        #expect(r.skipped.map(\.description) == [#"serviceMonitor team/a: endpoints[0].tlsConfig.ca.configMap: unable to get key "ca.crt" in configmap "team/ca""#])
    }

    @Test func bearerAndAuthorization() {
        let pm = resource("PodMonitor", name: "p", spec: #"""
            {"selector":{},"podMetricsEndpoints":[{"port":"m","bearerTokenSecret":{"name":"t","key":"token"}},
              {"port":"n","authorization":{"type":"Token ","credentials":{"name":"t","key":"token"}}}]}
            """#)
        let r = OperatorConfigGenerator.generate(podMonitors: [pm], settings: goldenSettings(), secrets: secretStore(["default/t/token": "abc"]))
        #expect(r.jobs.count == 2)
        #expect(r.jobs[0].scrapeConfig["bearer_token"] == .string("abc"))
        expectSame(r.jobs[1].scrapeConfig["authorization"], json(#"{"type":"Token","credentials":"abc"}"#))
    }
}

@Suite struct ChainTests {
    /// A ServiceMonitor using most options; the expected config follows the order in
    /// prometheus-operator's `generateServiceMonitorConfig`.
    @Test func fullServiceMonitor() {
        let sm = resource("ServiceMonitor", ns: "apps", name: "web", spec: #"""
            {"jobLabel":"app.kubernetes.io/name","targetLabels":["team"],"podTargetLabels":["version"],
             "selector":{"matchLabels":{"b":"2","a":"1"},"matchExpressions":[{"key":"x","operator":"Exists"},{"key":"y","operator":"NotIn","values":["p","q"]}]},
             "namespaceSelector":{"matchNames":["apps","web"]},"sampleLimit":100,"attachMetadata":{"node":true},
             "endpoints":[{"targetPort":8080,"path":"/m","params":{"z":["1"],"a":["2","3"]},"interval":"15s","scrapeTimeout":"5s",
               "honorLabels":true,"honorTimestamps":false,"filterRunning":false,"followRedirects":false,
               "relabelings":[{"sourceLabels":["__meta_x"],"targetLabel":"x","action":"Replace"}],
               "metricRelabelings":[{"sourceLabels":["__name__"],"regex":"go_.*","action":"drop"}]}]}
            """#)
        var s = goldenSettings(role: .endpointSlice)
        s.shards = 2
        let r = OperatorConfigGenerator.generate(serviceMonitors: [sm], settings: s)
        #expect(r.skipped.isEmpty, "\(r.skipped)")
        expectSame(r.jobs.first?.scrapeConfig, json(#"""
            {"job_name":"serviceMonitor/apps/web/0","honor_labels":true,"honor_timestamps":false,
             "kubernetes_sd_configs":[{"role":"endpointslice","namespaces":{"names":["apps","web"]},"attach_metadata":{"node":true}}],
             "scrape_interval":"15s","scrape_timeout":"5s","metrics_path":"/m","params":{"a":["2","3"],"z":["1"]},"follow_redirects":false,
             "relabel_configs":[
              {"source_labels":["job"],"target_label":"__tmp_prometheus_job_name"},
              {"action":"keep","source_labels":["__meta_kubernetes_service_label_a","__meta_kubernetes_service_labelpresent_a"],"regex":"(1);true"},
              {"action":"keep","source_labels":["__meta_kubernetes_service_label_b","__meta_kubernetes_service_labelpresent_b"],"regex":"(2);true"},
              {"action":"keep","source_labels":["__meta_kubernetes_service_labelpresent_x"],"regex":"true"},
              {"action":"drop","source_labels":["__meta_kubernetes_service_label_y","__meta_kubernetes_service_labelpresent_y"],"regex":"(p|q);true"},
              {"action":"keep","source_labels":["__meta_kubernetes_pod_container_port_number"],"regex":"8080"},
              {"source_labels":["__meta_kubernetes_endpointslice_address_target_kind","__meta_kubernetes_endpointslice_address_target_name"],"separator":";","regex":"Node;(.*)","replacement":"${1}","target_label":"node"},
              {"source_labels":["__meta_kubernetes_endpointslice_address_target_kind","__meta_kubernetes_endpointslice_address_target_name"],"separator":";","regex":"Pod;(.*)","replacement":"${1}","target_label":"pod"},
              {"source_labels":["__meta_kubernetes_namespace"],"target_label":"namespace"},
              {"source_labels":["__meta_kubernetes_service_name"],"target_label":"service"},
              {"source_labels":["__meta_kubernetes_pod_name"],"target_label":"pod"},
              {"source_labels":["__meta_kubernetes_pod_container_name"],"target_label":"container"},
              {"source_labels":["__meta_kubernetes_service_label_team"],"target_label":"team","regex":"(.+)","replacement":"${1}"},
              {"source_labels":["__meta_kubernetes_pod_label_version"],"target_label":"version","regex":"(.+)","replacement":"${1}"},
              {"source_labels":["__meta_kubernetes_service_name"],"target_label":"job","replacement":"${1}"},
              {"source_labels":["__meta_kubernetes_service_label_app_kubernetes_io_name"],"target_label":"job","regex":"(.+)","replacement":"${1}"},
              {"target_label":"endpoint","replacement":"8080"},
              {"source_labels":["__meta_x"],"target_label":"x","action":"replace"},
              {"source_labels":["__address__","__tmp_hash"],"target_label":"__tmp_hash","regex":"(.+);","replacement":"$1","action":"replace"},
              {"source_labels":["__tmp_hash"],"target_label":"__tmp_hash","modulus":2,"action":"hashmod"},
              {"source_labels":["__tmp_hash","__tmp_disable_sharding"],"regex":"$(SHARD);|.+;.+","action":"keep"}],
             "sample_limit":100,
             "metric_relabel_configs":[{"source_labels":["__name__"],"regex":"go_.*","action":"drop"}]}
            """#))
    }

    @Test func namespaceSelectorAnyOmitsNamespaces() {
        let sm = resource("ServiceMonitor", name: "a", spec: #"{"selector":{},"namespaceSelector":{"any":true,"matchNames":["x"]},"endpoints":[{"port":"a"}]}"#)
        let r = OperatorConfigGenerator.generate(serviceMonitors: [sm], settings: goldenSettings())
        expectSame(r.jobs.first?.scrapeConfig["kubernetes_sd_configs"], json(#"[{"role":"endpoints"}]"#))
    }

    @Test func probeWithIngressTargets() {
        let probe = resource("Probe", ns: "mon", name: "ing", spec: #"""
            {"prober":{"url":"blackbox:9115"},"interval":"1m",
             "targets":{"ingress":{"selector":{"matchLabels":{"probe":"yes"}},"namespaceSelector":{"any":true},
               "relabelingConfigs":[{"targetLabel":"team","replacement":"a"}]}}}
            """#)
        let r = OperatorConfigGenerator.generate(probes: [probe], settings: goldenSettings())
        expectSame(r.jobs.first?.scrapeConfig, json(#"""
            {"job_name":"probe/mon/ing","honor_timestamps":true,"metrics_path":"/probe","scrape_interval":"1m",
             "kubernetes_sd_configs":[{"role":"ingress"}],
             "relabel_configs":[
              {"source_labels":["job"],"target_label":"__tmp_prometheus_job_name"},
              {"action":"keep","source_labels":["__meta_kubernetes_ingress_label_probe","__meta_kubernetes_ingress_labelpresent_probe"],"regex":"(yes);true"},
              {"source_labels":["__meta_kubernetes_ingress_scheme","__address__","__meta_kubernetes_ingress_path"],"separator":";","regex":"(.+);(.+);(.+)","target_label":"__param_target","replacement":"${1}://${2}${3}","action":"replace"},
              {"source_labels":["__meta_kubernetes_namespace"],"target_label":"namespace"},
              {"source_labels":["__meta_kubernetes_ingress_name"],"target_label":"ingress"},
              {"source_labels":["__address__"],"separator":";","regex":"(.*)","target_label":"__tmp_ingress_address","replacement":"$1","action":"replace"},
              {"source_labels":["__param_target"],"target_label":"instance"},
              {"target_label":"__address__","replacement":"blackbox:9115"},
              {"target_label":"team","replacement":"a"},
              {"source_labels":["__param_target","__tmp_hash"],"target_label":"__tmp_hash","regex":"(.+);","replacement":"$1","action":"replace"},
              {"source_labels":["__tmp_hash"],"target_label":"__tmp_hash","modulus":1,"action":"hashmod"},
              {"source_labels":["__tmp_hash","__tmp_disable_sharding"],"regex":"$(SHARD);|.+;.+","action":"keep"}]}
            """#))
    }

    @Test func scrapeConfigShardingOnlyWhenShardedAndNoUserHashmod() {
        let plain = resource("ScrapeConfig", name: "a", spec: #"{"jobName":"j","staticConfigs":[{"targets":["t:1"]}]}"#)
        let hashed = resource("ScrapeConfig", name: "b", spec: #"{"staticConfigs":[{"targets":["t:1"]}],"relabelings":[{"sourceLabels":["__address__"],"targetLabel":"__tmp_hash","modulus":3,"action":"HashMod"}]}"#)
        var s = goldenSettings()
        let one = OperatorConfigGenerator.generate(scrapeConfigs: [plain], settings: s)
        expectSame(one.jobs.first?.scrapeConfig["relabel_configs"], json(#"""
            [{"source_labels":["job"],"target_label":"__tmp_prometheus_job_name"},{"target_label":"job","action":"replace","replacement":"j"}]
            """#))
        s.shards = 2
        let two = OperatorConfigGenerator.generate(scrapeConfigs: [plain, hashed], settings: s)
        if case .array(let rules)? = two.jobs.first?.scrapeConfig["relabel_configs"] { #expect(rules.count == 5) } else { Issue.record("no rules") }
        if case .array(let rules)? = two.jobs.last?.scrapeConfig["relabel_configs"] { #expect(rules.count == 2) } else { Issue.record("no rules") }
    }

    @Test func scrapeClassesApply() {
        var s = goldenSettings()
        var c = ScrapeClass(name: "std")
        c.isDefault = true
        c.relabelings = json(#"[{"targetLabel":"cluster","replacement":"eu1"}]"#)
        c.metricRelabelings = json(#"[{"action":"labeldrop","regex":"tmp_.*"}]"#)
        c.tlsConfig = json(#"{"caFile":"/etc/ca.crt"}"#)
        c.authorization = json(#"{"credentialsFile":"/var/token"}"#)
        c.attachMetadataNode = true
        s.scrapeClasses = [c]
        let pm = resource("PodMonitor", name: "p", spec: #"{"selector":{},"podMetricsEndpoints":[{"port":"m"}]}"#)
        let r = OperatorConfigGenerator.generate(podMonitors: [pm], settings: s)
        let job = r.jobs.first?.scrapeConfig
        expectSame(job?["tls_config"], json(#"{"ca_file":"/etc/ca.crt"}"#))
        expectSame(job?["authorization"], json(#"{"type":"Bearer","credentials_file":"/var/token"}"#))
        expectSame(job?["kubernetes_sd_configs"], json(#"[{"role":"pod","namespaces":{"names":["default"]},"attach_metadata":{"node":true}}]"#))
        expectSame(job?["metric_relabel_configs"], json(#"[{"regex":"tmp_.*","action":"labeldrop"}]"#))
        if case .array(let rules)? = job?["relabel_configs"] {
            #expect(rules[rules.count - 4] == json(#"{"target_label":"cluster","replacement":"eu1"}"#))
        } else {
            Issue.record("no relabel_configs")
        }
        // deny_fs_access_through_sms drops jobs that read the collector's files.
        s.denyFileSystemAccess = true
        let denied = OperatorConfigGenerator.generate(podMonitors: [pm], settings: s)
        #expect(denied.jobs.isEmpty)
        #expect(denied.skipped.first?.reason.contains("deny_fs_access_through_sms") == true)
    }

    @Test func globalSectionCarriesTheDefaults() {
        var s = goldenSettings()
        s.scrapeInterval = "5s"
        let r = OperatorConfigGenerator.generate(serviceMonitors: [resource("ServiceMonitor", name: "a", spec: #"{"selector":{},"endpoints":[{"port":"a"}]}"#)], settings: s)
        // The job is as prometheus-operator writes it; Prometheus's defaults come from `global`.
        #expect(r.jobs[0].scrapeConfig["scrape_interval"] == nil)
        #expect(r.jobs[0].scrapeConfig["scrape_protocols"] == nil)
        #expect(r.jobs[0].kind == "serviceMonitor" && r.jobs[0].namespace == "default" && r.jobs[0].name == "a")
        expectSame(r.global, json(#"{"scrape_interval":"5s","scrape_protocols":["OpenMetricsText1.0.0","OpenMetricsText0.0.1","PrometheusText1.0.0","PrometheusText0.0.4"],"evaluation_interval":"0s"}"#))
    }
}

extension JSONValue {
    static func strings(_ items: [String]) -> JSONValue { .array(items.map(JSONValue.string)) }
}
