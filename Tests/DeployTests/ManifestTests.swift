import Foundation
import JSON
import KubernetesEmulator
import Testing
import TestSupport

/// The manifests as files and as the real kustomize renders them: what a person installing
/// the allocator gets, checked field by field.
@Suite("deploy/ manifests")
struct ManifestTests {
    /// Every YAML file under deploy/.
    static func yamlFiles() throws -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: deployDirectory.path)
        var files: [String] = []
        while let path = enumerator?.nextObject() as? String {
            if path.hasSuffix(".yaml") || path.hasSuffix(".yml") { files.append(path) }
        }
        return files.sorted()
    }

    @Test func everyFileParsesAndEveryObjectIsComplete() throws {
        let files = try Self.yamlFiles()
        #expect(files.contains("base/kustomization.yaml"))
        #expect(files.contains("overlays/mtls/kustomization.yaml"))
        #expect(files.contains("examples/otel-collector.yaml"))
        for file in files {
            let documents = try parseYAMLDocuments(String(contentsOfFile: deployPath(file), encoding: .utf8), file: file)
            #expect(!documents.isEmpty, "\(file) is empty")
            let name = (file as NSString).lastPathComponent
            if name == "kustomization.yaml" {
                #expect(documents.first?.kind == "Kustomization", "\(file)")
                continue
            }
            if name == "targetallocator.yaml" { continue }  // the allocator's config, checked below
            for object in documents {
                #expect(!object.apiVersion.isEmpty && !object.kind.isEmpty && !object.name.isEmpty, "\(file): \(object.serialized.prefix(80))")
            }
        }
    }

    @Test func theBaseRendersACompleteInstall() async throws {
        let objects = try await kustomize("base")
        let kinds = Set(objects.map(\.kind))
        for kind in [
            "Namespace", "ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment",
            "PodDisruptionBudget", "Service",
        ] {
            #expect(kinds.contains(kind), "the base renders a \(kind)")
        }
        let install = try RenderedInstall(objects)
        let namespace = try objects.only("Namespace").name
        #expect(install.namespace == namespace)
        for object in objects where !["Namespace", "ClusterRole", "ClusterRoleBinding"].contains(object.kind) {
            #expect(object.namespace == namespace, "\(object.kind)/\(object.name) is in \(namespace)")
        }
        // The ServiceAccount the pods run as exists, and both bindings name it in the install's namespace.
        #expect(objects.contains { $0.kind == "ServiceAccount" && $0.name == install.serviceAccount })
        for binding in objects where binding.kind.hasSuffix("Binding") {
            let subjects = binding["subjects"]?.arrayValue ?? []
            #expect(
                subjects.contains { $0["kind"]?.stringValue == "ServiceAccount" && $0["name"]?.stringValue == install.serviceAccount && $0["namespace"]?.stringValue == namespace },
                "\(binding.kind)/\(binding.name) binds the allocator's ServiceAccount")
            let ref = binding["roleRef"]
            #expect(objects.contains { $0.kind == ref?["kind"]?.stringValue && $0.name == ref?["name"]?.stringValue })
        }
    }

    @Test func theDeploymentIsHighlyAvailableAndHardened() async throws {
        let install = try RenderedInstall(try await kustomize("base"))
        let deployment = install.deployment
        let pod = install.podSpec
        let container = install.container
        #expect((deployment.at("spec", "replicas")?.int ?? 1) >= 3)
        #expect(selects(deployment.at("spec", "selector"), install.podLabels), "the Deployment's selector matches its pods")
        #expect(deployment.at("spec", "strategy", "rollingUpdate", "maxUnavailable")?.int == 0, "rollouts never drop below the replica count")

        // Spread: over nodes at least, by topology spread or pod anti-affinity on the pods' own labels.
        let spread = pod["topologySpreadConstraints"]?.arrayValue ?? []
        let antiAffinity = pod.at("affinity", "podAntiAffinity")
        #expect(
            spread.contains { $0["topologyKey"]?.stringValue == "kubernetes.io/hostname" && selects($0["labelSelector"], install.podLabels) }
                || antiAffinity != nil)

        // Probes on the plain port: liveness /livez, readiness /readyz.
        let httpPort = try #require(install.containerPort(named: "http"))
        #expect(port(ofListenAddress: flagValue(install.args, "--listen-addr") ?? ":8080") == httpPort)
        for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/livez")] {
            let get = container[probe]?["httpGet"]
            #expect(get?["path"]?.stringValue == path, "\(probe)")
            #expect(get?["port"] == .string("http") || get?["port"]?.int == httpPort, "\(probe) uses the http port")
        }

        // Identity and namespace from the downward API.
        let env = container["env"]?.arrayValue ?? []
        for (name, field) in [("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace")] {
            #expect(env.first { $0["name"]?.stringValue == name }?.at("valueFrom", "fieldRef", "fieldPath")?.stringValue == field, "\(name)")
        }

        // Resources and security.
        #expect(container.at("resources", "requests", "cpu") != nil && container.at("resources", "requests", "memory") != nil)
        #expect(container.at("resources", "limits", "memory") != nil)
        let security = container["securityContext"]
        #expect(pod.at("securityContext", "runAsNonRoot") == .bool(true) || security?["runAsNonRoot"] == .bool(true))
        #expect(security?["readOnlyRootFilesystem"] == .bool(true))
        #expect(security?["allowPrivilegeEscalation"] == .bool(false))
        #expect(security?.at("capabilities", "drop")?.strings == ["ALL"])
        #expect(
            pod.at("securityContext", "seccompProfile", "type")?.stringValue == "RuntimeDefault"
                || security?.at("seccompProfile", "type")?.stringValue == "RuntimeDefault")
        #expect(pod["serviceAccountName"]?.stringValue == install.serviceAccount)

        // Shutdown: a leader drains and hands its lease back (a read and a write, each bounded by
        // renew_deadline) before the kubelet's SIGKILL.
        let grace = try #require(pod["terminationGracePeriodSeconds"]?.int)
        let renewDeadline = try #require(seconds(install.config.at("leader_election", "renew_deadline")?.stringValue ?? "10s"))
        let leaseDuration = try #require(seconds(install.config.at("leader_election", "lease_duration")?.stringValue ?? "15s"))
        #expect(Double(grace) > 2 * renewDeadline)
        #expect(Double(grace) > leaseDuration)
    }

    @Test func theServiceAndTheBudgetSelectTheReplicas() async throws {
        let objects = try await kustomize("base")
        let install = try RenderedInstall(objects)
        let replicas = install.deployment.at("spec", "replicas")?.int ?? 1

        let budget = try objects.only("PodDisruptionBudget")
        #expect(selects(budget.at("spec", "selector"), install.podLabels), "the PDB selects the replicas")
        let maxUnavailable = budget.at("spec", "maxUnavailable")?.int
        let minAvailable = budget.at("spec", "minAvailable")?.int
        #expect(maxUnavailable == 1 || (minAvailable.map { $0 >= 2 && $0 < replicas } ?? false), "one voluntary disruption at a time")

        let service = try objects.only("Service")
        let selector = try #require(service.at("spec", "selector")?.stringDictionary)
        #expect(!selector.isEmpty && selector.allSatisfy { install.podLabels[$0.key] == $0.value }, "the Service selects the replicas")
        let ports = service.at("spec", "ports")?.arrayValue ?? []
        for (servicePort, name, containerPort) in [(80, "http", 8080), (443, "https", 8443)] {
            let entry = try #require(ports.first { $0["port"]?.int == servicePort }, "Service port \(servicePort)")
            let target = entry["targetPort"]
            #expect(target == .string(name) || target?.int == containerPort, "port \(servicePort) → \(name)")
            #expect(install.containerPort(named: name) == containerPort, "the container declares \(name) = \(containerPort)")
        }
    }

    /// The embedded config, checked against the keys `AllocatorConfig.parse` knows (the real
    /// binary parses it too, in ReplicaRunTests).
    @Test func theEmbeddedConfigUsesOnlyKnownKeysAndSaneTimings() async throws {
        let install = try RenderedInstall(try await kustomize("base"))
        let config = install.config
        let topLevel: Set = [
            "listen_addr", "kube_config_file_path", "collector_namespace", "collector_selector", "config", "allocation_strategy",
            "allocation_fallback_strategy", "filter_strategy", "prometheus_cr", "https", "collector_not_ready_grace_period",
            "allow_insecure_auth_secrets", "leader_election", "snapshot", "telemetry",
        ]
        let nested: [String: Set<String>] = [
            "leader_election": ["lease_name", "lease_duration", "renew_deadline", "retry_period"],
            "snapshot": ["configmap_name", "min_write_interval"],
            "collector_selector": ["matchlabels", "matchLabels", "matchexpressions", "matchExpressions"],
            "https": ["enabled", "listen_addr", "ca_file_path", "tls_cert_file_path", "tls_key_file_path"],
            "prometheus_cr": [
                "enabled", "scrape_interval", "allow_namespaces", "deny_namespaces", "service_monitor_selector",
                "service_monitor_namespace_selector", "pod_monitor_selector", "pod_monitor_namespace_selector", "probe_selector",
                "probe_namespace_selector", "scrape_config_selector", "scrape_config_namespace_selector",
            ],
        ]
        for key in config.keys {
            #expect(topLevel.contains(key), "unknown config key \(key)")
            if let known = nested[key] {
                for k in config[key]?.keys ?? [] { #expect(known.contains(k), "unknown config key \(key).\(k)") }
            }
        }
        #expect(["consistent-hashing", "least-weighted", "per-node"].contains(config["allocation_strategy"]?.stringValue ?? "consistent-hashing"))
        let lease = try #require(seconds(config.at("leader_election", "lease_duration")?.stringValue))
        let renew = try #require(seconds(config.at("leader_election", "renew_deadline")?.stringValue))
        let retry = try #require(seconds(config.at("leader_election", "retry_period")?.stringValue))
        #expect(lease > renew && renew > 1.2 * retry)
        #expect(seconds(config.at("snapshot", "min_write_interval")?.stringValue) != nil)
        let jobs = config.at("config", "scrape_configs")?.arrayValue ?? []
        #expect(!jobs.isEmpty || config.at("prometheus_cr", "enabled") == .bool(true))
        #expect(Set(jobs.compactMap { $0["job_name"]?.stringValue }).count == jobs.count, "job names are unique")
    }

    /// The collector example polls the Service with its pod name, and its pods are what
    /// `collector_selector` selects.
    @Test func theCollectorExamplePointsAtTheService() async throws {
        let install = try RenderedInstall(try await kustomize("base"))
        let service = try install.objects.only("Service")
        let ports = service.at("spec", "ports")?.arrayValue ?? []
        let httpPort = try #require(ports.first { $0["name"]?.stringValue == "http" }?["port"]?.int)
        let host = "\(service.name).\(install.namespace).svc"
        let collector = try CollectorExample(file: "examples/otel-collector.yaml")
        #expect(collector.targetAllocator["endpoint"]?.stringValue == "http://\(host):\(httpPort)")
        #expect(seconds(collector.targetAllocator["interval"]?.stringValue) != nil)
        #expect(collector.targetAllocator["collector_id"]?.stringValue == "${env:POD_NAME}")
        #expect(collector.podEnvironmentHasPodName)
        #expect(collector.namespace == install.namespace, "collectors run where collector_namespace defaults to")
        #expect(install.config["collector_namespace"] == nil || install.config["collector_namespace"]?.stringValue == collector.namespace)
        #expect(selects(install.config["collector_selector"], collector.podLabels), "collector_selector selects the example collectors")
        #expect(!selects(install.config["collector_selector"], install.podLabels), "the allocator's own pods are not collectors")
    }

    @Test func theMTLSOverlayRequiresClientCertificates() async throws {
        let base = try RenderedInstall(try await kustomize("base"))
        let overlay = try RenderedInstall(try await kustomize("overlays/mtls"))
        let args = overlay.args
        #expect(args.contains("--enable-https-server"))
        #expect(Array(args.prefix(base.args.count)) == base.args, "the overlay only adds flags")
        let httpsPort = try #require(overlay.containerPort(named: "https"))
        #expect(port(ofListenAddress: flagValue(args, "--listen-addr-https") ?? ":8443") == httpsPort)
        var secrets = Set<String>()
        for flag in ["--https-tls-cert-file", "--https-tls-key-file", "--https-ca-file"] {
            let path = try #require(flagValue(args, flag), "\(flag) is set")
            let secret = try #require(overlay.secretMounted(over: path), "\(path) comes from a Secret volume")
            secrets.insert(secret)
        }
        #expect(secrets.count == 1)
        // Everything else is the base unchanged.
        #expect(overlay.objects.count == base.objects.count)
        #expect(overlay.configText == base.configText)

        let collector = try CollectorExample(file: "examples/otel-collector-mtls.yaml")
        let service = try base.objects.only("Service")
        let httpsServicePort = try #require(
            (service.at("spec", "ports")?.arrayValue ?? []).first { $0["name"]?.stringValue == "https" }?["port"]?.int)
        #expect(collector.targetAllocator["endpoint"]?.stringValue == "https://\(service.name).\(base.namespace).svc:\(httpsServicePort)")
        #expect(collector.targetAllocator["collector_id"]?.stringValue == "${env:POD_NAME}")
        for key in ["ca_file", "cert_file", "key_file"] {
            let path = try #require(collector.targetAllocator.at("tls", key)?.stringValue, "tls.\(key)")
            #expect(collector.secretMounted(over: path) != nil, "\(path) comes from a Secret volume")
        }
    }

    /// The allocator's RBAC is read-only cluster-wide and writes only Leases and ConfigMaps,
    /// only in its own namespace (least privilege; what it must cover is checked against a
    /// real run in ReplicaRunTests).
    @Test func clusterWideAccessIsReadOnly() async throws {
        let objects = try await kustomize("base")
        let install = try RenderedInstall(objects)
        for role in objects where role.kind == "ClusterRole" {
            for rule in role["rules"]?.arrayValue ?? [] {
                let verbs = Set(rule["verbs"]?.strings ?? [])
                let resources = rule["resources"]?.strings ?? []
                #expect(verbs.isSubset(of: ["get", "list", "watch"]), "\(role.name): \(rule.serialized)")
                #expect(!resources.contains("*"))
            }
        }
        for role in objects where role.kind == "Role" {
            #expect(role.namespace == install.namespace)
            for rule in role["rules"]?.arrayValue ?? [] {
                let verbs = Set(rule["verbs"]?.strings ?? [])
                let resources = Set(rule["resources"]?.strings ?? [])
                if !verbs.isSubset(of: ["get", "list", "watch"]) {
                    #expect(resources.isSubset(of: ["leases", "configmaps"]), "\(role.name) writes only Leases and ConfigMaps")
                }
            }
        }
        // The discovery reads DESIGN.md names (the Discovery module is not wired into the binary
        // yet, so ReplicaRunTests cannot observe them): until it is, hold the ClusterRole to them.
        let policy = RBACPolicy(objects: objects)
        let account = RBACPolicy.ServiceAccount(namespace: install.namespace, name: install.serviceAccount)
        let reads: [(String, String)] = [
            ("", "pods"), ("", "services"), ("", "endpoints"), ("discovery.k8s.io", "endpointslices"), ("", "nodes"),
            ("", "namespaces"), ("", "secrets"), ("", "configmaps"), ("networking.k8s.io", "ingresses"),
            ("monitoring.coreos.com", "servicemonitors"), ("monitoring.coreos.com", "podmonitors"),
            ("monitoring.coreos.com", "probes"), ("monitoring.coreos.com", "scrapeconfigs"),
        ]
        for (group, resource) in reads {
            for verb in ["get", "list", "watch"] {
                for namespace in [nil, "some-app"] {
                    let request = RequestRecord(identity: "", verb: verb, group: group, resource: resource, namespace: namespace)
                    #expect(policy.allows(account, request), "\(request)")
                }
            }
        }
    }
}

/// One of the example collector manifests: a ConfigMap with the collector config and a
/// StatefulSet of collectors mounting it.
struct CollectorExample {
    let objects: [JSONValue]
    let collectorConfig: JSONValue
    let workload: JSONValue

    init(file: String) throws {
        objects = try parseYAMLDocuments(String(contentsOfFile: deployPath(file), encoding: .utf8), file: file)
        guard let workload = objects.first(where: { ["StatefulSet", "Deployment", "DaemonSet"].contains($0.kind) }) else {
            throw DeployTestError("\(file): no collector workload")
        }
        self.workload = workload
        let text = objects.first { $0.kind == "ConfigMap" }?.at("data")?.fields?.first?.value.stringValue ?? ""
        guard let config = try parseYAMLDocuments(text, file: "\(file) collector config").first else {
            throw DeployTestError("\(file): no collector config")
        }
        collectorConfig = config
    }

    var targetAllocator: JSONValue { collectorConfig.at("receivers", "prometheus", "target_allocator") ?? .null }
    var namespace: String? { workload.namespace }
    var podLabels: [String: String] { workload.at("spec", "template", "metadata", "labels")?.stringDictionary ?? [:] }
    private var container: JSONValue? { workload.at("spec", "template", "spec", "containers")?.arrayValue?.first }

    var podEnvironmentHasPodName: Bool {
        (container?["env"]?.arrayValue ?? []).contains {
            $0["name"]?.stringValue == "POD_NAME" && $0.at("valueFrom", "fieldRef", "fieldPath")?.stringValue == "metadata.name"
        }
    }

    func secretMounted(over path: String) -> String? {
        let mounts = container?["volumeMounts"]?.arrayValue ?? []
        guard let mount = mounts.first(where: { m in m["mountPath"]?.stringValue.map { path.hasPrefix($0 + "/") } ?? false }) else { return nil }
        let volumes = workload.at("spec", "template", "spec", "volumes")?.arrayValue ?? []
        return volumes.first { $0["name"] == mount["name"] }?.at("secret", "secretName")?.stringValue
    }
}
