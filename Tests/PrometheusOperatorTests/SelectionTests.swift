import JSON
import PrometheusOperator
import Testing

@Suite struct SelectionTests {
    static let smSpec = #"{"selector":{},"endpoints":[{"port":"web"}]}"#

    func names(_ r: GenerationResult) -> [String] { r.jobs.map(\.jobName) }

    @Test func nilSelectorSelectsNothingAndEmptySelectsAll() {
        let sms = [resource("ServiceMonitor", name: "a", spec: Self.smSpec)]
        var s = goldenSettings()
        s.serviceMonitorSelector = nil
        #expect(OperatorConfigGenerator.generate(serviceMonitors: sms, settings: s).jobs.isEmpty)
        s.serviceMonitorSelector = .everything
        #expect(names(OperatorConfigGenerator.generate(serviceMonitors: sms, settings: s)) == ["serviceMonitor/default/a/0"])
    }

    @Test func labelSelectorPicksResources() {
        let sms = [
            resource("ServiceMonitor", name: "a", labels: ["team": "x"], spec: Self.smSpec),
            resource("ServiceMonitor", name: "b", labels: ["team": "y"], spec: Self.smSpec),
            resource("ServiceMonitor", name: "c", spec: Self.smSpec),
        ]
        var s = goldenSettings()
        s.serviceMonitorSelector = LabelSelectorSpec(matchExpressions: [.init(key: "team", operator: .in, values: ["x", "z"])])
        #expect(names(OperatorConfigGenerator.generate(serviceMonitors: sms, settings: s)) == ["serviceMonitor/default/a/0"])
        s.serviceMonitorSelector = LabelSelectorSpec(matchExpressions: [.init(key: "team", operator: .notIn, values: ["x"])])
        #expect(names(OperatorConfigGenerator.generate(serviceMonitors: sms, settings: s)) == ["serviceMonitor/default/b/0", "serviceMonitor/default/c/0"])
        s.serviceMonitorSelector = LabelSelectorSpec(matchLabels: ["team": "y"])
        #expect(names(OperatorConfigGenerator.generate(serviceMonitors: sms, settings: s)) == ["serviceMonitor/default/b/0"])
    }

    @Test func namespaceSelectors() {
        let sms = [
            resource("ServiceMonitor", ns: "prod", name: "a", spec: Self.smSpec),
            resource("ServiceMonitor", ns: "dev", name: "a", spec: Self.smSpec),
            resource("ServiceMonitor", ns: "otel", name: "a", spec: Self.smSpec),
        ]
        let nsLabels = ["prod": ["env": "prod"], "dev": ["env": "dev"], "otel": [:]]
        var s = goldenSettings()
        s.collectorNamespace = "otel"
        // `{}`: every namespace.
        #expect(names(OperatorConfigGenerator.generate(serviceMonitors: sms, namespaceLabels: nsLabels, settings: s)).count == 3)
        // A label selector on namespaces.
        s.serviceMonitorNamespaceSelector = LabelSelectorSpec(matchLabels: ["env": "prod"])
        #expect(names(OperatorConfigGenerator.generate(serviceMonitors: sms, namespaceLabels: nsLabels, settings: s)) == ["serviceMonitor/prod/a/0"])
        // nil: only the collector's (the synthetic Prometheus') namespace.
        s.serviceMonitorNamespaceSelector = nil
        #expect(names(OperatorConfigGenerator.generate(serviceMonitors: sms, namespaceLabels: nsLabels, settings: s)) == ["serviceMonitor/otel/a/0"])
    }

    @Test func allowAndDenyNamespaces() {
        let pms = ["a", "b", "c"].map { resource("PodMonitor", ns: $0, name: "m", spec: #"{"selector":{},"podMetricsEndpoints":[{"port":"p"}]}"#) }
        var s = goldenSettings()
        s.allowNamespaces = ["a", "c"]
        #expect(names(OperatorConfigGenerator.generate(podMonitors: pms, settings: s)) == ["podMonitor/a/m/0", "podMonitor/c/m/0"])
        s.allowNamespaces = []
        s.denyNamespaces = ["a"]
        #expect(names(OperatorConfigGenerator.generate(podMonitors: pms, settings: s)) == ["podMonitor/b/m/0", "podMonitor/c/m/0"])
    }

    @Test func orderIsKindThenNamespaceSlashNameBytewise() {
        // "a-b/x" sorts before "a/x" because '-' < '/': Go sorts the map keys as strings.
        let sms = [
            resource("ServiceMonitor", ns: "a", name: "x", spec: #"{"selector":{},"endpoints":[{"port":"p"},{"port":"q"}]}"#),
            resource("ServiceMonitor", ns: "a-b", name: "x", spec: Self.smSpec),
        ]
        let pms = [resource("PodMonitor", ns: "0", name: "z", spec: #"{"selector":{},"podMetricsEndpoints":[{"port":"p"}]}"#)]
        let probes = [resource("Probe", name: "p", spec: #"{"prober":{"url":"bb:9115"},"targets":{"staticConfig":{"static":["x"]}}}"#)]
        let scs = [resource("ScrapeConfig", name: "s", spec: #"{"staticConfigs":[{"targets":["t:1"]}]}"#)]
        let r = OperatorConfigGenerator.generate(serviceMonitors: sms, podMonitors: pms, probes: probes, scrapeConfigs: scs, settings: goldenSettings())
        #expect(names(r) == [
            "serviceMonitor/a-b/x/0", "serviceMonitor/a/x/0", "serviceMonitor/a/x/1", "podMonitor/0/z/0",
            "probe/default/p", "scrapeConfig/default/s",
        ])
        #expect(r.jobs.map(\.source) == names(r))
    }

    @Test func duplicatesCollapseToOneResource() {
        let sms = [resource("ServiceMonitor", name: "a", spec: Self.smSpec), resource("ServiceMonitor", name: "a", spec: Self.smSpec)]
        #expect(OperatorConfigGenerator.generate(serviceMonitors: sms, settings: goldenSettings()).jobs.count == 1)
    }

    @Test func labelSelectorSemanticsAndString() throws {
        let sel = try #require(LabelSelectorSpec(json: json(#"""
            {"matchLabels":{"app":"web"},"matchExpressions":[
              {"key":"tier","operator":"NotIn","values":["b","a"]},{"key":"legacy","operator":"DoesNotExist"},
              {"key":"env","operator":"Exists"}]}
            """#)))
        #expect(sel.matches(["app": "web", "env": "x"]))
        #expect(!sel.matches(["app": "web", "env": "x", "tier": "a"]))
        #expect(!sel.matches(["app": "web", "env": "x", "legacy": ""]))
        #expect(!sel.matches(["app": "web"]))
        #expect(sel.selectorString == "app=web,env,!legacy,tier notin (a,b)")
        #expect(LabelSelectorSpec(json: json("{}"))?.isEmpty == true)
        #expect(LabelSelectorSpec(json: json(#"{"matchExpressions":[{"key":"a","operator":"Bogus"}]}"#)) == nil)
        #expect(LabelSelectorSpec(json: json(#"{"matchExpressions":[{"key":"a","operator":"In","values":[]}]}"#)) == nil)
        #expect(LabelSelectorSpec(json: json(#"{"matchLabels":{"bad key":"v"}}"#)) == nil)
        #expect(LabelSelectorSpec(json: json(#"{"matchLabels":{"example.com/k":"v"}}"#)) != nil)
    }
}

@Suite struct SettingsTests {
    @Test func parsesUpstreamKeys() {
        let (s, problems) = OperatorSettings.parse(json(#"""
            {"enabled":true,"scrape_interval":"60s","evaluation_interval":"15s",
             "service_monitor_selector":{"matchLabels":{"team":"a"}},"pod_monitor_selector":{},
             "probe_namespace_selector":{"matchlabels":{"env":"prod"}},
             "deny_namespaces":["kube-system"],"scrape_classes":[{"name":"c","default":true,"relabelings":[{"targetLabel":"x","replacement":"y"}]}]}
            """#), collectorNamespace: "otel")
        #expect(problems.isEmpty, "\(problems)")
        #expect(s.enabled)
        #expect(s.scrapeInterval == "1m")
        #expect(s.evaluationInterval == "15s")
        #expect(s.serviceMonitorSelector == LabelSelectorSpec(matchLabels: ["team": "a"]))
        #expect(s.podMonitorSelector == .everything)
        #expect(s.probeSelector == nil)
        #expect(s.scrapeConfigSelector == nil)
        #expect(s.serviceMonitorNamespaceSelector == .everything)
        #expect(s.probeNamespaceSelector == LabelSelectorSpec(matchLabels: ["env": "prod"]))
        #expect(s.denyNamespaces == ["kube-system"])
        #expect(s.collectorNamespace == "otel")
        #expect(s.scrapeClasses.map(\.name) == ["c"])
        #expect(s.serviceDiscoveryRole == .endpointSlice)
    }

    @Test func reportsProblems() {
        let (s, problems) = OperatorSettings.parse(json(#"""
            {"scrape_interval":"soon","allow_namespaces":["a"],"deny_namespaces":["b"],
             "service_monitor_selector":{"matchExpressions":[{"key":"k","operator":"Near"}]},"bogus":1}
            """#))
        #expect(s.scrapeInterval == "30s")
        #expect(s.serviceMonitorSelector == nil)
        #expect(problems.count == 4, "\(problems)")
        #expect(problems.contains { $0.contains("only one of allow_namespaces or deny_namespaces") })
    }

    @Test func durations() {
        #expect(PrometheusDuration.milliseconds("1h30m") == 5_400_000)
        #expect(PrometheusDuration.milliseconds("500ms") == 500)
        #expect(PrometheusDuration.milliseconds("0") == 0)
        #expect(PrometheusDuration.milliseconds("30m1h") == nil)
        #expect(PrometheusDuration.milliseconds("1.5s") == nil)
        #expect(PrometheusDuration.milliseconds("") == nil)
        #expect(PrometheusDuration.format(milliseconds: 90_000) == "1m30s")
        #expect(PrometheusDuration.format(milliseconds: 0) == "0s")
    }
}
