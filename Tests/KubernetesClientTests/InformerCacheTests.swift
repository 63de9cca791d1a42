import Logging
import Testing

@testable import KubernetesClient

/// The cache and event bookkeeping of an informer, without a server.
@Suite struct InformerCacheTests {
    func pod(_ ns: String, _ name: String, rv: String) -> Pod {
        var meta = ObjectMeta(name: name, namespace: ns)
        meta.resourceVersion = rv
        return Pod(metadata: meta)
    }

    @Test func relistTurnsIntoTheChangesThatHappened() async throws {
        let client = try KubernetesClient(configuration: ClusterConfiguration(server: "http://127.0.0.1:9"))
        let informer = Informer<Pod>(client: client, logger: Logger(label: "test"))
        var events = informer.events().makeAsyncIterator()
        informer.replace([pod("a", "p1", rv: "1"), pod("a", "p2", rv: "2"), pod("b", "p3", rv: "3")], resourceVersion: "3")
        var seen: [String] = []
        for _ in 0..<4 {
            switch await events.next() {
            case .added(let p)?: seen.append("+\(p.key)")
            case .synced?: seen.append("synced")
            default: seen.append("?")
            }
        }
        #expect(seen.sorted() == ["+a/p1", "+a/p2", "+b/p3", "synced"])
        #expect(informer.list(namespace: "a").map(\.name).sorted() == ["p1", "p2"])
        await informer.waitForSync()

        informer.apply(.modified(pod("a", "p1", rv: "4")))
        informer.apply(.deleted(pod("b", "p3", rv: "5")))
        informer.apply(.bookmark(resourceVersion: "9"))
        guard case .updated(let old, let new)? = await events.next() else { Issue.record("expected update"); return }
        #expect(old.resourceVersion == "1" && new.resourceVersion == "4")
        guard case .deleted(let gone)? = await events.next() else { Issue.record("expected delete"); return }
        #expect(gone.key == "b/p3" && informer.list(namespace: "b").isEmpty)
        #expect(informer.lastResourceVersion == "9", "bookmarks advance the resume point")

        // A relist after a 410: p2 vanished meanwhile, p4 appeared, p1 unchanged.
        informer.replace([pod("a", "p1", rv: "4"), pod("c", "p4", rv: "12")], resourceVersion: "12")
        var after: [String] = []
        for _ in 0..<3 {
            switch await events.next() {
            case .added(let p)?: after.append("+\(p.key)")
            case .deleted(let p)?: after.append("-\(p.key)")
            case .updated(_, let p)?: after.append("~\(p.key)")
            case .synced?: after.append("synced")
            case nil: after.append("end")
            }
        }
        #expect(after.sorted() == ["+c/p4", "-a/p2", "synced"])
        #expect(informer.count == 2 && informer.relistCount == 2)
        try await client.shutdown()
    }
}
