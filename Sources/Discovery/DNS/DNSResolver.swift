import CAres
import Foundation

/// One record of an answer, in the parts `dns_sd_configs` labels use. Names are fully
/// qualified with their final dot, as Prometheus's DNS library reports them.
enum DNSRecord: Sendable, Hashable {
    case address(String)
    case srv(target: String, port: Int)
    case mx(target: String)
    case ns(target: String)
}

struct DNSLookupError: Error, CustomStringConvertible {
    var name: String
    var reason: String
    var description: String { "could not resolve \"\(name)\": \(reason)" }
}

/// DNS lookups through c-ares (Debian's `libc-ares`): search domains, `ndots`, retries, TCP
/// after a truncated answer and EDNS come from the library. Servers come from
/// `/etc/resolv.conf` unless `servers` names them (`host:port`, how tests point it at their
/// own server). Each lookup runs on a thread of its own, so a slow server never holds a thread
/// of Swift's cooperative pool.
struct DNSResolver: Sendable {
    var servers: [String]?
    /// Per try; c-ares tries each server `tries` times.
    var timeout: Duration = .seconds(5)
    var tries = 2

    /// The records of `type` for `name`. A name that does not exist, or has no records of the
    /// type, gives no records (Prometheus's "valid but empty" answers); anything else (no
    /// server answered, SERVFAIL, REFUSED, a malformed answer) throws.
    func lookup(_ name: String, type: DNSRecordType) async throws -> [DNSRecord] {
        let resolver = self
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try resolver.blockingLookup(name, type: type) })
            }
            thread.name = "dns-sd"
            thread.start()
        }
    }

    private static let libraryStatus: Int32 = ares_library_init(ARES_LIB_INIT_ALL)

    private func blockingLookup(_ name: String, type: DNSRecordType) throws -> [DNSRecord] {
        guard Self.libraryStatus == ARES_SUCCESS else { throw DNSLookupError(name: name, reason: "c-ares did not initialise") }
        var options = ares_options()
        options.timeout = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        options.tries = Int32(tries)
        options.flags = ARES_FLAG_EDNS
        options.ednspsz = 4096
        var channel: ares_channel?
        let mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS | ARES_OPT_EDNSPSZ
        var status = ares_init_options(&channel, &options, mask)
        guard status == ARES_SUCCESS, let channel else { throw DNSLookupError(name: name, reason: Self.text(status)) }
        defer { ares_destroy(channel) }
        if let servers {
            status = ares_set_servers_ports_csv(channel, servers.joined(separator: ","))
            guard status == ARES_SUCCESS else { throw DNSLookupError(name: name, reason: "servers \(servers): \(Self.text(status))") }
        }

        let answer = Answer()
        let context = Unmanaged.passRetained(answer)
        ares_search(channel, name, 1 /* class IN */, type.code, { arg, status, _, buffer, length in
            let answer = Unmanaged<Answer>.fromOpaque(arg!).takeRetainedValue()
            answer.status = status
            if let buffer, length > 0 { answer.bytes = Array(UnsafeBufferPointer(start: buffer, count: Int(length))) }
            answer.done = true
        }, context.toOpaque())
        Self.wait(channel, until: { answer.done })
        // Without an answer the channel's destruction (deferred) calls back and releases `context`.
        guard answer.done else { throw DNSLookupError(name: name, reason: "no answer") }

        switch answer.status {
        case ARES_SUCCESS: return try Self.parse(answer.bytes, type: type, name: name)
        case ARES_ENODATA, ARES_ENOTFOUND: return []
        default: throw DNSLookupError(name: name, reason: Self.text(answer.status))
        }
    }

    /// Drives the channel's sockets with poll(2) until `done`; c-ares's own timeouts end every query.
    private static func wait(_ channel: ares_channel, until done: () -> Bool) {
        let maxSockets = Int(ta_ares_getsock_maxnum())
        var sockets = [ares_socket_t](repeating: -1, count: maxSockets)
        while !done() {
            let bits = ares_getsock(channel, &sockets, Int32(maxSockets))
            var polled: [pollfd] = []
            for i in 0..<maxSockets {
                var events: Int16 = 0
                if ta_ares_sock_readable(bits, Int32(i)) != 0 { events |= Int16(POLLIN) }
                if ta_ares_sock_writable(bits, Int32(i)) != 0 { events |= Int16(POLLOUT) }
                if events != 0 { polled.append(pollfd(fd: sockets[i], events: events, revents: 0)) }
            }
            if polled.isEmpty { break }
            var tv = timeval()
            let limit = ares_timeout(channel, nil, &tv)
            let timeoutMs = limit.map { Int32(clamping: $0.pointee.tv_sec * 1000 + $0.pointee.tv_usec / 1000) } ?? 1000
            let ready = poll(&polled, nfds_t(polled.count), timeoutMs)
            if ready <= 0 {
                ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD)  // timeouts
                continue
            }
            for p in polled where p.revents != 0 {
                let readable = p.revents & Int16(POLLIN | POLLERR | POLLHUP) != 0
                let writable = p.revents & Int16(POLLOUT) != 0
                ares_process_fd(channel, readable ? p.fd : ARES_SOCKET_BAD, writable ? p.fd : ARES_SOCKET_BAD)
            }
        }
    }

    static func parse(_ bytes: [UInt8], type: DNSRecordType, name: String) throws -> [DNSRecord] {
        func failed(_ status: Int32) -> DNSLookupError { DNSLookupError(name: name, reason: "bad \(type.rawValue) answer: \(text(status))") }
        return try bytes.withUnsafeBufferPointer { buffer throws(DNSLookupError) -> [DNSRecord] in
            let base = buffer.baseAddress
            let length = Int32(buffer.count)
            var records: [DNSRecord] = []
            switch type {
            case .a:
                var addresses = [ares_addrttl](repeating: ares_addrttl(), count: 512)
                var count: Int32 = 512
                let status = ares_parse_a_reply(base, length, nil, &addresses, &count)
                if status == ARES_ENODATA { return [] }
                guard status == ARES_SUCCESS else { throw failed(status) }
                for var entry in addresses.prefix(Int(count)) {
                    var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
                    inet_ntop(AF_INET, &entry.ipaddr, &text, socklen_t(text.count))
                    records.append(.address(cText(text)))
                }
            case .aaaa:
                var addresses = [ares_addr6ttl](repeating: ares_addr6ttl(), count: 512)
                var count: Int32 = 512
                let status = ares_parse_aaaa_reply(base, length, nil, &addresses, &count)
                if status == ARES_ENODATA { return [] }
                guard status == ARES_SUCCESS else { throw failed(status) }
                for entry in addresses.prefix(Int(count)) {
                    records.append(.address(ipv6Text(entry.ip6addr)))
                }
            case .srv:
                var list: UnsafeMutablePointer<ares_srv_reply>?
                let status = ares_parse_srv_reply(base, length, &list)
                if status == ARES_ENODATA { return [] }
                guard status == ARES_SUCCESS else { throw failed(status) }
                defer { ares_free_data(list) }
                var node = list
                while let n = node {
                    records.append(.srv(target: fullyQualified(n.pointee.host), port: Int(n.pointee.port)))
                    node = n.pointee.next
                }
            case .mx:
                var list: UnsafeMutablePointer<ares_mx_reply>?
                let status = ares_parse_mx_reply(base, length, &list)
                if status == ARES_ENODATA { return [] }
                guard status == ARES_SUCCESS else { throw failed(status) }
                defer { ares_free_data(list) }
                var node = list
                while let n = node {
                    records.append(.mx(target: fullyQualified(n.pointee.host)))
                    node = n.pointee.next
                }
            case .ns:
                var host: UnsafeMutablePointer<hostent>?
                let status = ares_parse_ns_reply(base, length, &host)
                if status == ARES_ENODATA { return [] }
                guard status == ARES_SUCCESS, let host else { throw failed(status) }
                defer { ares_free_hostent(host) }
                var i = 0
                while let alias = host.pointee.h_aliases?[i] {
                    records.append(.ns(target: fullyQualified(alias)))
                    i += 1
                }
            }
            return records
        }
    }

    /// c-ares hands out names without the root's final dot; Prometheus's library keeps it.
    static func fullyQualified(_ name: UnsafePointer<CChar>?) -> String {
        let text = name.map { String(cString: $0) } ?? ""
        return text.hasSuffix(".") ? text : text + "."
    }

    /// As Go's `net.IP.String`: RFC 5952 text, but an IPv4-mapped address as dotted IPv4.
    static func ipv6Text(_ address: ares_in6_addr) -> String {
        var raw = address
        let bytes = withUnsafeBytes(of: &raw) { Array($0.prefix(16)) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
            return bytes[12...].map(String.init).joined(separator: ".")
        }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count))
        return cText(text)
    }

    static func text(_ status: Int32) -> String { String(cString: ares_strerror(status)) }

    /// A NUL-terminated buffer as text.
    static func cText(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Where the query callback leaves its result. Only the lookup's own thread touches it.
private final class Answer {
    var done = false
    var status: Int32 = ARES_SUCCESS
    var bytes: [UInt8] = []
}
