public import Foundation

/// Metadata every object carries. Unknown fields are ignored on decode; the server owns
/// uid, resourceVersion, generation and the timestamps.
public struct ObjectMeta: Codable, Sendable, Hashable {
    public var name: String?
    public var generateName: String?
    public var namespace: String?
    public var uid: String?
    public var resourceVersion: String?
    public var generation: Int64?
    public var creationTimestamp: KubeTime?
    public var deletionTimestamp: KubeTime?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var ownerReferences: [OwnerReference]?
    public var finalizers: [String]?

    public init(name: String? = nil, namespace: String? = nil, labels: [String: String]? = nil, annotations: [String: String]? = nil) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
    }
}

public struct OwnerReference: Codable, Sendable, Hashable {
    public var apiVersion: String?
    public var kind: String
    public var name: String
    public var uid: String?
    public var controller: Bool?
    public var blockOwnerDeletion: Bool?

    public init(apiVersion: String? = nil, kind: String, name: String, uid: String? = nil, controller: Bool? = nil) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.uid = uid
        self.controller = controller
    }
}

public struct ListMeta: Codable, Sendable, Hashable {
    public var resourceVersion: String?
    public var `continue`: String?
    public var remainingItemCount: Int64?
}

/// A list answer. `items: null` is accepted as empty.
public struct ObjectList<Item: Decodable & Sendable>: Decodable, Sendable {
    public var metadata: ListMeta
    public var items: [Item]

    enum CodingKeys: String, CodingKey { case metadata, items }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        metadata = try c.decodeIfPresent(ListMeta.self, forKey: .metadata) ?? ListMeta()
        items = try c.decodeIfPresent([Item].self, forKey: .items) ?? []
    }

    /// A list response body, read by the hand-written decoder when the kind has one.
    public static func decode(json body: Data) throws -> ObjectList<Item> {
        if let fast = body.withUnsafeBytes({ JSONReader.list(Item.self, $0) }) { return fast }
        do {
            return try JSONDecoder().decode(ObjectList<Item>.self, from: body)
        } catch {
            throw KubernetesError.decoding("\(ObjectList<Item>.self): \(error)")
        }
    }
}

/// `metav1.Time`: RFC 3339, seconds on output, fractions accepted on input.
public struct KubeTime: Codable, Sendable, Hashable, Comparable {
    public var date: Date

    public init(_ date: Date) { self.date = date }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let date = RFC3339.parse(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an RFC 3339 time: \(text)"))
        }
        self.date = date
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(RFC3339.format(date, fractionDigits: 0))
    }

    public static func < (a: KubeTime, b: KubeTime) -> Bool { a.date < b.date }
}

/// `metav1.MicroTime` as Lease fields use it: always UTC with exactly six fractional digits;
/// the real API server rejects any other spelling.
public struct MicroTime: Codable, Sendable, Hashable, Comparable {
    public var date: Date

    public init(_ date: Date) { self.date = date }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let date = RFC3339.parse(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a MicroTime: \(text)"))
        }
        self.date = date
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(RFC3339.format(date, fractionDigits: 6))
    }

    public var text: String { RFC3339.format(date, fractionDigits: 6) }

    public static func < (a: MicroTime, b: MicroTime) -> Bool { a.date < b.date }
}

/// RFC 3339 without DateFormatter (locale-free and fast).
public enum RFC3339 {
    public static func format(_ date: Date, fractionDigits: Int) -> String {
        let total = date.timeIntervalSince1970
        var seconds = Int64(total.rounded(.down))
        var micros = Int64(((total - Double(seconds)) * 1_000_000).rounded())
        if micros >= 1_000_000 {
            seconds += 1
            micros -= 1_000_000
        }
        let (y, mo, d) = civil(days: floorDiv(seconds, 86_400))
        let s = floorMod(seconds, 86_400)
        func pad(_ v: Int64, _ width: Int) -> String {
            let t = String(v)
            return String(repeating: "0", count: max(0, width - t.count)) + t
        }
        var out = "\(pad(y, 4))-\(pad(mo, 2))-\(pad(d, 2))T\(pad(s / 3600, 2)):\(pad(s / 60 % 60, 2)):\(pad(s % 60, 2))"
        if fractionDigits > 0 {
            out += "." + String(pad(micros, 6).prefix(fractionDigits))
        }
        return out + "Z"
    }

    public static func parse(_ text: String) -> Date? {
        let b = Array(text.utf8)
        func num(_ from: Int, _ count: Int) -> Int64? {
            guard from + count <= b.count else { return nil }
            var v: Int64 = 0
            for i in from..<(from + count) {
                guard b[i] >= 48, b[i] <= 57 else { return nil }
                v = v * 10 + Int64(b[i] - 48)
            }
            return v
        }
        guard b.count >= 20, let y = num(0, 4), b[4] == 45, let mo = num(5, 2), b[7] == 45, let d = num(8, 2),
            b[10] == 84 || b[10] == 116, let h = num(11, 2), b[13] == 58, let mi = num(14, 2), b[16] == 58, let s = num(17, 2),
            (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61
        else { return nil }
        var i = 19
        var fraction = 0.0
        if i < b.count, b[i] == 46 {
            i += 1
            var scale = 0.1
            let start = i
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                fraction += Double(b[i] - 48) * scale
                scale /= 10
                i += 1
            }
            if i == start { return nil }
        }
        var offset: Int64 = 0
        guard i < b.count else { return nil }
        if b[i] == 90 || b[i] == 122 {
            i += 1
        } else if b[i] == 43 || b[i] == 45, let oh = num(i + 1, 2), i + 3 < b.count, b[i + 3] == 58, let om = num(i + 4, 2) {
            offset = (oh * 3600 + om * 60) * (b[i] == 43 ? 1 : -1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let days = daysFromCivil(y, mo, d)
        return Date(timeIntervalSince1970: Double(days * 86_400 + h * 3600 + mi * 60 + s - offset) + fraction)
    }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { (a - floorMod(a, b)) / b }
    private static func floorMod(_ a: Int64, _ b: Int64) -> Int64 { ((a % b) + b) % b }

    /// Howard Hinnant's civil-from-days.
    private static func civil(days z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    private static func daysFromCivil(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
