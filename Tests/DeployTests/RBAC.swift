import JSON
import KubernetesEmulator

/// The RBAC authorizer's decision for resource requests, from Role, ClusterRole, RoleBinding
/// and ClusterRoleBinding objects: allowed when any binding of the subject grants a rule that
/// matches the request's group, resource (with subresource), verb and namespace. Rules with
/// `resourceNames` never match here: a request record carries no name, and list, watch and
/// create cannot be limited by name anyway.
struct RBACPolicy {
    let objects: [JSONValue]

    /// `system:serviceaccount:NS:NAME` as a binding subject.
    struct ServiceAccount: CustomStringConvertible {
        var namespace: String
        var name: String
        var description: String { "system:serviceaccount:\(namespace):\(name)" }
    }

    func allows(_ account: ServiceAccount, _ request: RequestRecord) -> Bool {
        for binding in objects where binding.kind == "ClusterRoleBinding" && binds(binding, account) {
            if let role = role(binding["roleRef"], bindingNamespace: nil), grants(role, request) { return true }
        }
        guard let namespace = request.namespace else { return false }
        for binding in objects where binding.kind == "RoleBinding" && binding.namespace == namespace && binds(binding, account) {
            if let role = role(binding["roleRef"], bindingNamespace: namespace), grants(role, request) { return true }
        }
        return false
    }

    private func binds(_ binding: JSONValue, _ account: ServiceAccount) -> Bool {
        (binding["subjects"]?.arrayValue ?? []).contains { s in
            switch s["kind"]?.stringValue {
            case "ServiceAccount":
                return s["name"]?.stringValue == account.name && (s["namespace"]?.stringValue ?? binding.namespace) == account.namespace
            case "User": return s["name"]?.stringValue == account.description
            case "Group":
                let group = s["name"]?.stringValue
                return group == "system:serviceaccounts" || group == "system:serviceaccounts:\(account.namespace)"
                    || group == "system:authenticated"
            default: return false
            }
        }
    }

    private func role(_ ref: JSONValue?, bindingNamespace: String?) -> JSONValue? {
        guard let ref, ref["apiGroup"]?.stringValue == "rbac.authorization.k8s.io", let name = ref["name"]?.stringValue else { return nil }
        switch ref["kind"]?.stringValue {
        case "ClusterRole": return objects.first { $0.kind == "ClusterRole" && $0.name == name }
        case "Role":
            guard let bindingNamespace else { return nil }
            return objects.first { $0.kind == "Role" && $0.name == name && $0.namespace == bindingNamespace }
        default: return nil
        }
    }

    private func grants(_ role: JSONValue, _ request: RequestRecord) -> Bool {
        let resource = request.resource + (request.subresource.map { "/\($0)" } ?? "")
        return (role["rules"]?.arrayValue ?? []).contains { rule in
            guard (rule["resourceNames"]?.strings ?? []).isEmpty else { return false }
            let groups = rule["apiGroups"]?.strings ?? []
            let resources = rule["resources"]?.strings ?? []
            let verbs = rule["verbs"]?.strings ?? []
            return (groups.contains(request.group) || groups.contains("*"))
                && (resources.contains(resource) || resources.contains("*")
                    || (request.subresource != nil && resources.contains("*/\(request.subresource!)")))
                && (verbs.contains(request.verb) || verbs.contains("*"))
        }
    }
}
