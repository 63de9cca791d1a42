import ByteStrings
public import KubernetesClient

extension KubernetesTargets {
    /// The `ingress` role, as Prometheus's `discovery/kubernetes/ingress.go`: one group per
    /// Ingress (source `ingress/<namespace>/<name>`) with the namespace, the class name when set
    /// and the object's labels and annotations; one target per rule and path, `__address__` the
    /// rule's host, the scheme `https` when a TLS entry's host (or `*.` wildcard of the same
    /// depth) covers it. A rule without `http` counts as path `/`, an empty path is `/`, and a
    /// rule whose `http` lists no paths gives no target.
    public static func ingress(_ ingress: Ingress, attach: AttachMetadata = .init(), lookup: KubernetesLookup = .init()) -> TargetGroup {
        let ns = ingress.namespace ?? ""
        var group = TargetGroup(source: "ingress/\(ns)/\(ingress.name)")
        group.labels[namespaceLabel] = ns
        if let className = ingress.spec?.ingressClassName { group.labels[prefix + "ingress_class_name"] = className }
        addObjectMeta(&group.labels, ingress.metadata, role: "ingress")
        if attach.namespace { addNamespaceLabels(&group.labels, ns, lookup) }

        let tlsHosts = (ingress.spec?.tls ?? []).flatMap { $0.hosts ?? [] }
        for rule in ingress.spec?.rules ?? [] {
            let host = rule.host ?? ""
            let scheme = tlsHosts.contains { hostMatches(pattern: $0, host: host) } ? "https" : "http"
            let paths = rule.http.map { ($0.paths ?? []).map { p in (p.path ?? "").isEmpty ? "/" : p.path! } } ?? ["/"]
            for path in paths {
                group.targets.append([
                    "__address__": host,
                    prefix + "ingress_scheme": scheme,
                    prefix + "ingress_host": host,
                    prefix + "ingress_path": path,
                ])
            }
        }
        return group
    }

    /// `matchesHostnamePattern`: equal, or a `*` first label standing for exactly one label.
    /// Compared as bytes.
    static func hostMatches(pattern: String, host: String) -> Bool {
        if pattern.bytesEqual(host) { return true }
        let patternLabels = pattern.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        let hostLabels = host.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard let first = patternLabels.first, first.elementsEqual("*".utf8), patternLabels.count == hostLabels.count else { return false }
        return zip(patternLabels, hostLabels).dropFirst().allSatisfy { $0.elementsEqual($1) }
    }
}
