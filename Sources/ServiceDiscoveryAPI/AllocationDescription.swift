/// The allocation strategy the leader runs, as the pages explain it: why a target went where it
/// went, and the balance bound drawn on the `/` bar chart.
public struct AllocationDescription: Sendable {
    /// Upstream's name: `consistent-hashing`, `least-weighted` or `per-node`.
    public var strategy: String
    /// ε of the bound no collector exceeds, ⌈(1+ε)·assigned/collectors⌉ for collectors of equal
    /// weight (the `Allocation` module's capacity); nil when the strategy has none (`per-node`:
    /// a node's targets stay on its collectors however many there are).
    public var slack: Double?

    public init(strategy: String, slack: Double?) {
        self.strategy = strategy
        self.slack = slack
    }

    /// The most targets one collector may hold, or nil without a bound or collectors.
    func bound(assigned: Int, collectors: Int) -> Int? {
        guard let slack, collectors > 0, assigned > 0 else { return nil }
        let share = Double(assigned) / Double(collectors)
        // The allocator's own rounding: a hair below an integer does not round up.
        return max(0, Int(((1 + max(0, slack)) * share - 1e-9).rounded(.up)))
    }

    /// One sentence for the target view.
    var why: String {
        switch strategy {
        case "consistent-hashing":
            "consistent-hashing: collectors are ranked by a rendezvous hash of the target's scrape URL; it goes to the first one in that order still below the balance bound, so it stays put unless collectors come or go."
        case "least-weighted":
            "least-weighted: a new target goes to the collector holding the fewest targets; it stays there until rebalancing moves it."
        case "per-node":
            "per-node: a target goes to a collector on its own node; one without a node, or whose node has no collector, goes to the fallback strategy."
        default:
            "\(strategy) chose it."
        }
    }
}
