// Workload kinds read only for their metadata: Kubernetes SD follows a pod's controller
// chain (ReplicaSet → Deployment, Job → CronJob) through their ownerReferences.

/// apps/v1 ReplicaSet (metadata only).
public struct ReplicaSet: KubernetesObject, Hashable {
    public static let resource = ResourceType(group: "apps", version: "v1", plural: "replicasets", kind: "ReplicaSet", namespaced: true)
    public var metadata: ObjectMeta

    public init(metadata: ObjectMeta) { self.metadata = metadata }
}

/// batch/v1 Job (metadata only). Named `BatchJob` so it never shadows `Snapshot.Job`.
public struct BatchJob: KubernetesObject, Hashable {
    public static let resource = ResourceType(group: "batch", version: "v1", plural: "jobs", kind: "Job", namespaced: true)
    public var metadata: ObjectMeta

    public init(metadata: ObjectMeta) { self.metadata = metadata }
}
