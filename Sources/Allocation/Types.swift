import ByteStrings

/// The stable identity of a target: xxHash64 (seed 0) of a canonical encoding of its job name
/// and its labels without the `__meta_*` ones.
///
/// Encoding: the job name's UTF-8 bytes, `0xFF`, then for every label sorted by name (then by
/// value) its name, `0xFF`, its value, `0xFF`. `0xFF` never occurs in UTF-8, so two different
/// (job, labels) pairs never share an encoding. The value is the same in every process and
/// version (it does not use Swift's per-process `Hasher`).
public struct TargetID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static func < (lhs: TargetID, rhs: TargetID) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String {
        let hex = String(rawValue, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    public static func of(job: String, labels: some Sequence<(name: String, value: String)>) -> TargetID {
        var kept: [(name: String, value: String)] = []
        for label in labels where !label.name.hasPrefix("__meta_") { kept.append(label) }
        kept.sort { $0.name != $1.name ? $0.name < $1.name : $0.value < $1.value }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(job.utf8.count + 1 + kept.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 2 })
        bytes.append(contentsOf: job.utf8)
        bytes.append(0xFF)
        for label in kept {
            bytes.append(contentsOf: label.name.utf8)
            bytes.append(0xFF)
            bytes.append(contentsOf: label.value.utf8)
            bytes.append(0xFF)
        }
        return TargetID(rawValue: XXH64.hash(bytes))
    }
}

/// Stable 64-bit hashes for allocation keys (for example a target's `__address__`, which is what
/// upstream's consistent hashing keys on, so that several jobs scraping one address co-locate).
public enum AllocationKey {
    /// xxHash64 (seed 0) of the string's UTF-8 bytes.
    public static func of(_ string: String) -> UInt64 { XXH64.hash(string) }

    /// xxHash64 (seed 0) of `bytes`: for identities and keys built from several fields.
    public static func of(bytes: [UInt8]) -> UInt64 { XXH64.hash(bytes) }
}

/// One target as the allocator sees it.
public struct AllocationTarget: Sendable, Hashable {
    public var id: TargetID
    /// The key the consistent hash places by. Defaults to `id.rawValue`; targets with equal keys
    /// prefer the same collectors.
    public var key: UInt64
    /// The node of the target (used by `per-node`).
    public var node: String?
    /// How much the target counts towards a collector's load. 0 is treated as 1.
    public var weight: UInt32

    public init(id: TargetID, key: UInt64? = nil, node: String? = nil, weight: UInt32 = 1) {
        self.id = id
        self.key = key ?? id.rawValue
        self.node = node
        self.weight = weight
    }
}

/// One collector.
public struct CollectorInfo: Sendable, Hashable {
    public var name: String
    public var node: String?
    /// Relative capacity; `nil` means 1. A weight of 0 drains the collector (it gets no targets
    /// unless every collector has weight 0, in which case all count as 1). Negative or
    /// non-finite weights count as 1.
    public var weight: Double?

    public init(name: String, node: String? = nil, weight: Double? = nil) {
        self.name = name
        self.node = node
        self.weight = weight
    }

    var effectiveWeight: Double {
        guard let weight, weight.isFinite, weight >= 0 else { return 1 }
        return weight
    }

    /// Names compare as bytes: "é" and "e\u{301}" are two collectors (or nodes).
    public static func == (a: CollectorInfo, b: CollectorInfo) -> Bool {
        a.name.bytesEqual(b.name) && a.weight == b.weight
            && (a.node == nil ? b.node == nil : b.node.map { a.node!.bytesEqual($0) } ?? false)
    }

    public func hash(into hasher: inout Hasher) {
        name.hashBytes(into: &hasher)
        hasher.combine(node != nil)
        node?.hashBytes(into: &hasher)
        hasher.combine(weight)
    }
}

/// The strategy used for `per-node` targets that have no node, or whose node runs no collector.
public enum FallbackStrategy: String, Sendable, Hashable, CaseIterable {
    case consistentHashing = "consistent-hashing"
    case leastWeighted = "least-weighted"

    /// Parses upstream's `allocation_fallback_strategy` value; the empty string means the default.
    public init?(name: String) {
        if name.isEmpty {
            self = .consistentHashing
        } else if let value = FallbackStrategy(rawValue: name) {
            self = value
        } else {
            return nil
        }
    }
}

public enum AllocationStrategy: Sendable, Hashable, CustomStringConvertible {
    case consistentHashing
    case leastWeighted
    case perNode(fallback: FallbackStrategy)

    public static let perNode = AllocationStrategy.perNode(fallback: .consistentHashing)

    /// Parses upstream's `allocation_strategy` names: `consistent-hashing`, `least-weighted`,
    /// `per-node`. The empty string means the default, `consistent-hashing`.
    public init?(name: String, fallback: FallbackStrategy = .consistentHashing) {
        switch name {
        case "", "consistent-hashing": self = .consistentHashing
        case "least-weighted": self = .leastWeighted
        case "per-node": self = .perNode(fallback: fallback)
        default: return nil
        }
    }

    /// The upstream name.
    public var name: String {
        switch self {
        case .consistentHashing: "consistent-hashing"
        case .leastWeighted: "least-weighted"
        case .perNode: "per-node"
        }
    }

    public var description: String { name }

    public static let names = ["consistent-hashing", "least-weighted", "per-node"]
}

public struct AllocatorConfiguration: Sendable, Hashable {
    public var strategy: AllocationStrategy
    /// Load slack: no collector holds more than ⌈(1+ε)·its share of the total weight⌉.
    /// Negative or non-finite values count as 0.
    public var epsilon: Double

    public init(strategy: AllocationStrategy = .consistentHashing, epsilon: Double = 0.05) {
        self.strategy = strategy
        self.epsilon = epsilon
    }

    /// Convenience for upstream's two config keys.
    public init(strategy: AllocationStrategy, epsilon: Double = 0.05, fallbackStrategy: FallbackStrategy?) {
        if case .perNode(let fallback) = strategy {
            self.strategy = .perNode(fallback: fallbackStrategy ?? fallback)
        } else {
            self.strategy = strategy
        }
        self.epsilon = epsilon
    }

    /// The fallback strategy (`per-node` only).
    public var fallbackStrategy: FallbackStrategy? {
        if case .perNode(let fallback) = strategy { return fallback }
        return nil
    }

    var effectiveEpsilon: Double { epsilon.isFinite && epsilon > 0 ? epsilon : 0 }
}

/// A change of owner. `from == nil`: a new target (or one that had no collector); `to == nil`:
/// a removed target (or one left without a collector).
public struct Move: Sendable, Hashable, CustomStringConvertible {
    public var target: TargetID
    public var from: String?
    public var to: String?

    public init(target: TargetID, from: String?, to: String?) {
        self.target = target
        self.from = from
        self.to = to
    }

    /// Both ends are collectors: the target changes scraper.
    public var isReassignment: Bool { from != nil && to != nil }

    public var description: String { "\(target): \(from ?? "-") → \(to ?? "-")" }
}
