import AsyncHTTPClient
import Foundation
import NIOCore

/// One change from a watch stream.
public enum WatchEvent<T: KubernetesObject>: Sendable {
    case added(T)
    case modified(T)
    case deleted(T)
    /// The server's progress marker: nothing to apply, but resume from here.
    case bookmark(resourceVersion: String)

    public var resourceVersion: String? {
        switch self {
        case .added(let o), .modified(let o), .deleted(let o): o.resourceVersion
        case .bookmark(let rv): rv
        }
    }
}

extension KubernetesClient {
    /// Watches a collection from `options.resourceVersion`. The sequence ends when the server
    /// ends the stream (timeout); an ERROR event (e.g. 410 Expired) throws `KubernetesError`.
    public func watch<T: KubernetesObject>(
        _ type: T.Type, namespace: String? = nil, options: ListOptions = ListOptions()
    ) -> AsyncThrowingStream<WatchEvent<T>, any Error> {
        let query = options.query + [("watch", "true")]
        let path = T.resource.collectionPath(namespace: namespace)
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let response = try await self.stream(path, query: query)
                    var splitter = LineSplitter()
                    for try await chunk in response.body {
                        try Task.checkCancellation()
                        for line in splitter.feed(chunk) {
                            continuation.yield(try Self.decodeEvent(T.self, line))
                        }
                    }
                    continuation.finish()
                } catch is CancellationError {
                    continuation.finish()
                } catch let error as KubernetesError {
                    continuation.finish(throwing: error)
                } catch {
                    continuation.finish(throwing: KubernetesError.transport("watch \(path): \(error)"))
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    static func decodeEvent<T: KubernetesObject>(_ type: T.Type, _ line: Data) throws -> WatchEvent<T> {
        if let event = line.withUnsafeBytes({ JSONReader.watchEvent(T.self, $0) }) { return event }
        let decoder = JSONDecoder()
        let head: Head
        do { head = try decoder.decode(Head.self, from: line) } catch {
            throw KubernetesError.decoding("watch event: \(String(decoding: line.prefix(200), as: UTF8.self))")
        }
        do {
            switch head.type {
            case "ADDED": return .added(try decoder.decode(Envelope<T>.self, from: line).object)
            case "MODIFIED": return .modified(try decoder.decode(Envelope<T>.self, from: line).object)
            case "DELETED": return .deleted(try decoder.decode(Envelope<T>.self, from: line).object)
            case "BOOKMARK":
                return .bookmark(resourceVersion: try decoder.decode(Envelope<Bookmark>.self, from: line).object.metadata.resourceVersion ?? "")
            case "ERROR":
                let status = try decoder.decode(Envelope<Status>.self, from: line).object
                throw KubernetesError.status(status, retryAfter: nil)
            default:
                throw KubernetesError.decoding("unknown watch event type \(head.type)")
            }
        } catch let error as KubernetesError {
            throw error
        } catch {
            throw KubernetesError.decoding("watch \(head.type) event: \(error)")
        }
    }
}

/// Splits a byte stream into newline-terminated lines (watch events are one JSON object per line).
struct LineSplitter {
    private var pending = Data()

    mutating func feed(_ buffer: ByteBuffer) -> [Data] {
        var lines: [Data] = []
        buffer.withUnsafeReadableBytes { bytes in
            var start = 0
            while let end = bytes[start...].firstIndex(of: 0x0a) {
                if !pending.isEmpty {
                    pending.append(contentsOf: bytes[start..<end])
                    lines.append(pending)
                    pending = Data()
                } else if end > start {
                    // A whole line inside this chunk: one copy, no growing buffer.
                    lines.append(Data(bytes: bytes.baseAddress! + start, count: end - start))
                }
                start = end + 1
            }
            pending.append(contentsOf: bytes[start...])
        }
        return lines
    }
}

private struct Head: Decodable { var type: String }
private struct Envelope<O: Decodable>: Decodable { var object: O }
private struct Bookmark: Decodable { var metadata: ObjectMeta }
