import JSON
import PrometheusOperator
import Testing

/// Resources rebuilt (as apiserver JSON) from the inputs of prometheus-operator's
/// `pkg/prometheus/promcfg_test.go`, compared with the matching golden file's scrape config.
/// Only goldens of the Prometheus version the upstream allocator targets (prometheus-operator
/// v0.93's default, Prometheus v3.13) and of inline TLS (`WithInlineTLSConfig`), as upstream
/// generates.
@Suite struct GoldenTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var golden: String
        var kind: String
        var object: String
        var role: OperatorSettings.EndpointRole = .endpoints
        /// `namespace/name/key` of Secrets and of ConfigMaps, looked up by kind.
        var secrets: [String: String] = [:]
        var configMaps: [String: String] = [:]
        var shards = 1
        /// Tells apart cases that share a golden (the same input spelled differently).
        var variant = ""
        var testDescription: String { variant.isEmpty ? golden : "\(golden) (\(variant))" }
    }

    /// `TestNativeHistogramConfig`'s ServiceMonitor with the given native-histogram fields.
    static func nativeHistogramMonitor(_ fields: String) -> String {
        #"{"metadata":{"namespace":"default","name":"testservicemonitor1","labels":{"group":"group1"}},"spec":{"endpoints":[{"port":"web","interval":"30s"}],"#
            + fields + "}}"
    }

    static let ingressProbe = #"""
        {"metadata":{"namespace":"default","name":"testprobe1","labels":{"group":"group1"}},"spec":{
          "prober":{"scheme":"http","url":"blackbox.exporter.io","path":"/probe"},"module":"http_2xx",
          "targets":{"ingress":{"selector":{"matchLabels":{"prometheus.io/probe":"true"}},"namespaceSelector":{"any":true},
            "relabelingConfigs":[{"targetLabel":"foo","replacement":"bar","action":"replace"}]}}}}
        """#

    static let oauth2 = #"""
        {"clientId":{"configMap":{"name":"oauth2","key":"client_id"}},"clientSecret":{"name":"oauth2","key":"client_secret"},
         "tokenUrl":"http://test.url","scopes":["scope 1","scope 2"],"endpointParams":{"param1":"value1","param2":"value2"}}
        """#

    /// `TestScrapeConfigSpecConfig`'s store: a ConfigMap and a Secret both named `oauth2`.
    static let oauth2ConfigMaps = ["default/oauth2/client_id": "client-id"]
    static let oauth2Secrets = ["default/oauth2/client_secret": "client-secret"]

    static func scrapeConfig(_ spec: String) -> String {
        #"{"metadata":{"namespace":"default","name":"testscrapeconfig1"},"spec":"# + spec + "}"
    }

    static let cases: [Case] = [
        Case(golden: "MatchExpressionsServiceMonitor", kind: "ServiceMonitor", object: #"""
            {"metadata":{"namespace":"default","name":"test"},"spec":{
              "selector":{"matchExpressions":[{"key":"alpha","operator":"In","values":["beta","gamma"]}]},
              "endpoints":[{"port":"web","interval":"30s"}]}}
            """#),
        Case(golden: "TestServiceMonitorWithEndpointSliceEnable_Expected", kind: "ServiceMonitor", object: #"""
            {"metadata":{"namespace":"default","name":"test"},"spec":{
              "selector":{"matchLabels":{"foo":"bar"},"matchExpressions":[{"key":"alpha","operator":"In","values":["beta","gamma"]}]},
              "endpoints":[{"port":"web","interval":"30s"}]}}
            """#, role: .endpointSlice),
        Case(golden: "PodMonitorObjectWithMatchLabelSelector", kind: "PodMonitor", object: #"""
            {"metadata":{"namespace":"default","name":"defaultPodMonitor"},"spec":{
              "selector":{"matchLabels":{"group":"group1"}},"selectorMechanism":"RoleSelector",
              "podMetricsEndpoints":[{"port":"web","interval":"30s"}]}}
            """#),
        Case(golden: "ProbeStaticTargetsConfigGenerationWithJobName", kind: "Probe", object: #"""
            {"metadata":{"namespace":"default","name":"testprobe1","labels":{"group":"group1"}},"spec":{
              "jobName":"blackbox","prober":{"scheme":"http","url":"blackbox.exporter.io","path":"/probe"},
              "module":"http_2xx","targets":{"staticConfig":{"static":["prometheus.io","promcon.io"]}}}}
            """#),
        Case(golden: "ScrapeConfigSpecConfig_Static", kind: "ScrapeConfig", object: #"""
            {"metadata":{"namespace":"default","name":"testscrapeconfig1"},"spec":{
              "staticConfigs":[{"targets":["localhost:9100"],"labels":{"label1":"value1"}}]}}
            """#),
        Case(golden: "ScrapeConfigSpecConfig_K8SSD_with_Selectors", kind: "ScrapeConfig", object: #"""
            {"metadata":{"namespace":"default","name":"testscrapeconfig1"},"spec":{
              "kubernetesSDConfigs":[{"role":"Node","selectors":[{"role":"Node","label":"component=executor"}]}]}}
            """#),
        Case(golden: "ScrapeConfigSpecConfig_HTTPSD_with_BasicAuth", kind: "ScrapeConfig", object: #"""
            {"metadata":{"namespace":"default","name":"testscrapeconfig1"},"spec":{
              "httpSDConfigs":[{"url":"http://localhost:9100/sd.json","basicAuth":{
                "username":{"name":"secret","key":"Username"},"password":{"name":"secret","key":"Password"}}}]}}
            """#, secrets: ["default/secret/Username": "kube-admin", "default/secret/Password": "password"]),
        Case(golden: "ScrapeConfigSpecConfig_Inline_TLSConfig", kind: "ScrapeConfig", object: #"""
            {"metadata":{"namespace":"default","name":"testscrapeconfig1"},"spec":{
              "tlsConfig":{"ca":{"secret":{"name":"tls","key":"ca"}},"cert":{"secret":{"name":"tls","key":"cert"}},
                           "keySecret":{"name":"tls","key":"private-key"}},
              "httpSDConfigs":[{"url":"http://localhost:9100/sd.json","tlsConfig":{"insecureSkipVerify":false,
                "ca":{"secret":{"name":"tls","key":"ca2"}}}}]}}
            """#, secrets: ["default/tls/ca": "ca", "default/tls/cert": "cert", "default/tls/private-key": "private-key", "default/tls/ca2": "ca2"]),
        // Quantities: upstream's input is `resource.MustParse("12.124")`; `12124m` and a JSON
        // number are the same quantity.
        Case(golden: "NativeHistogramConfig", kind: "ServiceMonitor", object: nativeHistogramMonitor(
            #""nativeHistogramBucketLimit":10,"scrapeClassicHistograms":true,"nativeHistogramMinBucketFactor":"12.124","convertClassicHistogramsToNHCB":true"#)),
        Case(golden: "NativeHistogramConfig", kind: "ServiceMonitor", object: nativeHistogramMonitor(
            #""nativeHistogramBucketLimit":10,"scrapeClassicHistograms":true,"nativeHistogramMinBucketFactor":"12124m","convertClassicHistogramsToNHCB":true"#),
            variant: "12124m"),
        Case(golden: "NativeHistogramConfig", kind: "ServiceMonitor", object: nativeHistogramMonitor(
            #""nativeHistogramBucketLimit":10,"scrapeClassicHistograms":true,"nativeHistogramMinBucketFactor":12.124,"convertClassicHistogramsToNHCB":true"#),
            variant: "JSON number"),
        Case(golden: "NativeHistogramConfigWithScrapeNativeHistograms", kind: "ServiceMonitor", object: nativeHistogramMonitor(
            #""scrapeNativeHistograms":true,"nativeHistogramBucketLimit":10,"scrapeClassicHistograms":true,"nativeHistogramMinBucketFactor":"12.124","convertClassicHistogramsToNHCB":true"#)),
        Case(golden: "NativeHistogramConfigOnlyScrapeNativeHistograms", kind: "ServiceMonitor", object: nativeHistogramMonitor(#""scrapeNativeHistograms":true"#)),
        Case(golden: "ProbeIngressSDConfigGeneration", kind: "Probe", object: ingressProbe),
        Case(golden: "ProbeIngressSDConfigGenerationWithShards", kind: "Probe", object: ingressProbe, shards: 2),
        Case(golden: "ScrapeConfigSpecConfig_DNSSD_SRVRecord", kind: "ScrapeConfig", object: scrapeConfig(#"{"dnsSDConfigs":[{"names":["web.example.com"]}]}"#)),
        Case(golden: "ScrapeConfigSpecConfig_DNSSD_ARecord", kind: "ScrapeConfig", object: scrapeConfig(
            #"{"dnsSDConfigs":[{"names":["node.demo.do.prometheus.io"],"type":"A","port":9100}]}"#)),
        Case(golden: "ScrapeConfigSpecConfig_DNSSD_MXRecord", kind: "ScrapeConfig", object: scrapeConfig(
            #"{"dnsSDConfigs":[{"names":["node.demo.do.prometheus.io"],"type":"MX","port":9100}]}"#)),
        Case(golden: "ScrapeConfigSpecConfig_DNSSD_NSRecord", kind: "ScrapeConfig", object: scrapeConfig(
            #"{"dnsSDConfigs":[{"names":["node.demo.do.prometheus.io"],"type":"NS","port":9100}]}"#)),
        Case(golden: "ScrapeConfigSpecConfig_WithOAuth", kind: "ScrapeConfig", object: scrapeConfig(#"{"oauth2":"# + oauth2 + "}"),
             secrets: oauth2Secrets, configMaps: oauth2ConfigMaps),
        Case(golden: "ScrapeConfigSpecConfig_HTTPSD_with_OAuth", kind: "ScrapeConfig", object: scrapeConfig(
            #"{"httpSDConfigs":[{"url":"http://localhost:9100/sd.json","oauth2":"# + oauth2 + "}]}"), secrets: oauth2Secrets,
             configMaps: oauth2ConfigMaps),
        Case(golden: "ScrapeConfigSpecConfig_K8SSD_with_OAuth", kind: "ScrapeConfig", object: scrapeConfig(
            #"{"kubernetesSDConfigs":[{"role":"Node","apiServer":"https://kubernetes.default.svc","oauth2":"# + oauth2 + "}]}"),
             secrets: oauth2Secrets, configMaps: oauth2ConfigMaps),
    ]

    @Test(arguments: cases)
    func matchesOperatorGolden(_ c: Case) throws {
        let object = json(c.object)
        var settings = goldenSettings(role: c.role)
        settings.shards = c.shards
        let result = OperatorConfigGenerator.generate(
            serviceMonitors: c.kind == "ServiceMonitor" ? [object] : [],
            podMonitors: c.kind == "PodMonitor" ? [object] : [],
            probes: c.kind == "Probe" ? [object] : [],
            scrapeConfigs: c.kind == "ScrapeConfig" ? [object] : [],
            settings: settings, secrets: secretStore(c.secrets, configMaps: c.configMaps))
        #expect(result.skipped.isEmpty, "\(result.skipped)")
        #expect(result.jobs.count == 1)
        let want = json(try #require(OperatorGoldens.files[c.golden]))
        expectSame(result.jobs.first?.scrapeConfig, want)
        #expect(result.jobs.first?.jobName == want["job_name"]?.stringValue)
    }
}
