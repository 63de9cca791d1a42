import Foundation

/// The small ConfigMap that names a generation's chunks. It is the only object written with
/// a compare-and-swap on resourceVersion: a generation exists once its manifest does.
public struct Manifest: Codable, Sendable, Hashable {
    public static let format = "deflate+protobuf/v1"

    public var format: String
    public var epoch: UInt64
    public var generation: UInt64
    public var leader: String
    /// Size and CRC-32 of the whole compressed snapshot (the chunks concatenated).
    public var size: Int
    public var crc32: UInt32
    /// Size of the decoded protobuf (bounds decompression).
    public var uncompressedSize: Int
    public var chunks: [Chunk]

    public struct Chunk: Codable, Sendable, Hashable {
        public var name: String
        public var size: Int
        public var crc32: UInt32
    }

    /// Chunk ConfigMaps are named from the manifest, the epoch and generation, so a new
    /// generation never overwrites the chunks a reader may be fetching.
    public static func chunkName(base: String, epoch: UInt64, generation: UInt64, index: Int) -> String {
        "\(base)-e\(epoch)-g\(generation)-\(index)"
    }
}
