import JSON
import NIOCore
import NIOHTTP1

/// The emulator's own routes (`Configuration.adminAPI`), for a benchmark that runs
/// `kube-emulator` as a separate process and needs what the in-process API offers:
///
/// - `GET /_emulator/audit?since=N`: the accepted writes from index N on, as
///   `{"total": T, "entries": [...]}` (`AuditEntry.json`); ask again with `since=T`.
/// - `PUT /_emulator/latency?identity=ID&milliseconds=MS`: delays every request of an identity
///   (or `*`) by MS before serving it; 0 removes the delay.
///
/// No real API server has a `/_emulator` path, so these never shadow a Kubernetes route.
struct AdminRoutes {
    static let prefix = "_emulator"
    let core: EmulatorCore

    static func matches(_ request: APIRequest) -> Bool { request.segments.first == prefix }

    func handle(_ request: APIRequest) throws(APIError) -> APIResponse {
        let path = request.segments.dropFirst()
        switch (request.method, path.first, path.count) {
        case (.GET, "audit", 1):
            var since = 0
            if let text = request.query["since"] {
                guard let n = Int(text), n >= 0 else { throw APIError.badRequest("since: must be a non-negative integer, got \"\(text)\"") }
                since = n
            }
            let (entries, total) = core.store.auditLog(since: since)
            var out: [UInt8] = []
            out.reserveCapacity(64 + entries.count * 200)
            out.append(contentsOf: "{\"total\":\(total),\"entries\":[".utf8)
            for (i, entry) in entries.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                entry.json.write(into: &out)
            }
            out.append(contentsOf: "]}\n".utf8)
            return APIResponse(status: .ok, body: out)
        case (.PUT, "latency", 1):
            guard let identity = request.query["identity"], !identity.isEmpty else {
                throw APIError.badRequest("identity: required (an identity, or * for everyone)")
            }
            guard let text = request.query["milliseconds"], let milliseconds = Int64(text), milliseconds >= 0 else {
                throw APIError.badRequest("milliseconds: required, a non-negative integer")
            }
            core.faults.setLatency(identity, milliseconds == 0 ? nil : .milliseconds(milliseconds))
            return .json(.object([JSONMember("identity", .string(identity)), JSONMember("milliseconds", .int(milliseconds))]))
        case (_, "audit", 1), (_, "latency", 1):
            throw APIError.methodNotAllowed(String(describing: request.method))
        default:
            throw APIError.notFoundPath()
        }
    }
}
