import Discovery
import Foundation
import JSON
import KubernetesClient
import KubernetesEmulator
import Testing
import TestSupport

func podJSON(_ name: String, namespace: String = "default", labels: String = "{}", port: Int = 8080) -> JSONValue {
    json(
        """
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"\(name)","namespace":"\(namespace)","labels":\(labels)},
         "spec":{"nodeName":"node-a","containers":[{"name":"app","image":"app:1","ports":[{"name":"metrics","containerPort":\(port),"protocol":"TCP"}]}]}}
        """)
}

func podStatusJSON(_ pod: JSONValue, ip: String) -> JSONValue {
    var pod = pod
    if case .object(var members) = pod {
        members.removeAll { $0.key == "status" }
        members.append(
            JSONMember(
                "status",
                json("""
                    {"phase":"Running","podIP":"\(ip)","hostIP":"10.0.0.1","conditions":[{"type":"Ready","status":"True"}]}
                    """)))
        pod = .object(members)
    }
    return pod
}

func config(_ text: String) -> KubernetesSDConfig {
    var problems: [String] = []
    let c = KubernetesSDConfig(json: json(text), problems: &problems, path: "test")
    #expect(problems.isEmpty, "\(problems)")
    return c!
}

@Suite struct KubernetesDiscoveryTests {
    /// Changes to pods, services and endpoint slices reach the published groups; namespaces and
    /// selectors are honoured; configs that watch the same collection share one informer.
    @Test func informerBackedDiscovery() async throws {
        try await withEmulator { emulator, client in
            try emulator.create(.namespaces, json(#"{"metadata":{"name":"other"}}"#))
            for (name, ns, labels, ip) in [
                ("web-1", "default", #"{"app":"web"}"#, "10.1.0.1"), ("db-1", "default", #"{"app":"db"}"#, "10.1.0.2"),
                ("web-2", "other", #"{"app":"web"}"#, "10.1.0.3"),
            ] {
                let pod = try emulator.create(.pods, podJSON(name, namespace: ns, labels: labels))
                try emulator.update(.pods, podStatusJSON(pod, ip: ip), subresource: "status")
            }
            try emulator.create(
                .endpointSlices,
                json(
                    """
                    {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"web-abc","namespace":"default",
                     "labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4",
                     "endpoints":[{"addresses":["10.1.0.1"],"conditions":{"ready":true},"targetRef":{"kind":"Pod","namespace":"default","name":"web-1"}}],
                     "ports":[{"name":"metrics","port":8080,"protocol":"TCP"}]}
                    """))

            let podConfig = config(#"{"role":"pod","namespaces":{"names":["default"]},"selectors":[{"role":"pod","label":"app=web"}]}"#)
            let configs: [String: [KubernetesSDConfig]] = [
                "pods": [podConfig],
                "pods-again": [podConfig],  // shares every informer with "pods"
                "slices": [config(#"{"role":"endpointslice","namespaces":{"own_namespace":true}}"#)],
                "services": [config(#"{"role":"service","namespaces":{"names":["default"]}}"#)],
            ]
            let watchesBefore = emulator.openWatches
            let (discovery, publications, task) = startDiscovery(client: client, configs: configs)
            // pods(default, app=web); endpointslices(default); services(default) shared by the
            // endpointslice and service configs; pods(default) for the slices' pod lookups.
            #expect(discovery.informerKeys(configs: configs).count == 4)
            #expect(await eventually(timeout: 30) { publications.count > 0 })
            #expect(await eventually(timeout: 30) { emulator.openWatches - watchesBefore == 4 })

            // Selector and namespace: only web-1.
            #expect(publications.groups("pods").map(\.source) == ["pod/default/web-1"])
            #expect(publications.groups("pods-again") == publications.groups("pods"))
            #expect(publications.group("pods", "pod/default/web-1")?.targets.first?["__address__"] == "10.1.0.1:8080")
            let slice = try #require(publications.group("slices", "endpointslice/default/web-abc"))
            #expect(slice.targets.first?["__meta_kubernetes_pod_name"] == "web-1")
            #expect(slice.labels["__meta_kubernetes_service_name"] == nil)
            #expect(publications.groups("services").isEmpty)

            // A pod change propagates.
            let web1 = try #require(emulator.get(.pods, namespace: "default", name: "web-1"))
            try emulator.update(.pods, podStatusJSON(web1, ip: "10.1.0.9"), subresource: "status")
            #expect(
                await eventually(timeout: 30) {
                    publications.group("pods", "pod/default/web-1")?.targets.first?["__address__"] == "10.1.0.9:8080"
                })
            #expect(
                await eventually(timeout: 30) {
                    publications.group("slices", "endpointslice/default/web-abc")?.targets.first?["__meta_kubernetes_pod_ip"] == "10.1.0.9"
                })

            // A service appears: its own group, and the slice gains its labels.
            try emulator.create(
                .services,
                json(
                    """
                    {"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"default","labels":{"tier":"front"}},
                     "spec":{"type":"ClusterIP","ports":[{"name":"metrics","port":80,"protocol":"TCP"}]}}
                    """))
            #expect(
                await eventually(timeout: 30) {
                    publications.group("services", "svc/default/web")?.targets.first?["__address__"] == "web.default.svc:80"
                })
            #expect(
                await eventually(timeout: 30) {
                    publications.group("slices", "endpointslice/default/web-abc")?.labels["__meta_kubernetes_service_label_tier"] == "front"
                })

            // The slice gains an endpoint.
            var sliceObject = try #require(emulator.get(.endpointSlices, namespace: "default", name: "web-abc"))
            if case .object(var members) = sliceObject, let i = members.firstIndex(where: { $0.key == "endpoints" }) {
                members[i].value = json(
                    #"[{"addresses":["10.1.0.9"],"conditions":{"ready":true}},{"addresses":["10.1.0.7"],"conditions":{"ready":false}}]"#)
                sliceObject = .object(members)
            }
            try emulator.update(.endpointSlices, sliceObject)
            #expect(
                await eventually(timeout: 30) {
                    publications.group("slices", "endpointslice/default/web-abc")?.targets.map { $0["__address__"] ?? "" }
                        == ["10.1.0.9:8080", "10.1.0.7:8080"]
                })

            // A pod that starts matching the selector appears; a deleted one disappears.
            let db1 = try #require(emulator.get(.pods, namespace: "default", name: "db-1"))
            if case .object(var members) = db1, let i = members.firstIndex(where: { $0.key == "metadata" }),
                case .object(var meta) = members[i].value, let j = meta.firstIndex(where: { $0.key == "labels" })
            {
                meta[j].value = json(#"{"app":"web"}"#)
                members[i].value = .object(meta)
                try emulator.update(.pods, .object(members))
            }
            #expect(
                await eventually(timeout: 30) { publications.groups("pods").map(\.source) == ["pod/default/db-1", "pod/default/web-1"] })
            try emulator.delete(.pods, namespace: "default", name: "web-1")
            #expect(await eventually(timeout: 30) { publications.groups("pods").map(\.source) == ["pod/default/db-1"] })

            task.cancel()
            await task.value
            #expect(await eventually(timeout: 30) { emulator.openWatches == watchesBefore }, "watches closed on cancel")
        }
    }

    /// Node role with a node selector, and a pod config with attach_metadata.node using the
    /// same selector: one node informer serves both.
    @Test func nodeInformerShared() async throws {
        try await withEmulator { emulator, client in
            for (name, type, ip) in [("node-a", "worker", "10.0.0.1"), ("node-b", "master", "10.0.0.2")] {
                emulator.seed(
                    .nodes,
                    [
                        json(
                            """
                            {"apiVersion":"v1","kind":"Node","metadata":{"name":"\(name)","labels":{"node-type":"\(type)"}},
                             "status":{"addresses":[{"type":"Hostname","address":"\(name)"},{"type":"InternalIP","address":"\(ip)"}],
                                       "daemonEndpoints":{"kubeletEndpoint":{"Port":10250}}}}
                            """)
                    ])
            }
            let pod = try emulator.create(.pods, podJSON("p", labels: #"{"app":"x"}"#))
            try emulator.update(.pods, podStatusJSON(pod, ip: "10.1.0.5"), subresource: "status")
            let selector = #"[{"role":"node","label":"node-type=worker"}]"#
            let configs = [
                "nodes": [config(#"{"role":"node","selectors":\#(selector)}"#)],
                "pods": [config(#"{"role":"pod","attach_metadata":{"node":true},"selectors":\#(selector)}"#)],
            ]
            let (discovery, publications, task) = startDiscovery(client: client, configs: configs)
            #expect(discovery.informerKeys(configs: configs).count == 2)
            // The nodes config needs only the node informer; the pods config waits for the pods' too.
            #expect(await eventually(timeout: 30) { publications.updated("nodes") && publications.updated("pods") })
            let node = try #require(publications.group("nodes", "node/node-a"))
            #expect(node.targets == [
                [
                    "__address__": "10.0.0.1:10250", "instance": "node-a", "__meta_kubernetes_node_address_Hostname": "node-a",
                    "__meta_kubernetes_node_address_InternalIP": "10.0.0.1",
                ]
            ])
            #expect(publications.group("nodes", "node/node-b") == nil)
            #expect(publications.group("pods", "pod/default/p")?.labels["__meta_kubernetes_node_label_node_type"] == "worker")
            #expect(await eventually(timeout: 30) { emulator.openWatches == 2 })
            task.cancel()
            await task.value
        }
    }

    /// A collection that never lists (the emulator serves no ReplicaSets) holds back only the
    /// configs that need it: a config's groups are sent once every collection it reads has listed.
    @Test func unsyncedCollectionHoldsBackOnlyItsConfigs() async throws {
        try await withEmulator { emulator, client in
            let pod = try emulator.create(.pods, podJSON("p"))
            try emulator.update(.pods, podStatusJSON(pod, ip: "10.1.0.5"), subresource: "status")
            let configs = [
                "plain": [config(#"{"role":"pod"}"#)],
                "deployments": [config(#"{"role":"pod","attach_metadata":{"deployment":true}}"#)],
            ]
            let (_, publications, task) = startDiscovery(client: client, configs: configs)
            #expect(await eventually(timeout: 30) { publications.count > 0 })
            #expect(publications.groups("plain").map(\.source) == ["pod/default/p"])
            // A change after the first list is sent for the config that listed, still not for the other.
            let second = try emulator.create(.pods, podJSON("q"))
            try emulator.update(.pods, podStatusJSON(second, ip: "10.1.0.6"), subresource: "status")
            #expect(await eventually(timeout: 30) { publications.groups("plain").map(\.source) == ["pod/default/p", "pod/default/q"] })
            #expect(!publications.updated("deployments"))
            task.cancel()
            await task.value
        }
    }
}

/// Incremental discovery (issue 12): after the first list, a change sends the groups of the
/// objects it touches and nothing else; the sources are Prometheus's (one group per object).
@Suite struct IncrementalKubernetesDiscoveryTests {
    @Test func aChangeSendsOnlyTheGroupsOfTheObjectsItTouches() async throws {
        try await withEmulator { emulator, client in
            let count = 200
            var seeded: [JSONValue] = []
            for i in 0..<count { seeded.append(podStatusJSON(podJSON("p-\(i)", labels: #"{"app":"web"}"#), ip: "10.2.0.\(i % 250)")) }
            emulator.seed(.pods, seeded)
            emulator.seed(
                .services,
                [json(#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"default"},"spec":{"type":"ClusterIP","ports":[{"name":"m","port":80}]}}"#)])
            emulator.seed(
                .endpointSlices,
                [
                    json(
                        """
                        {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"web-a","namespace":"default",
                         "labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4",
                         "endpoints":[{"addresses":["10.2.0.1"],"conditions":{"ready":true},"targetRef":{"kind":"Pod","namespace":"default","name":"p-1"}}],
                         "ports":[{"name":"m","port":8080,"protocol":"TCP"}]}
                        """)
                ])
            let configs = [
                "pods": [config(#"{"role":"pod"}"#)],
                "slices": [config(#"{"role":"endpointslice"}"#)],
            ]
            let (discovery, publications, task) = startDiscovery(client: client, configs: configs)
            #expect(await eventually(timeout: 30) { publications.groups("pods").count == count && publications.updated("slices") })
            let first = publications.received
            #expect(first.filter { $0.job == "pods" }.allSatisfy { $0.complete })

            // One pod changes: one group for `pods`; the slice reads that pod only if it is p-1.
            let p7 = try #require(emulator.get(.pods, namespace: "default", name: "p-7"))
            try emulator.update(.pods, podStatusJSON(p7, ip: "10.3.0.7"), subresource: "status")
            #expect(await eventually(timeout: 30) { publications.group("pods", "pod/default/p-7")?.targets.first?["__address__"] == "10.3.0.7:8080" })
            var later = Array(publications.received.dropFirst(first.count))
            #expect(later.map(\.job) == ["pods"], "\(later.map(\.job))")
            #expect(later.flatMap(\.groups).map(\.source) == ["pod/default/p-7"])
            #expect(!later.contains { $0.complete })

            // The pod behind the slice changes: its own group and the slice's, nothing else.
            let seen = publications.received.count
            let p1 = try #require(emulator.get(.pods, namespace: "default", name: "p-1"))
            try emulator.update(.pods, podStatusJSON(p1, ip: "10.3.0.1"), subresource: "status")
            var sources: [String: [String]] = [:]
            #expect(
                await eventually(timeout: 30) {
                    sources = Dictionary(grouping: publications.received.dropFirst(seen), by: \.job).mapValues { $0.flatMap(\.groups).map(\.source) }
                    return sources["pods"] != nil && sources["slices"] != nil
                })
            #expect(sources == ["pods": ["pod/default/p-1"], "slices": ["endpointslice/default/web-a"]], "\(sources)")

            // A write that changes nothing the groups show (same status again) sends nothing.
            let quiet = publications.received.count
            let p2 = try #require(emulator.get(.pods, namespace: "default", name: "p-2"))
            try emulator.update(.pods, podStatusJSON(p2, ip: "10.2.0.2"), subresource: "status")

            // The Service changes: the slice's group (it carries the service's labels), not the pods'.
            var service = try #require(emulator.get(.services, namespace: "default", name: "web"))
            if case .object(var members) = service, let i = members.firstIndex(where: { $0.key == "metadata" }), case .object(var meta) = members[i].value {
                meta.append(JSONMember("labels", json(#"{"tier":"front"}"#)))
                members[i].value = .object(meta)
                service = .object(members)
            }
            try emulator.update(.services, service)
            #expect(
                await eventually(timeout: 30) {
                    publications.group("slices", "endpointslice/default/web-a")?.labels["__meta_kubernetes_service_label_tier"] == "front"
                })
            #expect(publications.received.count > quiet)
            later = Array(publications.received.dropFirst(quiet))
            #expect(later.map(\.job) == ["slices"])
            #expect(later.flatMap(\.groups).map(\.source) == ["endpointslice/default/web-a"])

            // A deleted pod: an empty group with its source, which removes it.
            let beforeDelete = publications.received.count
            try emulator.delete(.pods, namespace: "default", name: "p-9")
            #expect(await eventually(timeout: 30) { publications.group("pods", "pod/default/p-9") == nil })
            later = Array(publications.received.dropFirst(beforeDelete))
            #expect(later.filter { $0.job == "pods" }.flatMap(\.groups).map { "\($0.source) \($0.isEmpty)" } == ["pod/default/p-9 true"])

            // A job that subscribes later to the same config gets every group in one complete
            // update, computed again from the informers' caches (groups are not kept), equal to
            // what the first job was sent, changes included.
            discovery.subscribe(job: "pods-again", configs: configs["pods"]!)
            #expect(await eventually(timeout: 30) { publications.updated("pods-again") })
            let again = publications.received.filter { $0.job == "pods-again" }
            #expect(again.count == 1 && again.allSatisfy(\.complete))
            #expect(again.flatMap(\.groups).map(\.source) == publications.groups("pods").map(\.source))
            #expect(publications.groups("pods-again") == publications.groups("pods"))
            #expect(publications.group("pods-again", "pod/default/p-1")?.targets.first?["__address__"] == "10.3.0.1:8080")
            task.cancel()
            await task.value
        }
    }
}
