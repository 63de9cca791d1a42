import Foundation

/// The small ConfigMap that names the committed state's chunks. It is the only object written
/// with a compare-and-swap on resourceVersion: a generation exists once its manifest does.
///
/// The state is a base snapshot and the deltas after it, in order (each one's chunks written
/// once and kept while the manifest names them): a write costs what changed, and a replica that
/// already holds one of the named generations applies only the deltas after it.
public struct Manifest: Codable, Sendable, Hashable {
    /// v2: a base and deltas. v1 (a single snapshot) is read as a base without deltas.
    public static let format = "deflate+protobuf/v2"
    static let formatV1 = "deflate+protobuf/v1"

    public var format: String
    /// The last generation's (the base's when there are no deltas).
    public var epoch: UInt64
    public var generation: UInt64
    public var leader: String
    public var base: Part
    public var deltas: [Part]

    /// One stored generation: its epoch and number, and its compressed bytes in chunks.
    public struct Part: Codable, Sendable, Hashable {
        public var epoch: UInt64
        public var generation: UInt64
        /// Size and CRC-32 of the whole compressed part (the chunks concatenated).
        public var size: Int
        public var crc32: UInt32
        /// Size of the decoded protobuf (bounds decompression).
        public var uncompressedSize: Int
        public var chunks: [Chunk]

        var storedBytes: Int { size }
    }

    public struct Chunk: Codable, Sendable, Hashable {
        public var name: String
        public var size: Int
        public var crc32: UInt32
    }

    init(leader: String, base: Part, deltas: [Part]) {
        format = Self.format
        let last = deltas.last ?? base
        epoch = last.epoch
        generation = last.generation
        self.leader = leader
        self.base = base
        self.deltas = deltas
    }

    /// Every part, base first.
    var parts: [Part] { [base] + deltas }

    /// What the state takes in the ConfigMaps, compressed.
    public var size: Int { parts.reduce(0) { $0 + $1.size } }

    /// Every chunk the manifest names.
    var chunkNames: Set<String> { Set(parts.flatMap { $0.chunks.map(\.name) }) }

    /// Chunk ConfigMaps are named from the manifest, the epoch and generation, so a new
    /// generation never overwrites the chunks a reader may be fetching.
    public static func chunkName(base: String, epoch: UInt64, generation: UInt64, index: Int) -> String {
        "\(base)-e\(epoch)-g\(generation)-\(index)"
    }

    // MARK: - coding (v1 manifests are a base without deltas)

    enum CodingKeys: String, CodingKey {
        case format, epoch, generation, leader, base, deltas
        case size, crc32, uncompressedSize, chunks
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.decode(String.self, forKey: .format)
        epoch = try c.decode(UInt64.self, forKey: .epoch)
        generation = try c.decode(UInt64.self, forKey: .generation)
        leader = try c.decode(String.self, forKey: .leader)
        if format == Self.formatV1 {
            base = Part(
                epoch: epoch, generation: generation, size: try c.decode(Int.self, forKey: .size),
                crc32: try c.decode(UInt32.self, forKey: .crc32), uncompressedSize: try c.decode(Int.self, forKey: .uncompressedSize),
                chunks: try c.decode([Chunk].self, forKey: .chunks))
            deltas = []
        } else {
            base = try c.decode(Part.self, forKey: .base)
            deltas = try c.decodeIfPresent([Part].self, forKey: .deltas) ?? []
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(format, forKey: .format)
        try c.encode(epoch, forKey: .epoch)
        try c.encode(generation, forKey: .generation)
        try c.encode(leader, forKey: .leader)
        try c.encode(base, forKey: .base)
        try c.encode(deltas, forKey: .deltas)
    }
}
