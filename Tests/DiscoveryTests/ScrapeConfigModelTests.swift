import Discovery
import JSON
import Testing

@Suite struct ScrapeConfigModelTests {
    func j(_ text: String) -> JSONValue { try! JSONValue.parse(text) }

    func normalize(_ global: String?, _ configs: String) -> (jobs: [NormalizedJob], problems: [String]) {
        guard case .array(let items) = j(configs) else { fatalError("configs must be a list") }
        return ScrapeConfigModel.normalize(global: global.map(j), scrapeConfigs: items)
    }

    @Test func durationsParseAndPrintLikePrometheus() {
        let cases: [(String, Int64?, String)] = [
            ("30s", 30_000, "30s"), ("1m", 60_000, "1m"), ("90m", 5_400_000, "1h30m"), ("1h30m", 5_400_000, "1h30m"),
            ("500ms", 500, "500ms"), ("1d", 86_400_000, "1d"), ("7d", 604_800_000, "1w"), ("0", 0, "0s"), ("1m30s500ms", 90_500, "1m30s500ms"),
            ("1y", 31_536_000_000, "1y"), ("60s", 60_000, "1m"),
        ]
        for (text, ms, printed) in cases {
            #expect(ScrapeDuration.parseMilliseconds(text) == ms, "\(text)")
            #expect(ScrapeDuration.format(milliseconds: ms!) == printed, "\(text)")
        }
        for bad in ["", "1", "s", "1.5s", "1s1m", "1m1m", "-1s", "1 s", "1sec", "10x"] {
            #expect(ScrapeDuration.parseMilliseconds(bad) == nil, "\(bad)")
        }
    }

    @Test func defaultsMatchUpstreamServedShape() {
        let (jobs, problems) = normalize(nil, #"[{"job_name": "otel-collector", "static_configs": [{"targets": ["0.0.0.0:8888"]}]}]"#)
        #expect(problems.isEmpty)
        #expect(jobs.count == 1)
        let expected = j(
            """
            {"always_scrape_classic_histograms":false,"convert_classic_histograms_to_nhcb":false,"enable_compression":true,
             "enable_http2":true,"extra_scrape_metrics":false,"follow_redirects":true,"honor_timestamps":true,
             "job_name":"otel-collector","metric_name_escaping_scheme":"allow-utf-8","metric_name_validation_scheme":"utf8",
             "metrics_path":"/metrics","scheme":"http","scrape_interval":"1m","scrape_native_histograms":false,
             "scrape_protocols":["OpenMetricsText1.0.0","OpenMetricsText0.0.1","PrometheusText1.0.0","PrometheusText0.0.4"],
             "scrape_timeout":"10s","static_configs":[{"targets":["0.0.0.0:8888"]}],"track_timestamps_staleness":false}
            """)
        #expect(jobs[0].scrapeConfig == expected, "\(jobs[0].scrapeConfig.serialized)")
        #expect(jobs[0].scrapeInterval == .seconds(60))
        #expect(jobs[0].scrapeTimeout == .seconds(10))
        #expect(jobs[0].staticGroups == [TargetGroup(source: "0", targets: [["__address__": "0.0.0.0:8888"]])])
    }

    /// The reference's example `/scrape_configs` entry (trimmed upstream output): every key it
    /// shows comes out with the same value from the equivalent input.
    @Test func referenceExampleKeysAndValues() {
        let (jobs, problems) = normalize(
            #"{"scrape_interval": "30s"}"#,
            """
            [{"job_name": "serviceMonitor/default/my-app/0", "honor_labels": false, "metric_relabel_configs": [],
              "basic_auth": {"username": "test", "password": "pw"},
              "kubernetes_sd_configs": [{"role": "endpointslice", "namespaces": {"names": ["default"]}}],
              "relabel_configs": [
                {"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"},
                {"source_labels": ["__address__"], "target_label": "__tmp_hash", "modulus": 1, "action": "hashmod"},
                {"source_labels": ["__tmp_hash", "__tmp_disable_sharding"], "regex": "$(SHARD);|.+;.+", "action": "keep"},
                {"source_labels": ["a"], "target_label": "b", "action": "KeepEqual"}]}]
            """)
        #expect(problems.isEmpty, "\(problems)")
        let served = jobs[0].scrapeConfig
        let reference = j(
            """
            {"job_name": "serviceMonitor/default/my-app/0", "honor_timestamps": true, "track_timestamps_staleness": false,
             "scrape_interval": "30s", "scrape_timeout": "10s",
             "scrape_protocols": ["OpenMetricsText1.0.0","OpenMetricsText0.0.1","PrometheusText1.0.0","PrometheusText0.0.4"],
             "metrics_path": "/metrics", "scheme": "http", "enable_compression": true, "follow_redirects": true, "enable_http2": true,
             "kubernetes_sd_configs": [{"enable_http2": true, "follow_redirects": true, "kubeconfig_file": "",
                                        "namespaces": {"names": ["default"], "own_namespace": false}, "role": "endpointslice"}]}
            """)
        guard case .object(let members) = reference else { return }
        for member in members { #expect(served[member.key] == member.value, "\(member.key): \(served[member.key]?.serialized ?? "missing")") }
        #expect(served["honor_labels"] == nil)  // false is omitted, as upstream
        #expect(served["metric_relabel_configs"] == nil)  // empty lists are omitted
        #expect(served["basic_auth"] == j(#"{"password":"pw","username":"test"}"#))  // redaction happens when serving
        let rules = served["relabel_configs"]
        #expect(
            rules
                == j(
                    """
                    [{"action":"replace","regex":"(.*)","replacement":"$1","separator":";","source_labels":["job"],"target_label":"__tmp_prometheus_job_name"},
                     {"action":"hashmod","modulus":1,"regex":"(.*)","replacement":"$1","separator":";","source_labels":["__address__"],"target_label":"__tmp_hash"},
                     {"action":"keep","regex":"$(SHARD);|.+;.+","replacement":"$1","separator":";","source_labels":["__tmp_hash","__tmp_disable_sharding"]},
                     {"action":"keepequal","replacement":"$1","separator":";","source_labels":["a"],"target_label":"b"}]
                    """), "\(rules?.serialized ?? "")")
        // Raw rules are handed on unchanged; the Kubernetes SD entry too.
        #expect(jobs[0].relabelConfigs.count == 4)
        #expect(jobs[0].relabelConfigs[0] == j(#"{"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"}"#))
        #expect(jobs[0].kubernetesSD == [j(#"{"role": "endpointslice", "namespaces": {"names": ["default"]}}"#)])
        // Keys come out in byte order at every level, as Go's encoder writes maps.
        if case .object(let servedMembers) = served {
            let keys = servedMembers.map(\.key)
            #expect(keys == keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        }
    }

    @Test func intervalsFromGlobalAndTimeoutCapped() {
        let (jobs, problems) = normalize(
            #"{"scrape_interval": "5s", "scrape_protocols": ["PrometheusText0.0.4"], "sample_limit": 100}"#,
            """
            [{"job_name": "a"},
             {"job_name": "b", "scrape_interval": "90m", "scrape_timeout": "1m", "sample_limit": 5},
             {"job_name": "c", "scrape_interval": "2s", "scrape_native_histograms": true}]
            """)
        #expect(problems.isEmpty)
        #expect(jobs.map { $0.scrapeConfig["scrape_interval"] } == [.string("5s"), .string("1h30m"), .string("2s")])
        // The global default timeout (10s) is capped at the global interval, then at the job's.
        #expect(jobs.map { $0.scrapeConfig["scrape_timeout"] } == [.string("5s"), .string("1m"), .string("2s")])
        #expect(jobs.map { $0.scrapeConfig["sample_limit"] } == [.number("100"), .number("5"), .number("100")])
        #expect(jobs[0].scrapeConfig["scrape_protocols"] == j(#"["PrometheusText0.0.4"]"#))
        #expect(jobs[2].scrapeConfig["scrape_native_histograms"] == .bool(true))
    }

    @Test func nativeHistogramsPreferProtobufAndLegacyValidationEscapesUnderscores() {
        let (jobs, _) = normalize(nil, #"[{"job_name": "a", "scrape_native_histograms": true, "metric_name_validation_scheme": "legacy"}]"#)
        #expect(jobs[0].scrapeConfig["scrape_protocols"]?.serialized == #"["PrometheusProto","OpenMetricsText1.0.0","OpenMetricsText0.0.1","PrometheusText1.0.0","PrometheusText0.0.4"]"#)
        #expect(jobs[0].scrapeConfig["metric_name_escaping_scheme"] == .string("underscores"))
    }

    @Test func unknownFieldsKeptAndHTTPClientNormalized() {
        let (jobs, problems) = normalize(
            nil,
            """
            [{"job_name": "a", "sample_limit": 10, "custom_thing": {"z": 1, "a": [2]}, "bearer_token": "tok",
              "tls_config": {"ca_file": "/ca.pem"}, "follow_redirects": false, "honor_labels": true, "params": {"module": ["x"]}}]
            """)
        #expect(problems.isEmpty)
        let served = jobs[0].scrapeConfig
        #expect(served["custom_thing"] == j(#"{"a": [2], "z": 1}"#))
        #expect(served["sample_limit"] == .number("10"))
        #expect(served["bearer_token"] == nil)
        #expect(served["authorization"] == j(#"{"credentials": "tok", "type": "Bearer"}"#))
        #expect(served["tls_config"] == j(#"{"ca_file": "/ca.pem", "insecure_skip_verify": false}"#))
        #expect(served["follow_redirects"] == .bool(false))
        #expect(served["honor_labels"] == .bool(true))
        #expect(served["params"] == j(#"{"module": ["x"]}"#))
    }

    @Test func sdConfigsParsedWithDefaults() {
        let (jobs, problems) = normalize(
            nil,
            """
            [{"job_name": "f", "file_sd_configs": [{"files": ["/etc/sd/*.json", "/etc/sd/x.yml"]}, {"files": ["a.yaml"], "refresh_interval": "30s"}],
              "http_sd_configs": [{"url": "http://sd.example:8080/targets", "basic_auth": {"username": "u", "password_file": "/p"}},
                                  {"url": "https://sd.example/t", "refresh_interval": "15s", "authorization": {"credentials": "c"},
                                   "tls_config": {"insecure_skip_verify": true}, "enable_http2": false}],
              "static_configs": [{"targets": ["a:1", "b:2"], "labels": {"env": "prod"}}, {"targets": ["c:3"]}]}]
            """)
        #expect(problems.isEmpty, "\(problems)")
        let job = jobs[0]
        #expect(job.fileSD == [FileSDConfig(files: ["/etc/sd/*.json", "/etc/sd/x.yml"]), FileSDConfig(files: ["a.yaml"], refreshInterval: .seconds(30))])
        #expect(job.scrapeConfig["file_sd_configs"] == j(#"[{"files":["/etc/sd/*.json","/etc/sd/x.yml"],"refresh_interval":"5m"},{"files":["a.yaml"],"refresh_interval":"30s"}]"#))
        #expect(job.httpSD.count == 2)
        #expect(job.httpSD[0].url == "http://sd.example:8080/targets")
        #expect(job.httpSD[0].refreshInterval == .seconds(60))
        #expect(job.httpSD[0].basicAuth == HTTPSDConfig.BasicAuth(username: "u", passwordFile: "/p"))
        #expect(job.httpSD[1].refreshInterval == .seconds(15))
        #expect(job.httpSD[1].authorization == HTTPSDConfig.Authorization(type: "Bearer", credentials: "c"))
        #expect(job.httpSD[1].tlsConfig?.insecureSkipVerify == true)
        #expect(job.httpSD[1].enableHTTP2 == false)
        #expect(
            job.scrapeConfig["http_sd_configs"]
                == j(
                    """
                    [{"basic_auth":{"password_file":"/p","username":"u"},"enable_http2":true,"follow_redirects":true,"refresh_interval":"1m","url":"http://sd.example:8080/targets"},
                     {"authorization":{"credentials":"c","type":"Bearer"},"enable_http2":false,"follow_redirects":true,"refresh_interval":"15s",
                      "tls_config":{"insecure_skip_verify":true},"url":"https://sd.example/t"}]
                    """))
        #expect(
            job.staticGroups == [
                TargetGroup(source: "0", labels: ["env": "prod"], targets: [["__address__": "a:1"], ["__address__": "b:2"]]),
                TargetGroup(source: "1", targets: [["__address__": "c:3"]]),
            ])
    }

    @Test func problemsCarryPathsAndSkipOnlyTheBadJob() {
        let (jobs, problems) = normalize(
            nil,
            """
            [{"job_name": "ok"},
             {"scrape_interval": "10s"},
             {"job_name": "slow", "scrape_interval": "10s", "scrape_timeout": "20s"},
             {"job_name": "ok"},
             {"job_name": "bad-duration", "scrape_interval": "10 seconds"},
             {"job_name": "bad-file", "file_sd_configs": [{"files": ["/etc/*/x.json"]}]},
             {"job_name": "bad-http", "http_sd_configs": [{"url": "ftp://x/"}]},
             {"job_name": "bad-k8s", "kubernetes_sd_configs": [{"role": "planet"}]},
             {"job_name": "bad-relabel", "relabel_configs": [{"action": "explode"}]},
             {"job_name": "ec2", "ec2_sd_configs": [{"region": "x"}]},
             "not a mapping"]
            """)
        #expect(jobs.map(\.name) == ["ok", "ec2"])
        let expectedPrefixes = [
            "scrape_configs[1].job_name: required",
            "scrape_configs[2].scrape_timeout: scrape timeout 20s greater than scrape interval 10s",
            "scrape_configs[3].job_name: duplicate job name \"ok\"",
            "scrape_configs[4].scrape_interval: not a valid duration string",
            "scrape_configs[5].file_sd_configs[0].files[0]: path name \"/etc/*/x.json\" is not valid",
            "scrape_configs[6].http_sd_configs[0].url: URL scheme must be 'http' or 'https'",
            "scrape_configs[7].kubernetes_sd_configs[0].role: unknown Kubernetes SD role",
            "scrape_configs[8].relabel_configs[0].action: unknown relabel action",
            "scrape_configs[9].ec2_sd_configs: job \"ec2\": service discovery mechanism \"ec2\" is not supported",
            "scrape_configs[10]: must be a mapping",
        ]
        #expect(problems.count == expectedPrefixes.count, "\(problems)")
        for (problem, prefix) in zip(problems, expectedPrefixes) { #expect(problem.hasPrefix(prefix), "\(problem)") }
        // The unsupported kind is still served as given.
        #expect(jobs[1].scrapeConfig["ec2_sd_configs"] == j(#"[{"region": "x"}]"#))
    }

    /// An explicit null is Prometheus's zero value, not the default (its YAML unmarshalling), and
    /// is served as "" so that collectors relabel as the allocator filtered.
    @Test func explicitNullsInRelabelRulesAreEmpty() {
        let (jobs, problems) = normalize(
            nil,
            """
            [{"job_name": "a", "relabel_configs": [
               {"source_labels": ["x", "y"], "separator": null, "regex": null, "replacement": null, "target_label": "t"}]},
             {"job_name": "b", "relabel_configs": [{"source_labels": ["x"], "action": null}]}]
            """)
        #expect(jobs.map(\.name) == ["a"])
        #expect(problems == ["scrape_configs[1].relabel_configs[0].action: relabel action cannot be empty"], "\(problems)")
        #expect(jobs.first?.scrapeConfig["relabel_configs"] == j(
            #"[{"action":"replace","regex":"","replacement":"","separator":"","source_labels":["x","y"],"target_label":"t"}]"#))
    }

    @Test func globalProblems() {
        let (jobs, problems) = normalize(#"{"scrape_interval": "5s", "scrape_timeout": "6s"}"#, #"[{"job_name": "a"}]"#)
        #expect(problems == ["global.scrape_timeout: global scrape timeout greater than scrape interval"])
        #expect(jobs[0].scrapeConfig["scrape_timeout"] == .string("5s"))
    }

    @Test func filePatterns() {
        for good in ["a.json", "/x/*.json", "/x/y/*.yml", "rel/dir/file.YAML", "/x/a*b.yaml"] { #expect(FileSDProvider.isValidPattern(good), "\(good)") }
        for bad in ["a.txt", "/x/*/a.json", "*/a.yml", "a.json.bak", "/x/*.jsonx"] { #expect(!FileSDProvider.isValidPattern(bad), "\(bad)") }
    }
}
