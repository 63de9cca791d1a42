public import Foundation
public import JSON

/// One accepted write.
public struct AuditEntry: Sendable, CustomStringConvertible {
    public var identity: String
    /// create, update, patch, delete (as the registry saw it: a PUT that created is `create`).
    public var verb: String
    public var resource: String
    public var subresource: String?
    public var namespace: String?
    public var name: String
    public var resourceVersion: String
    /// When the store committed it (this machine's wall clock).
    public var time: Date
    /// For a Lease create or update: the `spec.holderIdentity` it stored ("" = released).
    public var leaseHolder: String?

    public init(
        identity: String, verb: String, resource: String, subresource: String? = nil, namespace: String? = nil, name: String,
        resourceVersion: String, time: Date, leaseHolder: String? = nil
    ) {
        self.identity = identity
        self.verb = verb
        self.resource = resource
        self.subresource = subresource
        self.namespace = namespace
        self.name = name
        self.resourceVersion = resourceVersion
        self.time = time
        self.leaseHolder = leaseHolder
    }

    public var description: String {
        "\(identity) \(verb) \(resource)\(subresource.map { "/\($0)" } ?? "") \(namespace.map { "\($0)/" } ?? "")\(name) rv=\(resourceVersion)"
    }

    // MARK: - wire form (the admin API's audit feed)

    /// Microseconds since the Unix epoch.
    public var unixMicros: Int64 { Int64((time.timeIntervalSince1970 * 1_000_000).rounded()) }

    public var json: JSONValue {
        var members = [
            JSONMember("identity", .string(identity)), JSONMember("verb", .string(verb)), JSONMember("resource", .string(resource)),
        ]
        if let subresource { members.append(JSONMember("subresource", .string(subresource))) }
        if let namespace { members.append(JSONMember("namespace", .string(namespace))) }
        members += [
            JSONMember("name", .string(name)), JSONMember("resourceVersion", .string(resourceVersion)),
            JSONMember("time", .string(KubeTimeFormat.micro(time))), JSONMember("unixMicros", .int(unixMicros)),
        ]
        if let leaseHolder { members.append(JSONMember("leaseHolder", .string(leaseHolder))) }
        return .object(members)
    }

    /// Reads the wire form back; nil if a required member is missing.
    public init?(json: JSONValue) {
        guard let identity = json["identity"]?.stringValue, let verb = json["verb"]?.stringValue,
            let resource = json["resource"]?.stringValue, let name = json["name"]?.stringValue,
            let resourceVersion = json["resourceVersion"]?.stringValue, let micros = json["unixMicros"]?.integerValue
        else { return nil }
        self.init(
            identity: identity, verb: verb, resource: resource, subresource: json["subresource"]?.stringValue,
            namespace: json["namespace"]?.stringValue, name: name, resourceVersion: resourceVersion,
            time: Date(timeIntervalSince1970: Double(micros) / 1_000_000), leaseHolder: json["leaseHolder"]?.stringValue)
    }
}

/// A run of Lease writes that all name the same holder: one term of leadership as the API
/// server recorded it (acquisition, then renewals, possibly written late or by others).
public struct LeaseTerm: Sendable {
    public var holder: String
    /// The Lease writes of the term, in commit order (the first one acquired it).
    public var writes: [AuditEntry]

    public init(holder: String, writes: [AuditEntry]) {
        self.holder = holder
        self.writes = writes
    }
}

/// A write by a replica when the audit log says it should not have written any more.
public struct WriteOutsideTerm: Sendable {
    public enum Reason: Sendable, Equatable {
        /// Its last Lease write (as holder) is more than the renew deadline older than this write.
        case afterRenewDeadline(overshoot: Duration)
        /// The Lease named another holder (or none) when this write was committed.
        case notHolder(holder: String?)
    }
    public var entry: AuditEntry
    public var reason: Reason
}

extension [AuditEntry] {
    /// Who took a Lease from `holder`: `holder`'s last Lease write and the first Lease write by
    /// another identity after it (the log is in commit order), if there is one.
    public func leaseTakeover(from holder: String) -> (last: AuditEntry, next: AuditEntry)? {
        let writes = filter { $0.resource.hasPrefix("leases") }
        guard let last = writes.lastIndex(where: { $0.identity == holder }),
            let next = writes[last...].first(where: { $0.identity != holder })
        else { return nil }
        return (writes[last], next)
    }

    /// The writes of one Lease that name a holder, grouped into terms: a new term starts when
    /// the holder differs from the previous term's (a release, holder "", ends a term without
    /// starting one).
    public func leaseTerms(namespace: String, name: String) -> [LeaseTerm] {
        var terms: [LeaseTerm] = []
        var released = true
        for entry in self where entry.resource.hasPrefix("leases.") && entry.namespace == namespace && entry.name == name {
            guard let holder = entry.leaseHolder, !holder.isEmpty else {
                released = true
                continue
            }
            if !released, let last = terms.last, last.holder == holder {
                terms[terms.count - 1].writes.append(entry)
            } else {
                terms.append(LeaseTerm(holder: holder, writes: [entry]))
            }
            released = false
        }
        return terms
    }

    /// Leadership changes: terms whose holder differs from the previous term's holder (the
    /// first acquisition is not a change; a holder that releases and re-acquires is not either).
    public func leadershipChanges(namespace: String, name: String) -> [(from: String, to: LeaseTerm)] {
        let terms = leaseTerms(namespace: namespace, name: name)
        return zip(terms, terms.dropFirst()).compactMap { previous, next in
            previous.holder == next.holder ? nil : (previous.holder, next)
        }
    }

    /// Gaps between consecutive Lease writes of a term made by its holder itself (renewals).
    public static func renewGaps(_ term: LeaseTerm) -> [Duration] {
        let own = term.writes.filter { $0.identity == term.holder }
        return zip(own, own.dropFirst()).map { .microseconds($1.unixMicros - $0.unixMicros) }
    }

    /// Writes matching `isGuarded` that a replica committed while the Lease did not name it as
    /// holder, or later than `renewDeadline` after its own last Lease write: by then a
    /// client-go elector must have stopped leading, since no renewal succeeded in time.
    public func writesOutsideTerm(
        leaseNamespace: String, leaseName: String, renewDeadline: Duration, isGuarded: (AuditEntry) -> Bool
    ) -> [WriteOutsideTerm] {
        var holder: String?
        var lastOwnRenew: [String: AuditEntry] = [:]
        var found: [WriteOutsideTerm] = []
        for entry in self {
            if entry.resource.hasPrefix("leases."), entry.namespace == leaseNamespace, entry.name == leaseName {
                holder = entry.verb == "delete" ? nil : entry.leaseHolder
                if let holder, holder == entry.identity { lastOwnRenew[holder] = entry }
                continue
            }
            guard isGuarded(entry) else { continue }
            guard holder == entry.identity, let renew = lastOwnRenew[entry.identity] else {
                found.append(WriteOutsideTerm(entry: entry, reason: .notHolder(holder: holder)))
                continue
            }
            let age = Duration.microseconds(entry.unixMicros - renew.unixMicros)
            if age > renewDeadline { found.append(WriteOutsideTerm(entry: entry, reason: .afterRenewDeadline(overshoot: age - renewDeadline))) }
        }
        return found
    }
}
