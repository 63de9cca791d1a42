import Foundation

/// Kinds with a hand-written decoder for the hot paths (watch events and list pages). Decoding a
/// pod with Foundation's JSONDecoder and synthesized Codable costs ~30 µs, most of it dynamic
/// dispatch and generic metadata lookups; that alone kept an informer under 20,000 events/s.
///
/// The reader accepts a strict subset of what JSONDecoder accepts (integers without fraction or
/// exponent, keys without escapes, valid UTF-8, …). Anything else throws `JSONReader.Unsupported`
/// and the caller decodes the same bytes with JSONDecoder, so results and errors stay Codable's.
protocol FastDecodable {
    init(reading r: inout JSONReader) throws
}

/// A forward-only JSON reader over one buffer (no tree, no copies of keys).
struct JSONReader {
    struct Unsupported: Error {}

    /// An object key, compared in place against string literals (`case "name":`).
    struct Key {
        let bytes: UnsafeRawBufferPointer

        static func ~= (pattern: StaticString, key: Key) -> Bool {
            pattern.utf8CodeUnitCount == key.bytes.count
                && UnsafeRawBufferPointer(start: pattern.utf8Start, count: pattern.utf8CodeUnitCount).elementsEqual(key.bytes)
        }
    }

    private let bytes: UnsafeRawBufferPointer
    private var i = 0
    private var depth = 0
    /// Label and annotation keys read lately (longer than a small string): objects of one list
    /// repeat the same few keys (`pod-template-hash`, `prometheus.io/scrape`), and sharing one
    /// copy saves an informer ~200 B per pod (~20 MB at 100k pods).
    private var recentKeys: [String] = []
    private var nextRecent = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// Reads one document with `read`; nil if the reader does not take it exactly.
    static func read<V>(_ bytes: UnsafeRawBufferPointer, _ read: (inout JSONReader) throws -> V) -> V? {
        var reader = JSONReader(bytes)
        guard let value = try? read(&reader) else { return nil }
        reader.skipSpace()
        return reader.i == bytes.count ? value : nil
    }

    // MARK: - structure

    private mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0a || bytes[i] == 0x0d || bytes[i] == 0x09 { i += 1 }
    }

    /// Consumes `c` if it comes next (after whitespace).
    private mutating func take(_ c: UInt8) -> Bool {
        skipSpace()
        guard i < bytes.count, bytes[i] == c else { return false }
        i += 1
        return true
    }

    private mutating func expect(_ c: UInt8) throws {
        guard take(c) else { throw Unsupported() }
    }

    /// Calls `member` for each key of an object; it must read or skip the value.
    mutating func object(_ member: (inout JSONReader, Key) throws -> Void) throws {
        try expect(UInt8(ascii: "{"))
        depth += 1
        guard depth <= 512 else { throw Unsupported() }
        if !take(UInt8(ascii: "}")) {
            repeat {
                try expect(UInt8(ascii: "\""))
                let start = i
                while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
                    guard bytes[i] != UInt8(ascii: "\\"), bytes[i] >= 0x20 else { throw Unsupported() }
                    i += 1
                }
                guard i < bytes.count else { throw Unsupported() }
                let key = Key(bytes: UnsafeRawBufferPointer(rebasing: bytes[start..<i]))
                i += 1
                try expect(UInt8(ascii: ":"))
                try member(&self, key)
            } while take(UInt8(ascii: ","))
            try expect(UInt8(ascii: "}"))
        }
        depth -= 1
    }

    /// Calls `element` for each item of an array; it must read or skip the item.
    mutating func array(_ element: (inout JSONReader) throws -> Void) throws {
        try expect(UInt8(ascii: "["))
        depth += 1
        guard depth <= 512 else { throw Unsupported() }
        if !take(UInt8(ascii: "]")) {
            repeat { try element(&self) } while take(UInt8(ascii: ","))
            try expect(UInt8(ascii: "]"))
        }
        depth -= 1
    }

    /// Consumes a `null` if it comes next: an optional field that is absent.
    mutating func null() -> Bool {
        skipSpace()
        guard i + 4 <= bytes.count, bytes[i] == UInt8(ascii: "n"), bytes[i + 1] == UInt8(ascii: "u"),
            bytes[i + 2] == UInt8(ascii: "l"), bytes[i + 3] == UInt8(ascii: "l")
        else { return false }
        i += 4
        return true
    }

    /// Skips any value (an unknown field).
    mutating func skip() throws {
        skipSpace()
        guard i < bytes.count else { throw Unsupported() }
        switch bytes[i] {
        case UInt8(ascii: "{"): try object { r, _ in try r.skip() }
        case UInt8(ascii: "["): try array { try $0.skip() }
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "t"): _ = try bool()
        case UInt8(ascii: "f"): _ = try bool()
        case UInt8(ascii: "n"): guard null() else { throw Unsupported() }
        default: try skipNumber()
        }
    }

    private mutating func skipNumber() throws {
        func digits(_ r: inout JSONReader) -> Int {
            let start = r.i
            while r.i < r.bytes.count, r.bytes[r.i] >= 0x30, r.bytes[r.i] <= 0x39 { r.i += 1 }
            return r.i - start
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
        let start = i
        let n = digits(&self)
        guard n > 0, n == 1 || bytes[start] != 0x30 else { throw Unsupported() }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard digits(&self) > 0 else { throw Unsupported() }
        }
        if i < bytes.count, bytes[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard digits(&self) > 0 else { throw Unsupported() }
        }
    }

    // MARK: - scalars

    mutating func string() throws -> String {
        try expect(UInt8(ascii: "\""))
        let start = i
        while i < bytes.count, bytes[i] != UInt8(ascii: "\""), bytes[i] != UInt8(ascii: "\\") {
            guard bytes[i] >= 0x20 else { throw Unsupported() }
            i += 1
        }
        guard i < bytes.count else { throw Unsupported() }
        if bytes[i] == UInt8(ascii: "\"") {
            defer { i += 1 }
            guard let s = String(validating: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self) else { throw Unsupported() }
            return s
        }
        // Escapes: unescape into a copy; surrogate escapes are left to JSONDecoder.
        var out = Array(bytes[start..<i])
        while true {
            guard i < bytes.count else { throw Unsupported() }
            let c = bytes[i]
            i += 1
            if c == UInt8(ascii: "\"") { break }
            guard c >= 0x20 else { throw Unsupported() }
            guard c == UInt8(ascii: "\\") else {
                out.append(c)
                continue
            }
            guard i < bytes.count else { throw Unsupported() }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0c)
            case UInt8(ascii: "n"): out.append(0x0a)
            case UInt8(ascii: "r"): out.append(0x0d)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard i + 4 <= bytes.count else { throw Unsupported() }
                var v: UInt32 = 0
                for _ in 0..<4 {
                    guard let d = Character(UnicodeScalar(bytes[i])).hexDigitValue else { throw Unsupported() }
                    v = v << 4 | UInt32(d)
                    i += 1
                }
                guard let scalar = Unicode.Scalar(v) else { throw Unsupported() }
                out.append(contentsOf: String(Character(scalar)).utf8)
            default: throw Unsupported()
            }
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw Unsupported() }
        return s
    }

    /// An integer written without fraction or exponent.
    mutating func int64() throws -> Int64 {
        skipSpace()
        let negative = i < bytes.count && bytes[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        let start = i
        var value: Int64 = 0
        while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 {
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) = times.addingReportingOverflow(Int64(bytes[i] - 0x30))
            guard !o1, !o2 else { throw Unsupported() }
            value = next
            i += 1
        }
        guard i > start, i - start == 1 || bytes[start] != 0x30 else { throw Unsupported() }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") || bytes[i] | 0x20 == UInt8(ascii: "e") { throw Unsupported() }
        return negative ? -value : value
    }

    mutating func int32() throws -> Int32 {
        guard let v = Int32(exactly: try int64()) else { throw Unsupported() }
        return v
    }

    mutating func bool() throws -> Bool {
        skipSpace()
        if bytes[i...].starts(with: "true".utf8) {
            i += 4
            return true
        }
        if bytes[i...].starts(with: "false".utf8) {
            i += 5
            return false
        }
        throw Unsupported()
    }

    // MARK: - optionals and collections

    mutating func optionalString() throws -> String? { null() ? nil : try string() }
    mutating func optionalInt64() throws -> Int64? { null() ? nil : try int64() }
    mutating func optionalBool() throws -> Bool? { null() ? nil : try bool() }

    mutating func optionalTime() throws -> KubeTime? {
        if null() { return nil }
        guard let date = RFC3339.parse(try string()) else { throw Unsupported() }
        return KubeTime(date)
    }

    mutating func optionalArray<E>(_ element: (inout JSONReader) throws -> E) throws -> [E]? {
        if null() { return nil }
        var items: [E] = []
        try array { items.append(try element(&$0)) }
        return items
    }

    mutating func optionalStringMap() throws -> [String: String]? {
        if null() { return nil }
        var map: [String: String] = [:]
        try object { r, key in
            map[try r.mapKey(key)] = try r.string()
        }
        return map
    }

    /// A map key as a String, shared with an equal recent key (same bytes) when there is one.
    private mutating func mapKey(_ key: Key) throws -> String {
        // Up to 15 bytes a String holds its bytes inline: nothing to share.
        guard key.bytes.count > 15 else {
            guard let k = String(validating: key.bytes, as: UTF8.self) else { throw Unsupported() }
            return k
        }
        for known in recentKeys where known.utf8.count == key.bytes.count {
            var candidate = known
            let same = candidate.withUTF8 { memcmp($0.baseAddress!, key.bytes.baseAddress!, key.bytes.count) == 0 }
            if same { return known }
        }
        guard let k = String(validating: key.bytes, as: UTF8.self) else { throw Unsupported() }
        if recentKeys.count < 32 {
            recentKeys.append(k)
        } else {
            recentKeys[nextRecent] = k
            nextRecent = (nextRecent + 1) % recentKeys.count
        }
        return k
    }

    mutating func optional<V: FastDecodable>(_ type: V.Type) throws -> V? { null() ? nil : try V(reading: &self) }
}

// MARK: - watch events and lists

extension JSONReader {
    /// An ADDED, MODIFIED or DELETED line of a fast-decodable kind; nil for anything else.
    static func watchEvent<T: KubernetesObject>(_ type: T.Type, _ line: UnsafeRawBufferPointer) -> WatchEvent<T>? {
        guard let fast = T.self as? any FastDecodable.Type else { return nil }
        return read(line) { r in
            var kind: String?
            var object: T?
            try r.object { r, key in
                switch key {
                case "type": kind = try r.string()
                case "object": object = try fast.init(reading: &r) as? T
                default: try r.skip()
                }
            }
            guard let object else { throw Unsupported() }
            switch kind {
            case "ADDED": return .added(object)
            case "MODIFIED": return .modified(object)
            case "DELETED": return .deleted(object)
            default: throw Unsupported()
            }
        }
    }

    /// A list page of a fast-decodable kind; nil for anything else.
    static func list<T>(_ type: T.Type, _ body: UnsafeRawBufferPointer) -> ObjectList<T>? {
        guard let fast = T.self as? any FastDecodable.Type else { return nil }
        return read(body) { r in
            var metadata = ListMeta()
            var items: [T] = []
            try r.object { r, key in
                switch key {
                case "metadata":
                    if r.null() { return }
                    try r.object { r, key in
                        switch key {
                        case "resourceVersion": metadata.resourceVersion = try r.optionalString()
                        case "continue": metadata.continue = try r.optionalString()
                        case "remainingItemCount": metadata.remainingItemCount = try r.optionalInt64()
                        default: try r.skip()
                        }
                    }
                case "items":
                    if r.null() { return }
                    try r.array { r in
                        guard let item = try fast.init(reading: &r) as? T else { throw Unsupported() }
                        items.append(item)
                    }
                default: try r.skip()
                }
            }
            return ObjectList(metadata: metadata, items: items)
        }
    }
}

extension ObjectList {
    init(metadata: ListMeta, items: [Item]) {
        self.metadata = metadata
        self.items = items
    }
}

// MARK: - pods

extension ObjectMeta: FastDecodable {
    init(reading r: inout JSONReader) throws {
        self.init()
        var meta = self
        try r.object { r, key in
            switch key {
            case "name": meta.name = try r.optionalString()
            case "generateName": meta.generateName = try r.optionalString()
            case "namespace": meta.namespace = try r.optionalString()
            case "uid": meta.uid = try r.optionalString()
            case "resourceVersion": meta.resourceVersion = try r.optionalString()
            case "generation": meta.generation = try r.optionalInt64()
            case "creationTimestamp": meta.creationTimestamp = try r.optionalTime()
            case "deletionTimestamp": meta.deletionTimestamp = try r.optionalTime()
            case "labels": meta.labels = try r.optionalStringMap()
            case "annotations": meta.annotations = try r.optionalStringMap()
            case "ownerReferences": meta.ownerReferences = try r.optionalArray { try OwnerReference(reading: &$0) }
            case "finalizers": meta.finalizers = try r.optionalArray { try $0.string() }
            default: try r.skip()
            }
        }
        self = meta
    }
}

extension OwnerReference: FastDecodable {
    init(reading r: inout JSONReader) throws {
        var apiVersion: String?, kind: String?, name: String?, uid: String?, controller: Bool?, blockOwnerDeletion: Bool?
        try r.object { r, key in
            switch key {
            case "apiVersion": apiVersion = try r.optionalString()
            case "kind": kind = try r.string()
            case "name": name = try r.string()
            case "uid": uid = try r.optionalString()
            case "controller": controller = try r.optionalBool()
            case "blockOwnerDeletion": blockOwnerDeletion = try r.optionalBool()
            default: try r.skip()
            }
        }
        guard let kind, let name else { throw JSONReader.Unsupported() }
        self.init(apiVersion: apiVersion, kind: kind, name: name, uid: uid, controller: controller)
        self.blockOwnerDeletion = blockOwnerDeletion
    }
}

extension Pod: FastDecodable {
    init(reading r: inout JSONReader) throws {
        var metadata: ObjectMeta?, spec: Spec?, status: Status?
        try r.object { r, key in
            switch key {
            case "metadata": metadata = try ObjectMeta(reading: &r)
            case "spec": spec = try r.optional(Spec.self)
            case "status": status = try r.optional(Status.self)
            default: try r.skip()
            }
        }
        guard let metadata else { throw JSONReader.Unsupported() }
        self.init(metadata: metadata, spec: spec, status: status)
    }
}

extension Pod.Spec: FastDecodable {
    init(reading r: inout JSONReader) throws {
        self.init()
        var spec = self
        try r.object { r, key in
            switch key {
            case "nodeName": spec.nodeName = try r.optionalString()
            case "containers": spec.containers = try r.optionalArray { try Pod.Container(reading: &$0) }
            case "initContainers": spec.initContainers = try r.optionalArray { try Pod.Container(reading: &$0) }
            case "hostNetwork": spec.hostNetwork = try r.optionalBool()
            default: try r.skip()
            }
        }
        self = spec
    }
}

extension Pod.Container: FastDecodable {
    init(reading r: inout JSONReader) throws {
        var name: String?, image: String?, ports: [Pod.ContainerPort]?
        try r.object { r, key in
            switch key {
            case "name": name = try r.string()
            case "image": image = try r.optionalString()
            case "ports": ports = try r.optionalArray { try Pod.ContainerPort(reading: &$0) }
            default: try r.skip()
            }
        }
        guard let name else { throw JSONReader.Unsupported() }
        self.init(name: name, image: image, ports: ports)
    }
}

extension Pod.ContainerPort: FastDecodable {
    init(reading r: inout JSONReader) throws {
        var name: String?, containerPort: Int32?, proto: String?
        try r.object { r, key in
            switch key {
            case "name": name = try r.optionalString()
            case "containerPort": containerPort = try r.int32()
            case "protocol": proto = try r.optionalString()
            default: try r.skip()
            }
        }
        guard let containerPort else { throw JSONReader.Unsupported() }
        self.init(name: name, containerPort: containerPort, protocol: proto)
    }
}

extension Pod.Status: FastDecodable {
    init(reading r: inout JSONReader) throws {
        self.init()
        var status = self
        try r.object { r, key in
            switch key {
            case "phase": status.phase = try r.optionalString()
            case "podIP": status.podIP = try r.optionalString()
            case "hostIP": status.hostIP = try r.optionalString()
            case "startTime": status.startTime = try r.optionalTime()
            case "conditions": status.conditions = try r.optionalArray { try Condition(reading: &$0) }
            case "containerStatuses": status.containerStatuses = try r.optionalArray { try Pod.ContainerStatus(reading: &$0) }
            case "initContainerStatuses": status.initContainerStatuses = try r.optionalArray { try Pod.ContainerStatus(reading: &$0) }
            default: try r.skip()
            }
        }
        self = status
    }
}

extension Pod.ContainerStatus: FastDecodable {
    init(reading r: inout JSONReader) throws {
        var name: String?, containerID: String?
        try r.object { r, key in
            switch key {
            case "name": name = try r.string()
            case "containerID": containerID = try r.optionalString()
            default: try r.skip()
            }
        }
        guard let name else { throw JSONReader.Unsupported() }
        self.init(name: name, containerID: containerID)
    }
}

extension Condition: FastDecodable {
    init(reading r: inout JSONReader) throws {
        var type: String?, status: String?, lastTransitionTime: KubeTime?
        try r.object { r, key in
            switch key {
            case "type": type = try r.string()
            case "status": status = try r.string()
            case "lastTransitionTime": lastTransitionTime = try r.optionalTime()
            default: try r.skip()
            }
        }
        guard let type, let status else { throw JSONReader.Unsupported() }
        self.init(type: type, status: status, lastTransitionTime: lastTransitionTime)
    }
}
