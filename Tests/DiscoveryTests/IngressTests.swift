import Discovery
import Foundation
import JSON
import KubernetesClient
import KubernetesEmulator
import TestSupport
import Testing

/// The `ingress` role. Objects and expected groups are Prometheus's own
/// (`discovery/kubernetes/ingress_test.go`: `makeIngress`, `expectedTargetGroups` and the
/// add, TLS, mixed, namespaces, own-namespace and namespace-metadata cases), plus the wildcard
/// TLS mode its helper defines.
enum IngressFixture {
    enum TLS: String, CaseIterable, Sendable { case no, yes, mixed, wildcard }

    /// `makeIngress`: three rules, one of which has an `http` block without paths (no target),
    /// and one whose only path is empty (`/`).
    static func object(namespace: String, tls: TLS) -> JSONValue {
        let tlsJSON: String
        switch tls {
        case .no: tlsJSON = ""
        case .yes: tlsJSON = #","tls":[{"hosts":["example.com","test.example.com"]}]"#
        case .mixed: tlsJSON = #","tls":[{"hosts":["example.com"]}]"#
        case .wildcard: tlsJSON = #","tls":[{"hosts":["*.example.com"]}]"#
        }
        return json(
            #"""
            {"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"testingress","namespace":"\#(namespace)",
              "labels":{"test/label":"testvalue"},"annotations":{"test/annotation":"testannotationvalue"}},
             "spec":{"ingressClassName":"testclass"\#(tlsJSON),"rules":[
               {"host":"example.com","http":{"paths":[{"path":"/"},{"path":"/foo"}]}},
               {"host":"nobackend.example.com","http":{}},
               {"host":"test.example.com","http":{"paths":[{}]}}]}}
            """#)
    }

    static func ingress(namespace: String, tls: TLS) throws -> Ingress {
        try JSONDecoder().decode(Ingress.self, from: Data(object(namespace: namespace, tls: tls).serialized.utf8))
    }

    /// `expectedTargetGroups`.
    static func expected(namespace: String, tls: TLS, extraLabels: [String: String] = [:]) -> [String: TargetGroup] {
        let scheme1 = tls == .yes || tls == .mixed ? "https" : "http"
        let scheme2 = tls == .yes || tls == .wildcard ? "https" : "http"
        func target(_ host: String, _ path: String, _ scheme: String) -> [String: String] {
            [
                "__meta_kubernetes_ingress_scheme": scheme, "__meta_kubernetes_ingress_host": host, "__meta_kubernetes_ingress_path": path,
                "__address__": host,
            ]
        }
        let source = "ingress/\(namespace)/testingress"
        let labels = [
            "__meta_kubernetes_ingress_name": "testingress",
            "__meta_kubernetes_namespace": namespace,
            "__meta_kubernetes_ingress_label_test_label": "testvalue",
            "__meta_kubernetes_ingress_labelpresent_test_label": "true",
            "__meta_kubernetes_ingress_annotation_test_annotation": "testannotationvalue",
            "__meta_kubernetes_ingress_annotationpresent_test_annotation": "true",
            "__meta_kubernetes_ingress_class_name": "testclass",
        ].merging(extraLabels) { _, new in new }
        return [
            source: TargetGroup(
                source: source, labels: labels,
                targets: [target("example.com", "/", scheme1), target("example.com", "/foo", scheme1), target("test.example.com", "/", scheme2)])
        ]
    }

    static func config(_ json: String) -> KubernetesSDConfig {
        var problems: [String] = []
        let config = KubernetesSDConfig(json: try! JSONValue.parse(json), problems: &problems, path: "test")
        #expect(problems.isEmpty, "\(problems)")
        return config!
    }

    static let namespaceObject = json(
        #"""
        {"apiVersion":"v1","kind":"Namespace","metadata":{"name":"test-ns","labels":{"service":"web","layer":"frontend"},
          "annotations":{"contact":"platform","release":"v5.6.7"}}}
        """#)
    static let namespaceLabels = [
        "__meta_kubernetes_namespace_annotation_contact": "platform", "__meta_kubernetes_namespace_annotationpresent_contact": "true",
        "__meta_kubernetes_namespace_annotation_release": "v5.6.7", "__meta_kubernetes_namespace_annotationpresent_release": "true",
        "__meta_kubernetes_namespace_label_service": "web", "__meta_kubernetes_namespace_labelpresent_service": "true",
        "__meta_kubernetes_namespace_label_layer": "frontend", "__meta_kubernetes_namespace_labelpresent_layer": "true",
    ]
}

@Suite struct IngressTargetsTests {
    @Test(arguments: IngressFixture.TLS.allCases)
    func tlsModes(_ tls: IngressFixture.TLS) throws {
        var objects = KubernetesObjects()
        objects.ingresses = [try IngressFixture.ingress(namespace: "default", tls: tls)]
        let config = IngressFixture.config(#"{"role":"ingress","namespaces":{"names":["default"]}}"#)
        let groups = KubernetesTargets.groups(config: config, ownNamespace: "", objects: objects)
        let problems = differences(groups, IngressFixture.expected(namespace: "default", tls: tls))
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    @Test func namespacesAndOwnNamespace() throws {
        var objects = KubernetesObjects()
        objects.ingresses = try ["ns1", "ns2", "own-ns", "non-own-ns"].map { try IngressFixture.ingress(namespace: $0, tls: .no) }
        let listed = KubernetesTargets.groups(
            config: IngressFixture.config(#"{"role":"ingress","namespaces":{"names":["ns1","ns2"]}}"#), ownNamespace: "own-ns", objects: objects)
        let expected = IngressFixture.expected(namespace: "ns1", tls: .no).merging(IngressFixture.expected(namespace: "ns2", tls: .no)) { a, _ in a }
        #expect(differences(listed, expected).isEmpty, "\(differences(listed, expected))")
        let own = KubernetesTargets.groups(
            config: IngressFixture.config(#"{"role":"ingress","namespaces":{"own_namespace":true}}"#), ownNamespace: "own-ns", objects: objects)
        #expect(differences(own, IngressFixture.expected(namespace: "own-ns", tls: .no)).isEmpty)
    }

    @Test func withNamespaceMetadata() throws {
        var objects = KubernetesObjects()
        objects.ingresses = [try IngressFixture.ingress(namespace: "test-ns", tls: .no)]
        objects.namespaces = [try JSONDecoder().decode(Namespace.self, from: Data(IngressFixture.namespaceObject.serialized.utf8))]
        let config = IngressFixture.config(#"{"role":"ingress","attach_metadata":{"namespace":true}}"#)
        let groups = KubernetesTargets.groups(config: config, ownNamespace: "", objects: objects)
        let expected = IngressFixture.expected(namespace: "test-ns", tls: .no, extraLabels: IngressFixture.namespaceLabels)
        #expect(differences(groups, expected).isEmpty, "\(differences(groups, expected))")
    }

    /// A rule without `http` is scraped at `/`; a rule with an `http` block that lists no
    /// paths is not (`rulePaths` returns an empty, non-nil list there).
    @Test func ruleWithoutHTTPIsTheRootPath() throws {
        let ingress = try JSONDecoder().decode(
            Ingress.self,
            from: Data(#"{"metadata":{"name":"i","namespace":"d"},"spec":{"rules":[{"host":"a.example.com"},{"host":"b.example.com","http":{"paths":[]}}]}}"#.utf8))
        let group = KubernetesTargets.ingress(ingress)
        #expect(group.targets.map { $0["__address__"] } == ["a.example.com"])
        #expect(group.targets.first?["__meta_kubernetes_ingress_path"] == "/")
        #expect(group.labels["__meta_kubernetes_ingress_class_name"] == nil, "no class name label without a class")
    }

    @Test func selectorsOnlyForTheIngressRole() {
        var problems: [String] = []
        _ = KubernetesSDConfig(json: json(#"{"role":"ingress","selectors":[{"role":"pod","label":"a=b"}]}"#), problems: &problems, path: "x")
        #expect(problems == ["x.selectors[0]: ingress role supports only ingress selectors"])
        problems = []
        _ = KubernetesSDConfig(json: json(#"{"role":"ingress","selectors":[{"role":"ingress","label":"a=b"}]}"#), problems: &problems, path: "x")
        #expect(problems.isEmpty)
    }
}

/// The same vectors through the emulator serving `networking.k8s.io/v1` Ingresses, and the
/// informer-backed discovery: created, changed and deleted objects.
@Suite struct IngressEmulatorTests {
    @Test func discoversIngressesThroughTheAPI() async throws {
        try await withEmulator(namespaces: ["default", "ns1", "ns2", "test-ns"]) { emulator, client in
            emulator.seed(.ingresses, [IngressFixture.object(namespace: "ns1", tls: .yes)])
            emulator.seed(.namespaces, [IngressFixture.namespaceObject])
            let configs = [
                "listed": [IngressFixture.config(#"{"role":"ingress","namespaces":{"names":["ns1","ns2"]}}"#)],
                "metadata": [IngressFixture.config(#"{"role":"ingress","namespaces":{"names":["test-ns"]},"attach_metadata":{"namespace":true}}"#)],
                "selected": [IngressFixture.config(#"{"role":"ingress","selectors":[{"role":"ingress","label":"test/label=other"}]}"#)],
            ]
            let (_, publications, task) = startDiscovery(client: client, configs: configs)
            #expect(await eventually(timeout: 30) { differences(publications.groups("listed"), IngressFixture.expected(namespace: "ns1", tls: .yes)).isEmpty })

            // Added after the start, in another watched namespace and in the metadata one.
            emulator.seed(.ingresses, [IngressFixture.object(namespace: "ns2", tls: .mixed), IngressFixture.object(namespace: "test-ns", tls: .no)])
            let both = IngressFixture.expected(namespace: "ns1", tls: .yes).merging(IngressFixture.expected(namespace: "ns2", tls: .mixed)) { a, _ in a }
            #expect(await eventually(timeout: 30) { differences(publications.groups("listed"), both).isEmpty }, "\(differences(publications.groups("listed"), both))")
            let withMetadata = IngressFixture.expected(namespace: "test-ns", tls: .no, extraLabels: IngressFixture.namespaceLabels)
            #expect(await eventually(timeout: 30) { differences(publications.groups("metadata"), withMetadata).isEmpty }, "\(differences(publications.groups("metadata"), withMetadata))")
            // The label selector goes to the API server: nothing carries test/label=other.
            #expect(publications.groups("selected").isEmpty)

            try emulator.delete(.ingresses, namespace: "ns1", name: "testingress")
            let onlyNs2 = IngressFixture.expected(namespace: "ns2", tls: .mixed)
            #expect(await eventually(timeout: 30) { differences(publications.groups("listed"), onlyNs2).isEmpty })
            task.cancel()
            await task.value
        }
    }
}
