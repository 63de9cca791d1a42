import Discovery
import Foundation
import JSON
import KubernetesClient
import Testing

/// Hand-written cases beyond the upstream vectors.
@Suite struct KubernetesTargetsTests {
    @Test func sanitizeWorksPerUnicodeScalar() {
        #expect(KubernetesTargets.sanitize("app.kubernetes.io/ñame") == "app_kubernetes_io__ame")
        #expect(KubernetesTargets.sanitize("a-b_C9") == "a_b_C9")
        #expect(KubernetesTargets.sanitize("日本") == "__")
    }

    @Test func podWithIPv6InitContainerAndPortlessContainer() throws {
        let pod = try decode(
            Pod.self,
            json(
                """
                {"metadata":{"name":"p","namespace":"ns","uid":"u1","labels":{"app.kubernetes.io/name":"x"},
                  "ownerReferences":[{"kind":"ReplicaSet","name":"rs-1","controller":false},{"kind":"StatefulSet","name":"ss","controller":true}]},
                 "spec":{"nodeName":"n","containers":[{"name":"a","image":"a:1","ports":[{"containerPort":9090}]},{"name":"b","image":"b:1"}],
                         "initContainers":[{"name":"init","image":"i:1"}]},
                 "status":{"podIP":"fd00::1","phase":"Pending","conditions":[{"type":"Ready","status":"False"}],
                           "containerStatuses":[{"name":"a","containerID":"c://a"}],"initContainerStatuses":[{"name":"init","containerID":"c://i"}]}}
                """))
        let g = KubernetesTargets.pod(pod)
        #expect(g.source == "pod/ns/p")
        #expect(g.labels["__meta_kubernetes_pod_controller_kind"] == "StatefulSet")
        #expect(g.labels["__meta_kubernetes_pod_controller_name"] == "ss")
        #expect(g.labels["__meta_kubernetes_pod_ready"] == "false")
        #expect(g.labels["__meta_kubernetes_pod_label_app_kubernetes_io_name"] == "x")
        #expect(g.labels["__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name"] == "true")
        #expect(g.labels["__meta_kubernetes_namespace"] == "ns")
        #expect(g.targets.map { $0["__address__"] } == ["[fd00::1]:9090", "fd00::1", "fd00::1"])
        #expect(g.targets[0]["__meta_kubernetes_pod_container_port_name"] == "")
        #expect(g.targets[0]["__meta_kubernetes_pod_container_port_protocol"] == "")
        #expect(g.targets[0]["__meta_kubernetes_pod_container_id"] == "c://a")
        #expect(g.targets[1]["__meta_kubernetes_pod_container_id"] == "")
        #expect(g.targets[1]["__meta_kubernetes_pod_container_port_number"] == nil)
        #expect(g.targets[2]["__meta_kubernetes_pod_container_init"] == "true")
        #expect(g.targets[2]["__meta_kubernetes_pod_container_id"] == "c://i")
    }

    @Test func serviceTypes() throws {
        func service(_ spec: String, status: String = "{}") throws -> TargetGroup {
            KubernetesTargets.service(
                try decode(Service.self, json(#"{"metadata":{"name":"s","namespace":"n"},"spec":\#(spec),"status":\#(status)}"#)))
        }
        let lb = try service(
            #"{"type":"LoadBalancer","clusterIP":"10.0.0.1","loadBalancerIP":"1.1.1.1","ports":[{"port":80,"protocol":"TCP"}]}"#,
            status: #"{"loadBalancer":{"ingress":[{"ip":"2.2.2.2"},{"hostname":"h"},{"ip":"3.3.3.3"}]}}"#)
        #expect(lb.targets == [
            [
                "__address__": "s.n.svc:80", "__meta_kubernetes_service_port_name": "", "__meta_kubernetes_service_port_number": "80",
                "__meta_kubernetes_service_port_protocol": "TCP", "__meta_kubernetes_service_type": "LoadBalancer",
                "__meta_kubernetes_service_cluster_ip": "10.0.0.1", "__meta_kubernetes_service_loadbalancer_ip": "2.2.2.2,3.3.3.3",
            ]
        ])
        let fallback = try service(#"{"type":"LoadBalancer","loadBalancerIP":"1.1.1.1","ports":[{"port":80}]}"#)
        #expect(fallback.targets[0]["__meta_kubernetes_service_loadbalancer_ip"] == "1.1.1.1")
        let external = try service(#"{"type":"ExternalName","externalName":"db.example.com","ports":[{"name":"pg","port":5432}]}"#)
        #expect(external.targets[0]["__meta_kubernetes_service_external_name"] == "db.example.com")
        #expect(external.targets[0]["__meta_kubernetes_service_cluster_ip"] == nil)
        #expect(try service(#"{"type":"ClusterIP"}"#).targets.isEmpty)
    }

    @Test func nodeAddressPriorityAndConditions() throws {
        func node(_ addresses: String) throws -> Node {
            try decode(
                Node.self,
                json(
                    """
                    {"metadata":{"name":"n"},"spec":{"providerID":"aws://x"},
                     "status":{"addresses":\(addresses),"conditions":[{"type":"MemoryPressure","status":"False"}],
                               "daemonEndpoints":{"kubeletEndpoint":{"Port":10255}}}}
                    """))
        }
        let g = try #require(
            KubernetesTargets.node(
                try node(#"[{"type":"Hostname","address":"h"},{"type":"ExternalIP","address":"5.5.5.5"},{"type":"ExternalIP","address":"6.6.6.6"}]"#)))
        #expect(g.targets == [
            [
                "__address__": "5.5.5.5:10255", "instance": "n", "__meta_kubernetes_node_address_Hostname": "h",
                "__meta_kubernetes_node_address_ExternalIP": "5.5.5.5",
            ]
        ])
        #expect(g.labels["__meta_kubernetes_node_condition_memorypressure"] == "false")
        #expect(g.labels["__meta_kubernetes_node_provider_id"] == "aws://x")
        #expect(KubernetesTargets.node(try node("[]")) == nil)
    }

    @Test func endpointSliceEdgeCases() throws {
        let slice = try decode(
            EndpointSlice.self,
            json(
                """
                {"metadata":{"name":"e","namespace":"n"},"addressType":"FQDN",
                 "endpoints":[{"addresses":["a.example"],"targetRef":{},"deprecatedTopology":{"topology.kubernetes.io/zone":"z1"},"zone":"z1"}],
                 "ports":[{"name":"p"},{"port":53,"protocol":"UDP","appProtocol":"dns"}]}
                """))
        let g = KubernetesTargets.endpointSlice(slice)
        #expect(g.targets.count == 2)
        #expect(g.targets[0] == [
            "__address__": "a.example", "__meta_kubernetes_endpointslice_port_name": "p",
            "__meta_kubernetes_endpointslice_address_target_kind": "", "__meta_kubernetes_endpointslice_address_target_name": "",
            "__meta_kubernetes_endpointslice_endpoint_zone": "z1",
            "__meta_kubernetes_endpointslice_endpoint_topology_topology_kubernetes_io_zone": "z1",
            "__meta_kubernetes_endpointslice_endpoint_topology_present_topology_kubernetes_io_zone": "true",
        ])
        #expect(g.targets[1]["__address__"] == "a.example:53")
        #expect(g.targets[1]["__meta_kubernetes_endpointslice_port_app_protocol"] == "dns")
        #expect(g.labels["__meta_kubernetes_endpointslice_address_type"] == "FQDN")
    }

    /// Pod enrichment: the container whose port equals the endpoint port, then one extra target
    /// per uncovered container port, pods in the order first referenced.
    @Test func endpointsPodEnrichment() throws {
        let pod = try decode(
            Pod.self,
            json(
                """
                {"metadata":{"name":"p","namespace":"n","uid":"u"},
                 "spec":{"containers":[{"name":"c","image":"i","ports":[{"name":"web","containerPort":80,"protocol":"TCP"},{"name":"adm","containerPort":81,"protocol":"TCP"}]}]},
                 "status":{"podIP":"fd00::2","phase":"Running"}}
                """))
        let endpoints = try decode(
            Endpoints.self,
            json(
                """
                {"metadata":{"name":"svc","namespace":"n"},"subsets":[{"addresses":[{"ip":"fd00::2","targetRef":{"kind":"Pod","namespace":"n","name":"p"}}],
                 "notReadyAddresses":[{"ip":"9.9.9.9","hostname":""}],"ports":[{"name":"http","port":80,"protocol":"UDP"}]}]}
                """))
        let g = KubernetesTargets.endpoints(endpoints, lookup: KubernetesLookup(pod: { ns, name in ns == "n" && name == "p" ? pod : nil }))
        #expect(g.targets.map { $0["__address__"] } == ["[fd00::2]:80", "9.9.9.9:80", "[fd00::2]:81"])
        #expect(g.targets[0]["__meta_kubernetes_pod_container_port_name"] == "web")
        #expect(g.targets[0]["__meta_kubernetes_pod_container_port_protocol"] == "UDP", "the endpoint port's protocol")
        #expect(g.targets[0]["__meta_kubernetes_pod_namespace"] == nil)
        #expect(g.targets[1]["__meta_kubernetes_endpoint_ready"] == "false")
        #expect(g.targets[1]["__meta_kubernetes_endpoint_hostname"] == nil)
        #expect(g.targets[2]["__meta_kubernetes_endpoint_ready"] == nil)
        #expect(g.targets[2]["__meta_kubernetes_pod_container_port_name"] == "adm")
        #expect(g.targets[2]["__meta_kubernetes_pod_uid"] == "u")
    }

    @Test func configParsing() {
        var problems: [String] = []
        let ok = KubernetesSDConfig(
            json: json(
                #"{"role":"endpoints","namespaces":{"names":["a","b","a"],"own_namespace":true},"selectors":[{"role":"pod","label":"x=y","field":"spec.nodeName=n"}],"attach_metadata":{"node":true}}"#
            ), problems: &problems, path: "c")
        #expect(problems.isEmpty)
        #expect(ok?.watchedNamespaces(ownNamespace: "b") == ["a", "b"])
        #expect(ok?.selector(for: .pod) == .init(role: .pod, label: "x=y", field: "spec.nodeName=n"))
        #expect(KubernetesSDConfig(role: .pod).watchedNamespaces(ownNamespace: "x") == [nil])

        for (text, message) in [
            (#"{}"#, "role missing"),
            (#"{"role":"ingress2"}"#, "unknown Kubernetes SD role"),
            (#"{"role":"service","selectors":[{"role":"pod","label":"a=b"}]}"#, "service role supports only service selectors"),
            (#"{"role":"pod","selectors":[{"role":"pod"},{"role":"pod"}]}"#, "duplicated selector role"),
            (#"{"role":"pod","api_server":"https://x","namespaces":{"own_namespace":true}}"#, "own_namespace"),
            (#"{"role":"pod","attach_metadata":{"node":"yes"}}"#, "must be a boolean"),
        ] {
            var problems: [String] = []
            #expect(KubernetesSDConfig(json: json(text), problems: &problems, path: "c") == nil, "\(text)")
            #expect(problems.contains { $0.contains(message) }, "\(text): \(problems)")
        }
    }
}
