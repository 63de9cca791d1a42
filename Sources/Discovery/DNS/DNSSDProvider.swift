import ByteStrings
public import Logging

/// Prometheus's `dns_sd_configs`: every `refresh_interval` (first at start) each name is looked
/// up for the configured record type, and becomes one group whose source is the name. Each
/// record is one target: `__address__` (SRV: its target and port; MX and NS: the target and the
/// configured port; A and AAAA: the address and port) and the `__meta_dns_name`,
/// `__meta_dns_srv_record_target`, `__meta_dns_srv_record_port`, `__meta_dns_mx_record_target`
/// and `__meta_dns_ns_record_target` labels (empty when they do not apply, as in Prometheus).
/// A name whose lookup fails keeps its last group, as Prometheus's discovery manager does.
public struct DNSSDProvider: Sendable {
    public let config: DNSSDConfig
    let logger: Logger
    let resolver: DNSResolver
    /// Lookups and failed lookups so far (Prometheus's `prometheus_sd_dns_lookups_total` and
    /// `prometheus_sd_dns_lookup_failures_total`).
    public let lookups = FileSDProvider.Counter()
    public let failures = FileSDProvider.Counter()

    /// - Parameter servers: `host:port` of the DNS servers to ask; nil reads `/etc/resolv.conf`.
    public init(config: DNSSDConfig, logger: Logger, servers: [String]? = nil) {
        self.config = config
        self.logger = logger
        self.resolver = DNSResolver(servers: servers)
    }

    /// Publishes the groups after the first refresh and after every refresh that changes them;
    /// returns when the task is cancelled.
    public func run(publish: @escaping @Sendable ([TargetGroup]) -> Void) async {
        var names: [String] = []
        for name in config.names where !names.contains(where: { $0.bytesEqual(name) }) { names.append(name) }
        // By position in `names` (names are bytes, not Unicode-equivalent keys).
        var groups = [TargetGroup?](repeating: nil, count: names.count)
        var published: [TargetGroup]?
        let clock = ContinuousClock()
        while !Task.isCancelled {
            let started = clock.now
            let results = await withTaskGroup(of: (Int, Result<[DNSRecord], any Error>).self) { tasks in
                for (i, name) in names.enumerated() {
                    tasks.addTask {
                        do { return (i, .success(try await resolver.lookup(name, type: config.type))) } catch { return (i, .failure(error)) }
                    }
                }
                var out = [Result<[DNSRecord], any Error>?](repeating: nil, count: names.count)
                for await (i, result) in tasks { out[i] = result }
                return out
            }
            if Task.isCancelled { break }
            for (i, name) in names.enumerated() {
                lookups.increment()
                switch results[i] {
                case .success(let records)?:
                    groups[i] = Self.group(name: name, records: records, port: config.port)
                case .failure(let error)?:
                    failures.increment()
                    logger.error("Error refreshing DNS targets", metadata: ["name": .string(name), "err": .string("\(error)")])
                case nil: break
                }
            }
            let current = groups.compactMap { $0 }
            if current != published {
                published = current
                publish(current)
            }
            do { try await clock.sleep(until: started + config.refreshInterval) } catch { break }
        }
    }

    /// The group Prometheus's `refreshOne` builds from one answer.
    static func group(name: String, records: [DNSRecord], port: Int) -> TargetGroup {
        var group = TargetGroup(source: name)
        for record in records {
            var labels = [
                "__meta_dns_name": name, "__meta_dns_srv_record_target": "", "__meta_dns_srv_record_port": "",
                "__meta_dns_mx_record_target": "", "__meta_dns_ns_record_target": "",
            ]
            switch record {
            case .address(let address):
                labels["__address__"] = KubernetesTargets.joinHostPort(address, String(port))
            case .srv(let target, let srvPort):
                labels["__meta_dns_srv_record_target"] = target
                labels["__meta_dns_srv_record_port"] = String(srvPort)
                labels["__address__"] = KubernetesTargets.joinHostPort(withoutFinalDots(target), String(srvPort))
            case .mx(let target):
                labels["__meta_dns_mx_record_target"] = target
                labels["__address__"] = KubernetesTargets.joinHostPort(withoutFinalDots(target), String(port))
            case .ns(let target):
                labels["__meta_dns_ns_record_target"] = target
                labels["__address__"] = KubernetesTargets.joinHostPort(withoutFinalDots(target), String(port))
            }
            group.targets.append(labels)
        }
        return group
    }

    static func withoutFinalDots(_ name: String) -> String {
        var s = Substring(name)
        while s.hasSuffix(".") { s = s.dropLast() }
        return String(s)
    }
}
