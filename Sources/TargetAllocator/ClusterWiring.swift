public import Allocation
public import Discovery
public import KubernetesClient
import LeaderElection
import ServiceDiscoveryAPI
public import Logging
import Snapshot
import SnapshotStore

extension ClusterRole {
    /// The product's wiring from its config file: the Lease and snapshot ConfigMaps in
    /// `namespace`, collectors from the collector pods, targets from the scrape configs.
    /// - Parameter reload: follow this config file and restart discovery when it changes.
    public static func standard(
        config: AllocatorConfig, client: KubernetesClient, identity: String, namespace: String, logger: Logger,
        reload: ConfigReload? = nil
    ) throws -> ClusterRole {
        var election = LeaderElectionConfiguration(leaseName: config.leaderElection.leaseName, namespace: namespace, identity: identity)
        election.leaseDuration = config.leaderElection.leaseDuration
        election.renewDeadline = config.leaderElection.renewDeadline
        election.retryPeriod = config.leaderElection.retryPeriod
        try election.validate()
        let store = SnapshotStoreConfiguration(namespace: namespace, manifestName: config.snapshot.configMapName)
        let allocation = try config.allocatorConfiguration()
        let watcher = CollectorWatcher(
            namespace: config.collectorNamespace ?? namespace, labelSelector: config.collectorSelector?.queryString,
            gracePeriod: config.collectorNotReadyGracePeriod)
        let minWriteInterval = config.snapshot.minWriteInterval
        var role = ClusterRole(client: client, election: election, store: store) { writer, metrics, committed in
            LeaderPipeline(
                identity: identity, writer: writer, allocation: allocation, minWriteInterval: minWriteInterval,
                targets: { publish in
                    let discover: @Sendable (AllocatorConfig) async -> Void = { config in
                        await config.discovery(ownNamespace: namespace).run(client: client, logger: logger, metrics: metrics, publish: publish)
                    }
                    if let reload {
                        await reload.follow(initial: config, logger: logger, metrics: metrics, discover)
                    } else {
                        await discover(config)
                    }
                },
                collectors: { publish in await watcher.run(client: client, logger: logger, publish: publish) },
                committed: committed, metrics: metrics, logger: logger)
        }
        if case .perNode = allocation.strategy {
            role.allocation = AllocationDescription(strategy: allocation.strategy.name, slack: nil)
        } else {
            role.allocation = AllocationDescription(strategy: allocation.strategy.name, slack: allocation.epsilon)
        }
        return role
    }
}

extension AllocatorConfig {
    /// Discovery as the config describes it: its scrape configs, the prometheus-operator
    /// resources when `prometheus_cr.enabled`, and the relabel filter.
    public func discovery(ownNamespace: String) -> TargetDiscovery {
        var settings = TargetDiscovery.Settings(
            global: global, scrapeConfigs: scrapeConfigs, prometheusCR: prometheusCR, ownNamespace: collectorNamespace ?? ownNamespace)
        settings.relabelFilter = filterStrategy == "relabel-config"
        settings.initialWait = snapshot.initialDiscoveryWait
        return TargetDiscovery(settings: settings)
    }

    /// The allocation strategy the config names (validated when the config was parsed).
    public func allocatorConfiguration() throws -> AllocatorConfiguration {
        var fallback: FallbackStrategy?
        if let name = allocationFallbackStrategy {
            guard let parsed = FallbackStrategy(name: name) else {
                throw Problems(problems: ["allocation_fallback_strategy: must be consistent-hashing or least-weighted, not \"\(name)\""])
            }
            fallback = parsed
        }
        guard let strategy = AllocationStrategy(name: allocationStrategy) else {
            throw Problems(problems: ["allocation_strategy: unknown \"\(allocationStrategy)\""])
        }
        return AllocatorConfiguration(strategy: strategy, fallbackStrategy: fallback)
    }
}
