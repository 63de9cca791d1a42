public import Foundation

// Typed core/v1 objects: only the fields the allocator reads or writes. Unknown fields are
// ignored on decode, so newer servers never break us.

public struct Pod: KubernetesObject, Hashable {
    public static let resource = ResourceType(group: "", version: "v1", plural: "pods", kind: "Pod", namespaced: true)
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?

    public init(metadata: ObjectMeta, spec: Spec? = nil, status: Status? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public struct Spec: Codable, Sendable, Hashable {
        public var nodeName: String?
        public var containers: [Container]?
        public var initContainers: [Container]?
        public var hostNetwork: Bool?

        public init(nodeName: String? = nil, containers: [Container]? = nil, initContainers: [Container]? = nil) {
            self.nodeName = nodeName
            self.containers = containers
            self.initContainers = initContainers
        }
    }

    public struct Container: Codable, Sendable, Hashable {
        public var name: String
        public var image: String?
        public var ports: [ContainerPort]?

        public init(name: String, image: String? = nil, ports: [ContainerPort]? = nil) {
            self.name = name
            self.image = image
            self.ports = ports
        }
    }

    public struct ContainerPort: Codable, Sendable, Hashable {
        public var name: String?
        public var containerPort: Int32
        public var `protocol`: String?

        public init(name: String? = nil, containerPort: Int32, protocol: String? = nil) {
            self.name = name
            self.containerPort = containerPort
            self.protocol = `protocol`
        }
    }

    public struct Status: Codable, Sendable, Hashable {
        public var phase: String?
        public var podIP: String?
        public var hostIP: String?
        public var startTime: KubeTime?
        public var conditions: [Condition]?
        public var containerStatuses: [ContainerStatus]?
        public var initContainerStatuses: [ContainerStatus]?

        public init(phase: String? = nil, podIP: String? = nil, hostIP: String? = nil, conditions: [Condition]? = nil) {
            self.phase = phase
            self.podIP = podIP
            self.hostIP = hostIP
            self.conditions = conditions
        }
    }

    public struct ContainerStatus: Codable, Sendable, Hashable {
        public var name: String
        public var containerID: String?
    }
}

/// A status condition (pods, nodes).
public struct Condition: Codable, Sendable, Hashable {
    public var type: String
    public var status: String
    public var lastTransitionTime: KubeTime?

    public init(type: String, status: String, lastTransitionTime: KubeTime? = nil) {
        self.type = type
        self.status = status
        self.lastTransitionTime = lastTransitionTime
    }
}

public struct Service: KubernetesObject, Hashable {
    public static let resource = ResourceType(group: "", version: "v1", plural: "services", kind: "Service", namespaced: true)
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?

    public init(metadata: ObjectMeta, spec: Spec? = nil) {
        self.metadata = metadata
        self.spec = spec
    }

    public struct Spec: Codable, Sendable, Hashable {
        public var type: String?
        public var clusterIP: String?
        public var externalName: String?
        public var loadBalancerIP: String?
        public var ipFamilies: [String]?
        public var ipFamilyPolicy: String?
        public var selector: [String: String]?
        public var ports: [Port]?

        public init(type: String? = nil, clusterIP: String? = nil, selector: [String: String]? = nil, ports: [Port]? = nil) {
            self.type = type
            self.clusterIP = clusterIP
            self.selector = selector
            self.ports = ports
        }
    }

    public struct Port: Codable, Sendable, Hashable {
        public var name: String?
        public var port: Int32
        public var `protocol`: String?
        public var targetPort: IntOrString?

        public init(name: String? = nil, port: Int32, protocol: String? = nil) {
            self.name = name
            self.port = port
            self.protocol = `protocol`
        }
    }

    public struct Status: Codable, Sendable, Hashable {
        public var loadBalancer: LoadBalancer?
        public struct LoadBalancer: Codable, Sendable, Hashable {
            public var ingress: [Ingress]?
        }
        public struct Ingress: Codable, Sendable, Hashable {
            public var ip: String?
            public var hostname: String?
        }
    }
}

/// `intstr.IntOrString`: ports given by number or by name.
public enum IntOrString: Codable, Sendable, Hashable {
    case int(Int32)
    case string(String)

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let i = try? c.decode(Int32.self) { self = .int(i) } else { self = .string(try c.decode(String.self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .int(let i): try c.encode(i)
        case .string(let s): try c.encode(s)
        }
    }
}

public struct Endpoints: KubernetesObject, Hashable {
    public static let resource = ResourceType(group: "", version: "v1", plural: "endpoints", kind: "Endpoints", namespaced: true)
    public var metadata: ObjectMeta
    public var subsets: [Subset]?

    public init(metadata: ObjectMeta, subsets: [Subset]? = nil) {
        self.metadata = metadata
        self.subsets = subsets
    }

    public struct Subset: Codable, Sendable, Hashable {
        public var addresses: [Address]?
        public var notReadyAddresses: [Address]?
        public var ports: [Port]?
    }

    public struct Address: Codable, Sendable, Hashable {
        public var ip: String
        public var hostname: String?
        public var nodeName: String?
        public var targetRef: ObjectReference?
    }

    public struct Port: Codable, Sendable, Hashable {
        public var name: String?
        public var port: Int32
        public var `protocol`: String?
        public var appProtocol: String?
    }
}

public struct ObjectReference: Codable, Sendable, Hashable {
    public var kind: String?
    public var namespace: String?
    public var name: String?
    public var uid: String?
}

public struct ConfigMap: KubernetesObject, Hashable {
    public static let resource = ResourceType(group: "", version: "v1", plural: "configmaps", kind: "ConfigMap", namespaced: true)
    public var apiVersion: String? = "v1"
    public var kind: String? = "ConfigMap"
    public var metadata: ObjectMeta
    public var data: [String: String]?
    /// Base64 on the wire; decoded bytes here.
    public var binaryData: [String: Data]?
    public var immutable: Bool?

    public init(metadata: ObjectMeta, data: [String: String]? = nil, binaryData: [String: Data]? = nil) {
        self.metadata = metadata
        self.data = data
        self.binaryData = binaryData
    }
}

public struct Secret: KubernetesObject, Hashable {
    public static let resource = ResourceType(group: "", version: "v1", plural: "secrets", kind: "Secret", namespaced: true)
    public var apiVersion: String? = "v1"
    public var kind: String? = "Secret"
    public var metadata: ObjectMeta
    public var type: String?
    public var data: [String: Data]?
    public var stringData: [String: String]?

    public init(metadata: ObjectMeta, data: [String: Data]? = nil, type: String? = nil) {
        self.metadata = metadata
        self.data = data
        self.type = type
    }
}

public struct Node: KubernetesObject, Hashable {
    public static let resource = ResourceType(group: "", version: "v1", plural: "nodes", kind: "Node", namespaced: false)
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?

    public init(metadata: ObjectMeta, status: Status? = nil) {
        self.metadata = metadata
        self.status = status
    }

    public struct Spec: Codable, Sendable, Hashable {
        public var providerID: String?
    }

    public struct Status: Codable, Sendable, Hashable {
        public var addresses: [Address]?
        public var conditions: [Condition]?
        public var daemonEndpoints: DaemonEndpoints?

        public init(addresses: [Address]? = nil, conditions: [Condition]? = nil) {
            self.addresses = addresses
            self.conditions = conditions
        }
    }

    public struct Address: Codable, Sendable, Hashable {
        public var type: String
        public var address: String

        public init(type: String, address: String) {
            self.type = type
            self.address = address
        }
    }

    public struct DaemonEndpoints: Codable, Sendable, Hashable {
        public var kubeletEndpoint: KubeletEndpoint?
        public struct KubeletEndpoint: Codable, Sendable, Hashable {
            // The API serves this field capitalised.
            public var port: Int32?
            enum CodingKeys: String, CodingKey { case port = "Port" }
        }
    }
}

public struct Namespace: KubernetesObject, Hashable {
    public static let resource = ResourceType(group: "", version: "v1", plural: "namespaces", kind: "Namespace", namespaced: false)
    public var apiVersion: String? = "v1"
    public var kind: String? = "Namespace"
    public var metadata: ObjectMeta
    public var status: Status?

    public init(metadata: ObjectMeta) { self.metadata = metadata }

    public struct Status: Codable, Sendable, Hashable {
        public var phase: String?
    }
}
