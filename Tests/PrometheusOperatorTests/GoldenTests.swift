import JSON
import PrometheusOperator
import Testing

/// Resources rebuilt (as apiserver JSON) from the inputs of prometheus-operator's
/// `pkg/prometheus/promcfg_test.go`, compared with the matching golden file's scrape config.
@Suite struct GoldenTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var golden: String
        var kind: String
        var object: String
        var role: OperatorSettings.EndpointRole = .endpoints
        var secrets: [String: String] = [:]
        var testDescription: String { golden }
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
    ]

    @Test(arguments: cases)
    func matchesOperatorGolden(_ c: Case) throws {
        let object = json(c.object)
        let settings = goldenSettings(role: c.role)
        let result = OperatorConfigGenerator.generate(
            serviceMonitors: c.kind == "ServiceMonitor" ? [object] : [],
            podMonitors: c.kind == "PodMonitor" ? [object] : [],
            probes: c.kind == "Probe" ? [object] : [],
            scrapeConfigs: c.kind == "ScrapeConfig" ? [object] : [],
            settings: settings, secrets: secretStore(c.secrets))
        #expect(result.skipped.isEmpty, "\(result.skipped)")
        #expect(result.jobs.count == 1)
        let want = json(try #require(OperatorGoldens.files[c.golden]))
        expectSame(result.jobs.first?.scrapeConfig, want)
        #expect(result.jobs.first?.jobName == want["job_name"]?.stringValue)
    }
}
