public import JSON
public import Snapshot

/// Targets named in the scrape configs themselves (`static_configs`), the discovery every
/// setup has. Each target carries its group's labels plus `__address__`, as Prometheus's
/// static provider produces them; the job's `scrape_config` is served back unchanged.
public enum StaticConfigs {
    public struct Result: Sendable, Hashable {
        public var jobs: [Job]
        public var targets: [Target]
        /// Problems found, each with its path; the offending group is skipped, the rest kept.
        public var problems: [String]
    }

    public static func discover(scrapeConfigs: [JSONValue]) -> Result {
        var result = Result(jobs: [], targets: [], problems: [])
        var seenJobs = Set<String>()
        for (i, config) in scrapeConfigs.enumerated() {
            guard let name = config["job_name"]?.stringValue, !name.isEmpty else {
                result.problems.append("scrape_configs[\(i)].job_name: required")
                continue
            }
            guard seenJobs.insert(name).inserted else {
                result.problems.append("scrape_configs[\(i)].job_name: duplicate \"\(name)\"")
                continue
            }
            result.jobs.append(Job(name: name, scrapeConfig: config))
            guard case .array(let groups)? = config["static_configs"] else { continue }
            for (g, group) in groups.enumerated() {
                let path = "scrape_configs[\(i)].static_configs[\(g)]"
                var groupLabels: [(String, String)] = []
                if let labels = group["labels"] {
                    guard case .object(let members) = labels else {
                        result.problems.append("\(path).labels: must be a mapping")
                        continue
                    }
                    var valid = true
                    for member in members {
                        guard let value = member.value.stringValue else {
                            result.problems.append("\(path).labels.\(member.key): must be a string")
                            valid = false
                            continue
                        }
                        groupLabels.append((member.key, value))
                    }
                    if !valid { continue }
                }
                guard case .array(let addresses)? = group["targets"] else {
                    if group["targets"] != nil { result.problems.append("\(path).targets: must be a list") }
                    continue
                }
                for (t, address) in addresses.enumerated() {
                    guard let address = address.stringValue, !address.isEmpty else {
                        result.problems.append("\(path).targets[\(t)]: must be a non-empty string")
                        continue
                    }
                    result.targets.append(Target(job: name, labels: Labels(groupLabels + [("__address__", address)]), collector: nil))
                }
            }
        }
        return result
    }
}
