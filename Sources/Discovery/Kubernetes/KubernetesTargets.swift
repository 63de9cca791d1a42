import ByteStrings
public import KubernetesClient

/// One target group as Prometheus's Kubernetes discovery sends it: labels shared by the group
/// and one label set per target (each with `__address__`). A target's labels are the group's
/// merged with its own, its own winning.
///
/// Equality is byte-exact (UTF-8), as Prometheus compares labels: a value that changes to a
/// canonically equivalent spelling is a change.
public struct TargetGroup: Sendable, Hashable {
    public var source: String
    public var labels: [String: String]
    public var targets: [[String: String]]

    public init(source: String, labels: [String: String] = [:], targets: [[String: String]] = []) {
        self.source = source
        self.labels = labels
        self.targets = targets
    }

    /// Each target's complete label set (group labels, overridden by the target's own).
    public var mergedTargets: [[String: String]] {
        targets.map { labels.merging($0) { _, own in own } }
    }

    /// A group with neither targets nor labels: what Prometheus sends for a source that is
    /// gone or has nothing to scrape.
    public var isEmpty: Bool { targets.isEmpty && labels.isEmpty }

    public static func == (a: TargetGroup, b: TargetGroup) -> Bool {
        a.source.bytesEqual(b.source) && exactlyEqual(a.labels, b.labels) && a.targets.count == b.targets.count
            && zip(a.targets, b.targets).allSatisfy(exactlyEqual)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(bytes: source)
        hasher.combine(labels.count)
        hasher.combine(targets.count)
    }

    private static func exactlyEqual(_ a: [String: String], _ b: [String: String]) -> Bool {
        guard a.count == b.count else { return false }
        for (key, value) in a {
            guard let i = b.index(forKey: key) else { return false }
            let (otherKey, otherValue) = b[i]
            guard key.bytesEqual(otherKey), value.bytesEqual(otherValue) else { return false }
        }
        return true
    }
}

extension Hasher {
    fileprivate mutating func combine(bytes string: String) {
        var s = string
        s.withUTF8 { combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

/// Where the builders look up related objects. Each lookup answers from what discovery
/// watches (so an object filtered out by a selector is not found).
public struct KubernetesLookup {
    public var node: (_ name: String) -> Node?
    public var namespace: (_ name: String) -> Namespace?
    public var pod: (_ namespace: String, _ name: String) -> Pod?
    public var service: (_ namespace: String, _ name: String) -> Service?
    public var replicaSet: (_ namespace: String, _ name: String) -> ReplicaSet?
    public var job: (_ namespace: String, _ name: String) -> BatchJob?

    public init(
        node: @escaping (_ name: String) -> Node? = { _ in nil },
        namespace: @escaping (_ name: String) -> Namespace? = { _ in nil },
        pod: @escaping (_ namespace: String, _ name: String) -> Pod? = { _, _ in nil },
        service: @escaping (_ namespace: String, _ name: String) -> Service? = { _, _ in nil },
        replicaSet: @escaping (_ namespace: String, _ name: String) -> ReplicaSet? = { _, _ in nil },
        job: @escaping (_ namespace: String, _ name: String) -> BatchJob? = { _, _ in nil }
    ) {
        self.node = node
        self.namespace = namespace
        self.pod = pod
        self.service = service
        self.replicaSet = replicaSet
        self.job = job
    }
}

/// The target groups Prometheus's `discovery/kubernetes` builds, one function per role. Pure:
/// everything related comes through a `KubernetesLookup`.
public enum KubernetesTargets {
    public typealias AttachMetadata = KubernetesSDConfig.AttachMetadata
    static let prefix = "__meta_kubernetes_"
    static let namespaceLabel = "__meta_kubernetes_namespace"

    // MARK: - node

    /// The node's group; nil when the node has no usable address (Prometheus sends nothing).
    public static func node(_ node: Node) -> TargetGroup? {
        var group = TargetGroup(source: "node/" + node.name)
        group.labels = nodeLabels(node)
        var byType: [String: [String]] = [:]
        var typeOrder: [String] = []
        for a in node.status?.addresses ?? [] {
            if byType[a.type] == nil { typeOrder.append(a.type) }
            byType[a.type, default: []].append(a.address)
        }
        let preference = ["InternalIP", "InternalDNS", "ExternalIP", "ExternalDNS", "LegacyHostIP", "Hostname"]
        guard let chosen = preference.lazy.compactMap({ byType[$0]?.first }).first else { return nil }
        let port = node.status?.daemonEndpoints?.kubeletEndpoint?.port ?? 0
        var target = ["__address__": joinHostPort(chosen, String(port)), "instance": node.name]
        for type in typeOrder {
            target[sanitize("__meta_kubernetes_node_address_" + type)] = byType[type]![0]
        }
        group.targets = [target]
        return group
    }

    static func nodeLabels(_ node: Node) -> [String: String] {
        var labels: [String: String] = ["__meta_kubernetes_node_provider_id": node.spec?.providerID ?? ""]
        for c in node.status?.conditions ?? [] {
            labels["__meta_kubernetes_node_condition_" + sanitize(c.type.lowercased())] = c.status.lowercased()
        }
        addObjectMeta(&labels, node.metadata, role: "node")
        return labels
    }

    // MARK: - service

    public static func service(_ service: Service, attach: AttachMetadata = .init(), lookup: KubernetesLookup = .init()) -> TargetGroup {
        let ns = service.namespace ?? ""
        var group = TargetGroup(source: "svc/\(ns)/\(service.name)")
        group.labels = serviceLabels(service)
        if attach.namespace { addNamespaceLabels(&group.labels, ns, lookup) }
        let type = service.spec?.type ?? ""
        for port in service.spec?.ports ?? [] {
            let number = String(port.port)
            var target = [
                "__address__": joinHostPort("\(service.name).\(ns).svc", number),
                "__meta_kubernetes_service_port_name": port.name ?? "",
                "__meta_kubernetes_service_port_number": number,
                "__meta_kubernetes_service_port_protocol": port.protocol ?? "",
                "__meta_kubernetes_service_type": type,
            ]
            if type == "ExternalName" {
                target["__meta_kubernetes_service_external_name"] = service.spec?.externalName ?? ""
            } else {
                target["__meta_kubernetes_service_cluster_ip"] = service.spec?.clusterIP ?? ""
            }
            if type == "LoadBalancer" {
                let ips = (service.status?.loadBalancer?.ingress ?? []).compactMap { $0.ip.flatMap { $0.isEmpty ? nil : $0 } }
                target["__meta_kubernetes_service_loadbalancer_ip"] = ips.isEmpty ? (service.spec?.loadBalancerIP ?? "") : ips.joined(separator: ",")
            }
            group.targets.append(target)
        }
        return group
    }

    static func serviceLabels(_ service: Service) -> [String: String] {
        var labels = [namespaceLabel: service.namespace ?? ""]
        addObjectMeta(&labels, service.metadata, role: "service")
        return labels
    }

    // MARK: - pod

    public static func pod(_ pod: Pod, attach: AttachMetadata = .init(), lookup: KubernetesLookup = .init()) -> TargetGroup {
        let ns = pod.namespace ?? ""
        var group = TargetGroup(source: "pod/\(ns)/\(pod.name)")
        guard let ip = pod.status?.podIP, !ip.isEmpty else { return group }
        let nodeName = pod.spec?.nodeName ?? ""
        // With node metadata, pods on nodes discovery cannot see (filtered by a node selector)
        // are left out.
        var node: Node?
        if attach.node {
            node = lookup.node(nodeName)
            if node == nil { return group }
        }
        group.labels = podLabels(pod, attach: attach, lookup: lookup)
        group.labels[namespaceLabel] = ns
        if let node { addObjectMeta(&group.labels, node.metadata, role: "node") }
        if attach.namespace { addNamespaceLabels(&group.labels, ns, lookup) }

        for (container, isInit) in containers(of: pod) {
            let statuses = (isInit ? pod.status?.initContainerStatuses : pod.status?.containerStatuses) ?? []
            let id = statuses.first { $0.name == container.name }?.containerID ?? ""
            let base = [
                "__meta_kubernetes_pod_container_name": container.name,
                "__meta_kubernetes_pod_container_id": id,
                "__meta_kubernetes_pod_container_image": container.image ?? "",
                "__meta_kubernetes_pod_container_init": isInit ? "true" : "false",
            ]
            guard let ports = container.ports, !ports.isEmpty else {
                group.targets.append(base.merging(["__address__": ip]) { _, new in new })
                continue
            }
            for port in ports {
                var target = base
                let number = String(port.containerPort)
                target["__address__"] = joinHostPort(ip, number)
                target["__meta_kubernetes_pod_container_port_number"] = number
                target["__meta_kubernetes_pod_container_port_name"] = port.name ?? ""
                target["__meta_kubernetes_pod_container_port_protocol"] = port.protocol ?? ""
                group.targets.append(target)
            }
        }
        return group
    }

    /// Containers then init containers, each flagged whether it is an init container.
    static func containers(of pod: Pod) -> [(Pod.Container, Bool)] {
        (pod.spec?.containers ?? []).map { ($0, false) } + (pod.spec?.initContainers ?? []).map { ($0, true) }
    }

    /// The pod labels shared by the pod, endpoints and endpointslice roles (no namespace).
    static func podLabels(_ pod: Pod, attach: AttachMetadata, lookup: KubernetesLookup) -> [String: String] {
        var labels = [
            "__meta_kubernetes_pod_ip": pod.status?.podIP ?? "",
            "__meta_kubernetes_pod_ready": podReady(pod),
            "__meta_kubernetes_pod_phase": pod.status?.phase ?? "",
            "__meta_kubernetes_pod_node_name": pod.spec?.nodeName ?? "",
            "__meta_kubernetes_pod_host_ip": pod.status?.hostIP ?? "",
            "__meta_kubernetes_pod_uid": pod.metadata.uid ?? "",
        ]
        addObjectMeta(&labels, pod.metadata, role: "pod")
        guard let owner = controller(of: pod.metadata) else { return labels }
        if !owner.kind.isEmpty { labels["__meta_kubernetes_pod_controller_kind"] = owner.kind }
        if !owner.name.isEmpty { labels["__meta_kubernetes_pod_controller_name"] = owner.name }
        let ns = pod.namespace ?? ""
        switch owner.kind {
        case "ReplicaSet":
            if attach.deployment, let rs = lookup.replicaSet(ns, owner.name), let top = controller(of: rs.metadata), top.kind == "Deployment" {
                labels["__meta_kubernetes_pod_deployment_name"] = top.name
            }
        case "Job":
            if attach.job { labels["__meta_kubernetes_pod_job_name"] = owner.name }
            if attach.cronjob, let job = lookup.job(ns, owner.name), let top = controller(of: job.metadata), top.kind == "CronJob" {
                labels["__meta_kubernetes_pod_cronjob_name"] = top.name
            }
        default: break
        }
        return labels
    }

    static func podReady(_ pod: Pod) -> String {
        for c in pod.status?.conditions ?? [] where c.type == "Ready" { return c.status.lowercased() }
        return "unknown"
    }

    static func controller(of meta: ObjectMeta) -> OwnerReference? {
        meta.ownerReferences?.first { $0.controller == true }
    }

    // MARK: - endpoints

    public static func endpoints(_ endpoints: Endpoints, attach: AttachMetadata = .init(), lookup: KubernetesLookup = .init()) -> TargetGroup {
        let ns = endpoints.namespace ?? ""
        var group = TargetGroup(source: "endpoints/\(ns)/\(endpoints.name)")
        group.labels = [namespaceLabel: ns]
        if let service = lookup.service(ns, endpoints.name) { group.labels.merge(serviceLabels(service)) { _, new in new } }
        addObjectMeta(&group.labels, endpoints.metadata, role: "endpoints")
        if attach.namespace { addNamespaceLabels(&group.labels, ns, lookup) }

        var pods = SeenPods()
        func add(_ address: Endpoints.Address, _ port: Endpoints.Port, ready: String) {
            var target = [
                "__address__": joinHostPort(address.ip, String(port.port)),
                "__meta_kubernetes_endpoint_port_name": port.name ?? "",
                "__meta_kubernetes_endpoint_port_protocol": port.protocol ?? "",
                "__meta_kubernetes_endpoint_ready": ready,
            ]
            if let ref = address.targetRef {
                target["__meta_kubernetes_endpoint_address_target_kind"] = ref.kind ?? ""
                target["__meta_kubernetes_endpoint_address_target_name"] = ref.name ?? ""
            }
            if let nodeName = address.nodeName { target["__meta_kubernetes_endpoint_node_name"] = nodeName }
            if let hostname = address.hostname, !hostname.isEmpty { target["__meta_kubernetes_endpoint_hostname"] = hostname }
            if attach.node {
                if let nodeName = address.nodeName {
                    addNodeLabels(&target, nodeName, lookup)
                } else if let ref = address.targetRef, ref.kind == "Node" {
                    addNodeLabels(&target, ref.name ?? "", lookup)
                }
            }
            guard let pod = resolvePod(address.targetRef, lookup) else {
                group.targets.append(target)
                return
            }
            pods.note(pod, port: port.port)
            target.merge(podLabels(pod, attach: attach, lookup: lookup)) { _, new in new }
            for (container, isInit) in containers(of: pod) {
                for cport in container.ports ?? [] where cport.containerPort == port.port {
                    target["__meta_kubernetes_pod_container_name"] = container.name
                    target["__meta_kubernetes_pod_container_image"] = container.image ?? ""
                    target["__meta_kubernetes_pod_container_port_name"] = cport.name ?? ""
                    target["__meta_kubernetes_pod_container_port_number"] = String(port.port)
                    target["__meta_kubernetes_pod_container_port_protocol"] = port.protocol ?? ""
                    target["__meta_kubernetes_pod_container_init"] = isInit ? "true" : "false"
                    break
                }
            }
            group.targets.append(target)
        }
        for subset in endpoints.subsets ?? [] {
            for port in subset.ports ?? [] {
                for address in subset.addresses ?? [] { add(address, port, ready: "true") }
                for address in subset.notReadyAddresses ?? [] { add(address, port, ready: "false") }
            }
        }
        group.targets += pods.uncoveredTargets(attach: attach, lookup: lookup)
        return group
    }

    // MARK: - endpointslice

    public static func endpointSlice(_ slice: EndpointSlice, attach: AttachMetadata = .init(), lookup: KubernetesLookup = .init()) -> TargetGroup {
        let ns = slice.namespace ?? ""
        var group = TargetGroup(source: "endpointslice/\(ns)/\(slice.name)")
        group.labels = [namespaceLabel: ns, "__meta_kubernetes_endpointslice_address_type": slice.addressType]
        addObjectMeta(&group.labels, slice.metadata, role: "endpointslice")
        var service: Service?
        if let name = slice.metadata.labels?["kubernetes.io/service-name"], let s = lookup.service(ns, name) {
            service = s
            group.labels.merge(serviceLabels(s)) { _, new in new }
        }
        if attach.namespace { addNamespaceLabels(&group.labels, ns, lookup) }
        if let service, isNonPrimaryFamily(slice, of: service) { return group }

        var pods = SeenPods()
        func add(_ address: String, _ endpoint: EndpointSlice.Endpoint, _ port: EndpointSlice.Port) {
            var target = ["__address__": port.port.map { joinHostPort(address, String($0)) } ?? address]
            if let name = port.name { target["__meta_kubernetes_endpointslice_port_name"] = name }
            if let proto = port.protocol { target["__meta_kubernetes_endpointslice_port_protocol"] = proto }
            if let number = port.port { target["__meta_kubernetes_endpointslice_port"] = String(number) }
            if let app = port.appProtocol { target["__meta_kubernetes_endpointslice_port_app_protocol"] = app }
            if let ready = endpoint.conditions?.ready { target["__meta_kubernetes_endpointslice_endpoint_conditions_ready"] = String(ready) }
            if let serving = endpoint.conditions?.serving { target["__meta_kubernetes_endpointslice_endpoint_conditions_serving"] = String(serving) }
            if let terminating = endpoint.conditions?.terminating {
                target["__meta_kubernetes_endpointslice_endpoint_conditions_terminating"] = String(terminating)
            }
            if let hostname = endpoint.hostname { target["__meta_kubernetes_endpointslice_endpoint_hostname"] = hostname }
            if let ref = endpoint.targetRef {
                target["__meta_kubernetes_endpointslice_address_target_kind"] = ref.kind ?? ""
                target["__meta_kubernetes_endpointslice_address_target_name"] = ref.name ?? ""
            }
            if let nodeName = endpoint.nodeName { target["__meta_kubernetes_endpointslice_endpoint_node_name"] = nodeName }
            if let zone = endpoint.zone { target["__meta_kubernetes_endpointslice_endpoint_zone"] = zone }
            for (key, value) in endpoint.deprecatedTopology ?? [:] {
                let name = sanitize(key)
                target["__meta_kubernetes_endpointslice_endpoint_topology_" + name] = value
                target["__meta_kubernetes_endpointslice_endpoint_topology_present_" + name] = "true"
            }
            if attach.node {
                if let ref = endpoint.targetRef, ref.kind == "Node" {
                    addNodeLabels(&target, ref.name ?? "", lookup)
                } else if let nodeName = endpoint.nodeName {
                    addNodeLabels(&target, nodeName, lookup)
                }
            }
            guard let pod = resolvePod(endpoint.targetRef, lookup) else {
                group.targets.append(target)
                return
            }
            pods.note(pod, port: port.port)
            target.merge(podLabels(pod, attach: attach, lookup: lookup)) { _, new in new }
            if let number = port.port {
                for (container, isInit) in containers(of: pod) {
                    for cport in container.ports ?? [] where cport.containerPort == number {
                        target["__meta_kubernetes_pod_container_name"] = container.name
                        target["__meta_kubernetes_pod_container_image"] = container.image ?? ""
                        target["__meta_kubernetes_pod_container_port_name"] = cport.name ?? ""
                        target["__meta_kubernetes_pod_container_port_number"] = String(number)
                        target["__meta_kubernetes_pod_container_port_protocol"] = cport.protocol ?? ""
                        target["__meta_kubernetes_pod_container_init"] = isInit ? "true" : "false"
                        break
                    }
                }
            }
            group.targets.append(target)
        }
        for endpoint in slice.endpoints ?? [] {
            for port in slice.ports ?? [] {
                for address in endpoint.addresses { add(address, endpoint, port) }
            }
        }
        group.targets += pods.uncoveredTargets(attach: attach, lookup: lookup)
        return group
    }

    /// A slice of the secondary family of a dual-stack Service yields no targets.
    static func isNonPrimaryFamily(_ slice: EndpointSlice, of service: Service) -> Bool {
        guard let policy = service.spec?.ipFamilyPolicy, policy == "PreferDualStack" || policy == "RequireDualStack",
            let primary = service.spec?.ipFamilies?.first
        else { return false }
        return slice.addressType != primary
    }

    /// Pods referenced by endpoint addresses, in the order first seen, with the endpoint ports
    /// that reached them.
    struct SeenPods {
        var order: [String] = []
        var entries: [String: (pod: Pod, ports: [Int32?])] = [:]

        mutating func note(_ pod: Pod, port: Int32?) {
            let key = pod.key
            if entries[key] == nil {
                order.append(key)
                entries[key] = (pod, [])
            }
            entries[key]!.ports.append(port)
        }

        /// One target per container port no endpoint port covered (pods with a podIP only).
        func uncoveredTargets(attach: AttachMetadata, lookup: KubernetesLookup) -> [[String: String]] {
            var out: [[String: String]] = []
            for key in order {
                let (pod, ports) = entries[key]!
                guard let ip = pod.status?.podIP, !ip.isEmpty else { continue }
                let podLabels = KubernetesTargets.podLabels(pod, attach: attach, lookup: lookup)
                for (container, isInit) in KubernetesTargets.containers(of: pod) {
                    for cport in container.ports ?? [] where !ports.contains(where: { $0 == cport.containerPort }) {
                        let number = String(cport.containerPort)
                        var target = [
                            "__address__": joinHostPort(ip, number),
                            "__meta_kubernetes_pod_container_name": container.name,
                            "__meta_kubernetes_pod_container_image": container.image ?? "",
                            "__meta_kubernetes_pod_container_port_name": cport.name ?? "",
                            "__meta_kubernetes_pod_container_port_number": number,
                            "__meta_kubernetes_pod_container_port_protocol": cport.protocol ?? "",
                            "__meta_kubernetes_pod_container_init": isInit ? "true" : "false",
                        ]
                        target.merge(podLabels) { _, new in new }
                        out.append(target)
                    }
                }
            }
            return out
        }
    }

    static func resolvePod(_ ref: ObjectReference?, _ lookup: KubernetesLookup) -> Pod? {
        guard let ref, ref.kind == "Pod" else { return nil }
        return lookup.pod(ref.namespace ?? "", ref.name ?? "")
    }

    // MARK: - shared label helpers

    static func addObjectMeta(_ labels: inout [String: String], _ meta: ObjectMeta, role: String) {
        let names = MetaNames.of(role)
        labels[names.name] = meta.name ?? ""
        add(&labels, meta, names)
    }

    static func addLabelsAndAnnotations(_ labels: inout [String: String], _ meta: ObjectMeta, resource: String) {
        add(&labels, meta, MetaNames.of(resource))
    }

    private static func add(_ labels: inout [String: String], _ meta: ObjectMeta, _ names: MetaNames) {
        for (key, value) in meta.labels ?? [:] {
            let name = sanitize(key)
            labels[names.label + name] = value
            labels[names.labelPresent + name] = "true"
        }
        for (key, value) in meta.annotations ?? [:] {
            let name = sanitize(key)
            labels[names.annotation + name] = value
            labels[names.annotationPresent + name] = "true"
        }
    }

    /// The label name prefixes of one resource's metadata, made once per resource rather than
    /// concatenated afresh for every label of every object.
    struct MetaNames {
        let name: String
        let label: String
        let labelPresent: String
        let annotation: String
        let annotationPresent: String

        init(_ resource: String) {
            let base = "__meta_kubernetes_" + resource
            name = base + "_name"
            label = base + "_label_"
            labelPresent = base + "_labelpresent_"
            annotation = base + "_annotation_"
            annotationPresent = base + "_annotationpresent_"
        }

        static let pod = MetaNames("pod")
        static let node = MetaNames("node")
        static let service = MetaNames("service")
        static let namespace = MetaNames("namespace")
        static let endpoints = MetaNames("endpoints")
        static let endpointslice = MetaNames("endpointslice")
        static let ingress = MetaNames("ingress")

        static func of(_ resource: String) -> MetaNames {
            switch resource {
            case "pod": pod
            case "node": node
            case "service": service
            case "namespace": namespace
            case "endpoints": endpoints
            case "endpointslice": endpointslice
            case "ingress": ingress
            default: MetaNames(resource)
            }
        }
    }

    static func addNodeLabels(_ labels: inout [String: String], _ name: String, _ lookup: KubernetesLookup) {
        guard let node = lookup.node(name) else { return }
        addObjectMeta(&labels, node.metadata, role: "node")
    }

    static func addNamespaceLabels(_ labels: inout [String: String], _ name: String, _ lookup: KubernetesLookup) {
        guard let namespace = lookup.namespace(name) else { return }
        addLabelsAndAnnotations(&labels, namespace.metadata, resource: "namespace")
    }

    /// Replaces every Unicode scalar outside `[a-zA-Z0-9_]` with `_` (Prometheus's
    /// `strutil.SanitizeLabelName`, which works per rune).
    public static func sanitize(_ name: String) -> String {
        // Most names (`app`, `tier`) need nothing and the rest are mostly ASCII (`prometheus.io/port`):
        // both without decoding scalars.
        var ascii = true
        var clean = true
        for b in name.utf8 {
            if b >= 0x80 {
                ascii = false
                clean = false
                break
            }
            if !isWordByte(b) { clean = false }
        }
        if clean { return name }
        if ascii { return String(decoding: name.utf8.map { isWordByte($0) ? $0 : 0x5F }, as: UTF8.self) }
        var out = String.UnicodeScalarView()
        for s in name.unicodeScalars {
            out.append(s.isASCII && isWordByte(UInt8(s.value)) ? s : "_")
        }
        return String(out)
    }

    private static func isWordByte(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x5F: true
        default: false
        }
    }

    /// Go's `net.JoinHostPort`: brackets hosts that contain a colon (IPv6).
    static func joinHostPort(_ host: String, _ port: String) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
