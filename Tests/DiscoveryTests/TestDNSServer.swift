import Foundation
import NIOCore
import NIOPosix

/// A tiny authoritative DNS server over UDP on 127.0.0.1 (ephemeral port) for the DNS SD tests:
/// it answers each question from a table the test sets, and counts the questions it got.
final class TestDNSServer: Sendable {
    /// One answer record; `owner` nil means the question's name.
    enum Record: Sendable {
        case a(String, owner: String? = nil)
        case aaaa(String)
        case cname(String)
        case srv(target: String, port: UInt16, priority: UInt16 = 0, weight: UInt16 = 0)
        case mx(String, preference: UInt16)
        case ns(String)
        case txt(String)
    }

    enum Reply: Sendable {
        case records([Record])
        /// An answer without records and this RCODE (2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED).
        case rcode(UInt8)
    }

    /// Keyed by lower-cased name without the final dot and the type's name (`A`, `SRV`, …).
    final class Table: @unchecked Sendable {
        // @unchecked: every access goes through `lock`.
        private let lock = NSLock()
        private var replies: [String: Reply] = [:]
        private var questions: [String] = []

        func set(_ name: String, _ type: String, _ reply: Reply) { lock.withLock { replies[Self.key(name, type)] = reply } }
        func reply(_ name: String, _ type: String) -> Reply {
            lock.withLock {
                questions.append(Self.key(name, type))
                return replies[Self.key(name, type)] ?? .rcode(3)
            }
        }
        func asked(_ name: String, _ type: String) -> Int { lock.withLock { questions.filter { $0 == Self.key(name, type) }.count } }

        static func key(_ name: String, _ type: String) -> String {
            var n = name.lowercased()
            while n.hasSuffix(".") { n.removeLast() }
            return "\(n) \(type)"
        }
    }

    let table = Table()
    let channel: any Channel
    var address: String { "127.0.0.1:\(channel.localAddress?.port ?? 0)" }

    init() async throws {
        let table = table
        channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Handler(table: table)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func close() async { try? await channel.close() }

    final class Handler: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>
        let table: Table
        init(table: Table) { self.table = table }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            guard let answer = Self.answer(Array(envelope.data.readableBytesView), table: table) else { return }
            let out = AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: context.channel.allocator.buffer(bytes: answer))
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        }

        static let types: [UInt16: String] = [1: "A", 2: "NS", 5: "CNAME", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV"]

        static func answer(_ query: [UInt8], table: Table) -> [UInt8]? {
            guard query.count >= 12 else { return nil }
            // The question: labels up to the root, then type and class.
            var i = 12
            var labels: [String] = []
            while i < query.count, query[i] != 0 {
                let length = Int(query[i])
                guard i + 1 + length <= query.count else { return nil }
                labels.append(String(decoding: query[(i + 1)..<(i + 1 + length)], as: UTF8.self))
                i += 1 + length
            }
            guard i + 5 <= query.count else { return nil }
            let questionEnd = i + 5
            let type = UInt16(query[i + 1]) << 8 | UInt16(query[i + 2])
            let name = labels.joined(separator: ".")
            let reply = table.reply(name, types[type] ?? "TYPE\(type)")

            var records: [Record] = []
            var rcode: UInt8 = 0
            switch reply {
            case .records(let r): records = r
            case .rcode(let c): rcode = c
            }
            var out: [UInt8] = [query[0], query[1]]
            out += [0x84 | (query[2] & 0x01), 0x80 | rcode]  // QR, AA, RD copied; RA
            out += be16(1) + be16(UInt16(records.count)) + be16(0) + be16(0)
            out += query[12..<questionEnd]
            for record in records {
                let (owner, rrType, data) = encode(record)
                out += owner.map(encodeName) ?? [0xC0, 12]  // a pointer to the question's name
                out += be16(rrType) + be16(1) + be32(60) + be16(UInt16(data.count)) + data
            }
            return out
        }

        static func encode(_ record: Record) -> (String?, UInt16, [UInt8]) {
            switch record {
            case .a(let address, let owner):
                var raw = in_addr()
                inet_pton(AF_INET, address, &raw)
                return (owner, 1, withUnsafeBytes(of: raw) { Array($0) })
            case .aaaa(let address):
                var raw = in6_addr()
                inet_pton(AF_INET6, address, &raw)
                return (nil, 28, withUnsafeBytes(of: raw) { Array($0) })
            case .cname(let target): return (nil, 5, encodeName(target))
            case .srv(let target, let port, let priority, let weight):
                return (nil, 33, be16(priority) + be16(weight) + be16(port) + encodeName(target))
            case .mx(let target, let preference): return (nil, 15, be16(preference) + encodeName(target))
            case .ns(let target): return (nil, 2, encodeName(target))
            case .txt(let text): return (nil, 16, [UInt8(text.utf8.count)] + Array(text.utf8))
            }
        }

        static func encodeName(_ name: String) -> [UInt8] {
            var out: [UInt8] = []
            for label in name.split(separator: ".") {
                out.append(UInt8(label.utf8.count))
                out += Array(label.utf8)
            }
            return out + [0]
        }

        static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xff)] }
        static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)] }
    }
}
