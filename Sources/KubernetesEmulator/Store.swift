import Foundation
import JSON
import NIOConcurrencyHelpers
import NIOCore

/// One stored object version: the JSON value plus its serialized bytes (shared by every
/// response and watch event that carries it).
struct StoredObject: Sendable {
    var value: JSONValue
    var bytes: [UInt8]
    /// `bytes[itemOffset...]`, preceded by `{`, is the object without kind/apiVersion (list items).
    var itemOffset: Int
    var rv: Int64
    var key: String
    var labels: [String: String]

    init(_ value: JSONValue, rv: Int64, key: String) {
        self.value = value
        self.rv = rv
        self.key = key
        labels = value.at("metadata", "labels")?.stringMap ?? [:]
        var out: [UInt8] = [UInt8(ascii: "{")]
        var offset = 1
        for (i, m) in (value.members ?? []).enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONWriter.string(m.key, into: &out)
            out.append(UInt8(ascii: ":"))
            m.value.write(into: &out)
            if i == 1 { offset = out.count + 1 }
        }
        out.append(UInt8(ascii: "}"))
        bytes = out
        itemOffset = offset
    }

    var namespace: String { value.at("metadata", "namespace")?.stringValue ?? "" }
    var name: String { value.at("metadata", "name")?.stringValue ?? "" }
    var uid: String { value.at("metadata", "uid")?.stringValue ?? "" }

    func writeItem(into out: inout [UInt8], custom: Bool) {
        if custom || itemOffset >= bytes.count {
            out.append(contentsOf: bytes)
        } else {
            out.append(UInt8(ascii: "{"))
            out.append(contentsOf: bytes[itemOffset...])
        }
    }
}

enum EventType: String, Sendable {
    case added = "ADDED", modified = "MODIFIED", deleted = "DELETED"
}

struct HistoryEvent: Sendable {
    var rv: Int64
    var resource: String
    var type: EventType
    var object: StoredObject
    var old: StoredObject?
}

enum WatchMessage: Sendable {
    case data([UInt8])
    /// End the response normally (timeout, or after an ERROR event).
    case end
    /// Drop the connection (faults).
    case cut
}

typealias WatchSink = @Sendable (WatchMessage) -> Void

struct Watcher: Sendable {
    var resource: ResourceDefinition
    var namespace: String?
    var labels: LabelSelector
    var fields: FieldSelector
    var identity: String
    var bookmarks: Bool
    var sink: WatchSink

    func matches(_ o: StoredObject) -> Bool {
        if let namespace, o.namespace != namespace { return false }
        if !labels.isEmpty, !labels.matches(o.labels) { return false }
        if !fields.isEmpty, !fields.matches(o.value, resource: resource) { return false }
        return true
    }
}

/// The emulator's state: every object, the global revision, the event history, watchers and
/// the audit log, all behind one lock. Operations are short and never block.
final class Store: @unchecked Sendable {
    // @unchecked: every mutable field is only touched with `lock` held.
    private let lock = NIOLock()
    private var revision: Int64 = 0
    private var tables: [String: [String: StoredObject]] = [:]
    /// Each table's keys in order, for paged lists.
    private var indexes: [String: SortedKeys] = [:]
    private var history: [HistoryEvent] = []
    private var historyHead = 0
    private var compactedRevision: Int64 = 0
    private let historyLimit: Int
    private var watchers: [Int: Watcher] = [:]
    private var nextWatcherID = 0
    private var audit: [AuditEntry] = []
    let namespaceFinalizeDelay: TimeAmount
    var schedule: @Sendable (TimeAmount, @escaping @Sendable () -> Void) -> Void = { _, work in work() }

    init(historyLimit: Int, namespaceFinalizeDelay: TimeAmount) {
        self.historyLimit = max(historyLimit, 1)
        self.namespaceFinalizeDelay = namespaceFinalizeDelay
    }

    private func withLockTyped<R>(_ body: () throws(APIError) -> R) throws(APIError) -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    var currentRevision: Int64 { lock.withLock { revision } }

    // MARK: - keys and canonical form

    static func key(_ r: ResourceDefinition, namespace: String?, name: String) -> String {
        r.namespaced ? "\(namespace ?? "")/\(name)" : name
    }

    private static let metadataOrder = [
        "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
        "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers", "managedFields",
    ]

    /// kind, apiVersion, metadata first (metadata members in Go struct order), then the rest as sent.
    static func canonical(_ value: JSONValue, _ r: ResourceDefinition) -> JSONValue {
        let members = value.members ?? []
        var meta = (value["metadata"]?.members ?? []).filter { !$0.value.isNull }
        meta.sort { a, b in
            let ia = metadataOrder.firstIndex(of: a.key) ?? metadataOrder.count
            let ib = metadataOrder.firstIndex(of: b.key) ?? metadataOrder.count
            return ia < ib
        }
        var out: [JSONMember] = [
            JSONMember("kind", .string(r.kind)), JSONMember("apiVersion", .string(r.apiVersion)), JSONMember("metadata", .object(meta)),
        ]
        for m in members where m.key != "kind" && m.key != "apiVersion" && m.key != "metadata" { out.append(m) }
        return .object(out)
    }

    // MARK: - reads

    func get(_ r: ResourceDefinition, namespace: String?, name: String) throws(APIError) -> StoredObject {
        let found = lock.withLock { tables[r.id]?[Self.key(r, namespace: namespace, name: name)] }
        guard let found else { throw APIError.notFound(r, name) }
        return found
    }

    func allObjects(_ r: ResourceDefinition) -> [JSONValue] {
        lock.withLock { (tables[r.id] ?? [:]).values.sorted { $0.key < $1.key }.map(\.value) }
    }

    struct ListResult {
        var items: [StoredObject]
        var resourceVersion: Int64
        var continueToken: String?
        var remaining: Int?
    }

    func list(
        _ r: ResourceDefinition, namespace: String?, labels: LabelSelector, fields: FieldSelector, limit: Int?, continueToken: String?
    ) throws(APIError) -> ListResult {
        var startAfter: String?
        var listRV: Int64?
        if let continueToken, !continueToken.isEmpty {
            guard let decoded = Self.decodeContinue(continueToken) else {
                throw APIError.badRequest("continue key is not valid: invalid continue token")
            }
            startAfter = decoded.key
            listRV = decoded.rv
        }
        return try withLockTyped { () throws(APIError) -> ListResult in
            if let listRV, listRV < compactedRevision {
                throw APIError.expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list."
                )
            }
            let table = tables[r.id] ?? [:]
            let index = indexes[r.id] ?? SortedKeys()
            let watcher = Watcher(
                resource: r, namespace: r.namespaced ? namespace : nil, labels: labels, fields: fields, identity: "", bookmarks: false,
                sink: { _ in })
            // The keys to walk: after the continue key, within the namespace ("ns/" up to "ns0").
            var position = index.startPosition
            var end = index.endPosition
            if r.namespaced, let namespace {
                position = index.position(of: namespace + "/")
                end = index.position(of: namespace + "0")
            }
            if let startAfter { position = max(position, index.position(of: startAfter, after: true)) }
            let rv = listRV ?? revision
            let selective = !labels.isEmpty || !fields.isEmpty
            var items: [StoredObject] = []
            let wanted = limit.flatMap { $0 > 0 ? $0 : nil } ?? Int.max
            while position < end, items.count < wanted {
                if let o = table[index.key(at: position)], !selective || watcher.matches(o) { items.append(o) }
                position = index.next(position)
            }
            guard position < end, items.count == wanted else {
                return ListResult(items: items, resourceVersion: rv, continueToken: nil, remaining: nil)
            }
            // A continue token only when another item matches (as with the real server's limit + 1 read).
            if selective {
                var more = false
                while position < end, !more {
                    if let o = table[index.key(at: position)], watcher.matches(o) { more = true }
                    position = index.next(position)
                }
                guard more else { return ListResult(items: items, resourceVersion: rv, continueToken: nil, remaining: nil) }
            }
            let token = Self.encodeContinue(rv: rv, key: items[items.count - 1].key)
            let remaining = selective ? nil : index.distance(from: position, to: end)
            return ListResult(items: items, resourceVersion: rv, continueToken: token, remaining: remaining)
        }
    }

    static func encodeContinue(rv: Int64, key: String) -> String {
        let json = JSONValue.object([JSONMember("v", .string("meta.k8s.io/v1")), JSONMember("rv", .int(rv)), JSONMember("start", .string(key))])
        return Data(json.bytes).base64EncodedString()
    }

    static func decodeContinue(_ token: String) -> (rv: Int64, key: String)? {
        guard let data = Data(base64Encoded: token), let json = try? JSONValue.parse(Array(data)),
            let rv = json["rv"]?.integerValue, let key = json["start"]?.stringValue
        else { return nil }
        return (rv, key)
    }

    // MARK: - writes

    /// Records one change: bumps the revision, stores, appends history, notifies watchers, audits.
    /// Must be called with the lock held.
    @discardableResult
    private func commitLocked(
        _ r: ResourceDefinition, key: String, new: JSONValue?, old: StoredObject?, identity: String, verb: String, subresource: String? = nil
    ) -> StoredObject {
        revision += 1
        let type: EventType
        let stored: StoredObject
        if var new {
            new.set(path: ["metadata", "resourceVersion"], .string(String(revision)))
            stored = StoredObject(Self.canonical(new, r), rv: revision, key: key)
            if tables[r.id, default: [:]].updateValue(stored, forKey: key) == nil { indexes[r.id, default: SortedKeys()].insert(key) }
            type = old == nil ? .added : .modified
        } else {
            var last = old!.value
            last.set(path: ["metadata", "resourceVersion"], .string(String(revision)))
            stored = StoredObject(last, rv: revision, key: key)
            if tables[r.id]?.removeValue(forKey: key) != nil { indexes[r.id]?.remove(key) }
            type = .deleted
        }
        let event = HistoryEvent(rv: revision, resource: r.id, type: type, object: stored, old: old)
        history.append(event)
        if history.count - historyHead > historyLimit {
            compactedRevision = history[historyHead].rv
            historyHead += 1
            if historyHead > 4096, historyHead * 2 > history.count {
                history.removeFirst(historyHead)
                historyHead = 0
            }
        }
        for w in watchers.values where w.resource.id == r.id {
            if let line = Self.line(for: event, watcher: w) { w.sink(.data(line)) }
        }
        audit.append(
            AuditEntry(
                identity: identity, verb: verb, resource: r.qualifiedResource, subresource: subresource,
                namespace: r.namespaced ? stored.namespace : nil, name: stored.name, resourceVersion: String(revision), time: Date(),
                leaseHolder: r.kind == "Lease" && new != nil ? stored.value.at("spec", "holderIdentity")?.stringValue ?? "" : nil))
        return stored
    }

    static func eventLine(_ type: String, _ object: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(object.count + 32)
        out.append("{\"type\":\"\(type)\",\"object\":")
        out.append(contentsOf: object)
        out.append("}\n")
        return out
    }

    /// The event a watcher sees for a change, with selector transitions (cacher semantics).
    static func line(for event: HistoryEvent, watcher: Watcher) -> [UInt8]? {
        switch event.type {
        case .added:
            return watcher.matches(event.object) ? eventLine("ADDED", event.object.bytes) : nil
        case .deleted:
            return watcher.matches(event.object) ? eventLine("DELETED", event.object.bytes) : nil
        case .modified:
            let now = watcher.matches(event.object)
            let before = event.old.map { watcher.matches($0) } ?? false
            switch (before, now) {
            case (true, true): return eventLine("MODIFIED", event.object.bytes)
            case (false, true): return eventLine("ADDED", event.object.bytes)
            case (true, false):
                var last = event.old!.value
                last.set(path: ["metadata", "resourceVersion"], .string(String(event.rv)))
                return eventLine("DELETED", StoredObject(last, rv: event.rv, key: event.object.key).bytes)
            case (false, false): return nil
            }
        }
    }

    static func bookmarkLine(_ r: ResourceDefinition, rv: Int64, initialEventsEnd: Bool) -> [UInt8] {
        var meta: [JSONMember] = [JSONMember("resourceVersion", .string(String(rv)))]
        if initialEventsEnd {
            meta.append(JSONMember("annotations", .object([JSONMember("k8s.io/initial-events-end", .string("true"))])))
        }
        let object = JSONValue.object([
            JSONMember("kind", .string(r.kind)), JSONMember("apiVersion", .string(r.apiVersion)), JSONMember("metadata", .object(meta)),
        ])
        return eventLine("BOOKMARK", object.bytes)
    }

    // MARK: - registry operations

    private func now() -> String { KubeTimeFormat.seconds(Date()) }

    private static let nameAlphabet = Array("bcdfghjklmnpqrstvwxz2456789")

    private func namespaceCheck(_ r: ResourceDefinition, _ namespace: String, name: String) throws(APIError) {
        guard r.namespaced else { return }
        guard let ns = tables[ResourceDefinition.namespaces.id]?[namespace] else {
            throw APIError.notFound(ResourceDefinition.namespaces, namespace)
        }
        if ns.value.at("metadata", "deletionTimestamp") != nil || ns.value.at("status", "phase")?.stringValue == "Terminating" {
            var e = APIError.forbidden(
                r, name, "unable to create new content in namespace \(namespace) because it is being terminated")
            e.details?.causes = [APIError.Cause(reason: "NamespaceTerminating", message: "namespace \(namespace) is being terminated", field: "metadata.namespace")]
            throw e
        }
    }

    /// Checks body kind/apiVersion and namespace against the request; fills them in.
    private func prepareBody(_ body: JSONValue, _ r: ResourceDefinition, namespace: String?) throws(APIError) -> JSONValue {
        if let problem = Validation.decodeProblem(body, resource: r) {
            throw APIError.badRequest("\(r.kind) in version \"\(r.version)\" cannot be handled as a \(r.kind): \(problem)")
        }
        if let kind = body["kind"]?.stringValue, !kind.isEmpty, kind != r.kind {
            throw APIError.badRequest("\(kind) in version \"\(r.version)\" cannot be handled as a \(r.kind): the object kind does not match")
        }
        if let apiVersion = body["apiVersion"]?.stringValue, !apiVersion.isEmpty, apiVersion != r.apiVersion {
            throw APIError.badRequest(
                "the API version in the data (\(apiVersion)) does not match the expected API version (\(r.apiVersion))")
        }
        var object = body
        if r.namespaced {
            let bodyNamespace = body.at("metadata", "namespace")?.stringValue ?? ""
            if !bodyNamespace.isEmpty, let namespace, bodyNamespace != namespace {
                throw APIError.badRequest("the namespace of the provided object does not match the namespace sent on the request")
            }
            object.set(path: ["metadata", "namespace"], .string(namespace ?? bodyNamespace))
        } else {
            object.set(path: ["metadata", "namespace"], nil)
        }
        return object
    }

    /// Kind-specific normalisation and validation shared by create and update.
    private func validate(_ object: inout JSONValue, _ r: ResourceDefinition, old: JSONValue?) throws(APIError) {
        var errors = Validation.metadataErrors(object, resource: r)
        switch r.kind {
        case "Lease":
            try Validation.normalizeLease(&object)
            errors += Validation.leaseErrors(object)
        case "ConfigMap":
            errors += try Validation.configMapErrors(object)
            if let old { errors += Validation.immutableErrors(old: old, new: object) }
        case "Secret":
            errors += try Validation.normalizeSecret(&object)
            if let old { errors += Validation.immutableErrors(old: old, new: object) }
        case "EndpointSlice":
            if object["addressType"]?.stringValue == nil { errors.append(.required("addressType")) }
        default:
            break
        }
        if !errors.isEmpty { throw APIError.invalid(r, object.at("metadata", "name")?.stringValue ?? "", errors) }
    }

    func create(_ r: ResourceDefinition, namespace: String?, body: JSONValue, identity: String, dryRun: Bool = false) throws(APIError) -> StoredObject {
        try withLockTyped { () throws(APIError) -> StoredObject in
            try createLocked(r, namespace: namespace, body: body, identity: identity, dryRun: dryRun, verb: "create")
        }
    }

    private func createLocked(
        _ r: ResourceDefinition, namespace: String?, body: JSONValue, identity: String, dryRun: Bool, verb: String,
        ignoreResourceVersion: Bool = false
    ) throws(APIError) -> StoredObject {
        var object = try prepareBody(body, r, namespace: namespace)
        let rv = object.at("metadata", "resourceVersion")?.stringValue ?? ""
        if !rv.isEmpty {
            if !ignoreResourceVersion { throw APIError.internalError("resourceVersion should not be set on objects to be created") }
            object.set(path: ["metadata", "resourceVersion"], nil)
        }
        var name = object.at("metadata", "name")?.stringValue ?? ""
        if name.isEmpty, let generate = object.at("metadata", "generateName")?.stringValue, !generate.isEmpty {
            for _ in 0..<8 {
                name = generate + String((0..<5).map { _ in Self.nameAlphabet.randomElement()! })
                if tables[r.id]?[Self.key(r, namespace: object.at("metadata", "namespace")?.stringValue, name: name)] == nil { break }
            }
            object.set(path: ["metadata", "name"], .string(name))
        }
        let ns = object.at("metadata", "namespace")?.stringValue
        // Server-owned fields.
        for field in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "selfLink"] {
            object.set(path: ["metadata", field], nil)
        }
        if r.tracksGeneration { object.set(path: ["metadata", "generation"], .int(1)) }
        switch r.kind {
        case "Pod":
            object.set("status", .object([JSONMember("phase", .string("Pending")), JSONMember("qosClass", .string("BestEffort"))]))
        case "Service":
            object.set("status", .object([JSONMember("loadBalancer", .object([]))]))
        case "Namespace":
            object.set("spec", .object([JSONMember("finalizers", .array([.string("kubernetes")]))]))
            object.set("status", .object([JSONMember("phase", .string("Active"))]))
            var labels = object.at("metadata", "labels")?.members ?? []
            if !labels.contains(where: { $0.key == "kubernetes.io/metadata.name" }) {
                labels.append(JSONMember("kubernetes.io/metadata.name", .string(name)))
                object.set(path: ["metadata", "labels"], .object(labels))
            }
        default:
            if r.custom && r.hasStatus { object.set("status", nil) }
        }
        try validate(&object, r, old: nil)
        try namespaceCheck(r, ns ?? "", name: name)
        let key = Self.key(r, namespace: ns, name: name)
        if tables[r.id]?[key] != nil { throw APIError.alreadyExists(r, name) }
        object.set(path: ["metadata", "uid"], .string(UUID().uuidString.lowercased()))
        object.set(path: ["metadata", "creationTimestamp"], .string(now()))
        if dryRun {
            var preview = object
            preview.set(path: ["metadata", "resourceVersion"], .string(String(revision)))
            return StoredObject(Self.canonical(preview, r), rv: revision, key: key)
        }
        return commitLocked(r, key: key, new: object, old: nil, identity: identity, verb: verb)
    }

    /// PUT (and the second half of PATCH). Returns the stored object and whether it was created.
    func update(
        _ r: ResourceDefinition, namespace: String?, name: String, body: JSONValue, subresource: String?, identity: String,
        verb: String = "update", dryRun: Bool = false
    ) throws(APIError) -> (StoredObject, created: Bool) {
        try withLockTyped { () throws(APIError) -> (StoredObject, created: Bool) in
            try updateLocked(r, namespace: namespace, name: name, body: body, subresource: subresource, identity: identity, verb: verb, dryRun: dryRun)
        }
    }

    private func updateLocked(
        _ r: ResourceDefinition, namespace: String?, name: String, body: JSONValue, subresource: String?, identity: String, verb: String,
        dryRun: Bool
    ) throws(APIError) -> (StoredObject, created: Bool) {
        var object = try prepareBody(body, r, namespace: namespace)
        let bodyName = object.at("metadata", "name")?.stringValue ?? ""
        if bodyName.isEmpty {
            object.set(path: ["metadata", "name"], .string(name))
        } else if bodyName != name {
            throw APIError.badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(name))")
        }
        let key = Self.key(r, namespace: namespace, name: name)
        guard let existing = tables[r.id]?[key] else {
            if subresource == nil, r.allowCreateOnUpdate {
                return (try createLocked(r, namespace: namespace, body: object, identity: identity, dryRun: dryRun, verb: "create", ignoreResourceVersion: true), true)
            }
            throw APIError.notFound(r, name)
        }
        let rv = object.at("metadata", "resourceVersion")?.stringValue ?? ""
        if rv.isEmpty {
            if !r.allowUnconditionalUpdate {
                throw APIError.invalid(r, name, [.invalid("metadata.resourceVersion", .number("0x0"), "must be specified for an update")])
            }
        } else if rv != String(existing.rv) {
            throw APIError.conflict(r, name)
        }
        let old = existing.value
        if subresource == "status" {
            // Only status changes through /status.
            var merged = old
            merged.set("status", object["status"])
            object = merged
        } else if r.hasStatus {
            object.set("status", old["status"])
        }
        // Server-owned metadata survives every update.
        for field in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"] {
            object.set(path: ["metadata", field], old.at("metadata", field))
        }
        if r.kind == "Namespace" { object.set("spec", old["spec"]) }
        if r.tracksGeneration, subresource == nil {
            let changed = (object.members ?? []).contains { m in
                m.key != "metadata" && m.key != "status" && m.key != "kind" && m.key != "apiVersion" && old[m.key] != m.value
            } || (old.members ?? []).contains { m in m.key != "metadata" && m.key != "status" && m.key != "kind" && m.key != "apiVersion" && object[m.key] == nil }
            if changed {
                object.set(path: ["metadata", "generation"], .int((old.at("metadata", "generation")?.integerValue ?? 0) + 1))
            }
        }
        try validate(&object, r, old: old)
        object.set(path: ["metadata", "resourceVersion"], .string(String(existing.rv)))
        let candidate = Self.canonical(object, r)
        if candidate == old { return (existing, false) }  // no-op: no new revision, no event
        if dryRun { return (StoredObject(candidate, rv: existing.rv, key: key), false) }
        // A finalizer removed from an object that is being deleted completes the deletion.
        if old.at("metadata", "deletionTimestamp") != nil, (candidate.at("metadata", "finalizers")?.arrayValue ?? []).isEmpty {
            let stored = commitLocked(r, key: key, new: candidate, old: existing, identity: identity, verb: verb, subresource: subresource)
            commitLocked(r, key: key, new: nil, old: stored, identity: identity, verb: "delete")
            return (stored, false)
        }
        return (commitLocked(r, key: key, new: candidate, old: existing, identity: identity, verb: verb, subresource: subresource), false)
    }

    enum PatchKind: Sendable { case merge, strategic, json }

    func patch(
        _ r: ResourceDefinition, namespace: String?, name: String, kind: PatchKind, patch: JSONValue, subresource: String?, identity: String,
        dryRun: Bool = false
    ) throws(APIError) -> StoredObject {
        try withLockTyped { () throws(APIError) -> StoredObject in
            guard let existing = tables[r.id]?[Self.key(r, namespace: namespace, name: name)] else { throw APIError.notFound(r, name) }
            let patched: JSONValue
            switch kind {
            case .merge: patched = Patch.merge(existing.value, patch)
            case .strategic: patched = try Patch.strategic(existing.value, patch)
            case .json: patched = try Patch.json(existing.value, patch)
            }
            return try updateLocked(
                r, namespace: namespace, name: name, body: patched, subresource: subresource, identity: identity, verb: "patch", dryRun: dryRun
            ).0
        }
    }

    struct Preconditions: Sendable {
        var uid: String?
        var resourceVersion: String?
    }

    func delete(
        _ r: ResourceDefinition, namespace: String?, name: String, preconditions: Preconditions, identity: String, dryRun: Bool = false
    ) throws(APIError) -> StoredObject {
        let (result, finalize) = try withLockTyped { () throws(APIError) -> (StoredObject, String?) in
            let key = Self.key(r, namespace: namespace, name: name)
            guard let existing = tables[r.id]?[key] else { throw APIError.notFound(r, name) }
            if let uid = preconditions.uid, uid != existing.uid {
                throw APIError.conflict(r, name, "Precondition failed: UID in precondition: \(uid), UID in object meta: \(existing.uid)")
            }
            if let rv = preconditions.resourceVersion, rv != String(existing.rv) {
                throw APIError.conflict(
                    r, name, "Precondition failed: ResourceVersion in precondition: \(rv), ResourceVersion in object meta: \(existing.rv)")
            }
            if dryRun { return (existing, nil) }
            if r.kind == "Namespace" {
                if ["default", "kube-system", "kube-public"].contains(name) {
                    throw APIError.forbidden(r, name, "this namespace may not be deleted")
                }
                if existing.value.at("metadata", "deletionTimestamp") != nil { return (existing, nil) }
                var terminating = existing.value
                terminating.set(path: ["metadata", "deletionTimestamp"], .string(now()))
                terminating.set(path: ["status", "phase"], .string("Terminating"))
                return (commitLocked(r, key: key, new: terminating, old: existing, identity: identity, verb: "delete"), name)
            }
            if !(existing.value.at("metadata", "finalizers")?.arrayValue ?? []).isEmpty {
                if existing.value.at("metadata", "deletionTimestamp") != nil { return (existing, nil) }
                var marked = existing.value
                marked.set(path: ["metadata", "deletionTimestamp"], .string(now()))
                marked.set(path: ["metadata", "deletionGracePeriodSeconds"], .int(0))
                return (commitLocked(r, key: key, new: marked, old: existing, identity: identity, verb: "delete"), nil)
            }
            return (commitLocked(r, key: key, new: nil, old: existing, identity: identity, verb: "delete"), nil)
        }
        if let finalize {
            schedule(namespaceFinalizeDelay) { [self] in finalizeNamespace(finalize, identity: identity) }
        }
        return result
    }

    /// The namespace controller's work: delete everything in the namespace, then the namespace.
    func finalizeNamespace(_ namespace: String, identity: String) {
        lock.withLock {
            for r in ResourceDefinition.all where r.namespaced {
                let doomed = (tables[r.id] ?? [:]).values.filter { $0.namespace == namespace }.sorted { $0.key < $1.key }
                for o in doomed { commitLocked(r, key: o.key, new: nil, old: o, identity: "system:serviceaccount:kube-system:namespace-controller", verb: "delete") }
            }
            let r = ResourceDefinition.namespaces
            if let ns = tables[r.id]?[namespace] {
                commitLocked(r, key: namespace, new: nil, old: ns, identity: "system:serviceaccount:kube-system:namespace-controller", verb: "delete")
            }
        }
    }

    /// Stores objects as given (status included), bypassing validation: fast test fixtures.
    func seed(_ r: ResourceDefinition, _ objects: [JSONValue], identity: String) -> [StoredObject] {
        lock.withLock {
            objects.map { o in
                var object = o
                if !r.namespaced { object.set(path: ["metadata", "namespace"], nil) }
                let ns = object.at("metadata", "namespace")?.stringValue
                let name = object.at("metadata", "name")?.stringValue ?? ""
                let key = Self.key(r, namespace: ns, name: name)
                let existing = tables[r.id]?[key]
                if object.at("metadata", "uid") == nil {
                    object.set(path: ["metadata", "uid"], existing?.value.at("metadata", "uid") ?? .string(UUID().uuidString.lowercased()))
                }
                if object.at("metadata", "creationTimestamp") == nil { object.set(path: ["metadata", "creationTimestamp"], .string(now())) }
                return commitLocked(r, key: key, new: object, old: existing, identity: identity, verb: existing == nil ? "create" : "update")
            }
        }
    }

    // MARK: - watches

    struct WatchRequest: Sendable {
        var resource: ResourceDefinition
        var namespace: String?
        var labels: LabelSelector
        var fields: FieldSelector
        var resourceVersion: String?
        var sendInitialEvents: Bool?
        var bookmarks: Bool
        var identity: String
    }

    /// Registers a watcher and delivers its initial events atomically (no gap, no duplicate).
    /// Returns nil when the watch already ended (410 ERROR event sent).
    func watch(_ request: WatchRequest, sink: @escaping WatchSink) throws(APIError) -> Int? {
        var from: Int64?
        if let rv = request.resourceVersion, !rv.isEmpty, rv != "0" {
            guard let n = Int64(rv), n >= 0 else {
                throw APIError.badRequest("resourceVersion: Invalid value: \"\(rv)\": must be a valid resource version")
            }
            from = n
        }
        let watcher = Watcher(
            resource: request.resource, namespace: request.resource.namespaced ? request.namespace : nil, labels: request.labels,
            fields: request.fields, identity: request.identity, bookmarks: request.bookmarks, sink: sink)
        return lock.withLock { () -> Int? in
            let initial = request.sendInitialEvents ?? (from == nil)
            if initial {
                let table = tables[request.resource.id] ?? [:]
                for o in table.values.filter({ watcher.matches($0) }).sorted(by: { $0.key < $1.key }) {
                    sink(.data(Self.eventLine("ADDED", o.bytes)))
                }
                if request.sendInitialEvents == true {
                    sink(.data(Self.bookmarkLine(request.resource, rv: revision, initialEventsEnd: true)))
                }
            } else if let from {
                if from < compactedRevision {
                    let status = APIError.expired("too old resource version: \(from) (\(compactedRevision))").status
                    sink(.data(Self.eventLine("ERROR", status.bytes)))
                    sink(.end)
                    return nil
                }
                var i = history.count
                var lo = historyHead
                var hi = history.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if history[mid].rv > from { hi = mid } else { lo = mid + 1 }
                }
                i = lo
                while i < history.count {
                    let e = history[i]
                    if e.resource == request.resource.id, let line = Self.line(for: e, watcher: watcher) { sink(.data(line)) }
                    i += 1
                }
            }
            nextWatcherID += 1
            watchers[nextWatcherID] = watcher
            return nextWatcherID
        }
    }

    func bookmark(_ id: Int) {
        lock.withLock {
            guard let w = watchers[id], w.bookmarks else { return }
            w.sink(.data(Self.bookmarkLine(w.resource, rv: revision, initialEventsEnd: false)))
        }
    }

    /// Ends a watch normally (server-side timeout), with a last bookmark if allowed.
    func endWatch(_ id: Int) {
        lock.withLock {
            guard let w = watchers.removeValue(forKey: id) else { return }
            if w.bookmarks { w.sink(.data(Self.bookmarkLine(w.resource, rv: revision, initialEventsEnd: false))) }
            w.sink(.end)
        }
    }

    func removeWatcher(_ id: Int) {
        _ = lock.withLock { watchers.removeValue(forKey: id) }
    }

    /// Drops the connections of every watch (of one identity, or all).
    func cutWatches(identity: String?) -> Int {
        lock.withLock {
            let doomed = watchers.filter { identity == nil || $0.value.identity == identity }
            for (id, w) in doomed {
                watchers[id] = nil
                w.sink(.cut)
            }
            return doomed.count
        }
    }

    var watcherCount: Int { lock.withLock { watchers.count } }

    /// Forgets all history: every watch or continue token from an older revision gets 410.
    func compact() {
        lock.withLock {
            compactedRevision = revision
            history.removeAll()
            historyHead = 0
        }
    }

    var auditLog: [AuditEntry] { lock.withLock { audit } }

    /// The audit entries from index `since` on, and how many there are in all.
    func auditLog(since: Int) -> (entries: [AuditEntry], total: Int) {
        lock.withLock { (since < audit.count ? Array(audit[max(0, since)...]) : [], audit.count) }
    }
}
