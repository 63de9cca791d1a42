import Foundation
import KubernetesClient
import TestSupport
import Testing

@testable import KubernetesEmulator

@Suite("Paged lists walk the keys in etcd's order")
struct PagingTests {
    /// Namespaces whose names start alike, around the '/' separator: `a-b/` sorts before `a/`,
    /// `a0/` and `ab/` after it; a list of `a` must hold exactly its own objects.
    static let namespaces = ["a", "a-b", "a0", "ab"]

    @Test func pagesOfANamespaceHoldExactlyItsObjectsInByteOrder() async throws {
        try await withEmulator { emulator, client in
            for ns in Self.namespaces { _ = try await client.create(Namespace(metadata: ObjectMeta(name: ns))) }
            for ns in Self.namespaces {
                for name in ["z", "m-1", "m.1", "m1", "b", "a", "a0", "a-0"] { _ = try await client.create(configMap(name, namespace: ns)) }
            }
            // Byte order (etcd's): '-' < '.' < '0'…'9' < 'a'…'z'.
            let expected = ["a", "a-0", "a0", "b", "m-1", "m.1", "m1", "z"]
            for ns in Self.namespaces {
                var names: [String] = []
                var remaining: [Int64?] = []
                var options = ListOptions(limit: 3)
                repeat {
                    let page = try await client.list(ConfigMap.self, namespace: ns, options: options)
                    names += page.items.map(\.name)
                    #expect(page.items.allSatisfy { $0.metadata.namespace == ns })
                    remaining.append(page.metadata.remainingItemCount)
                    options.continueToken = page.metadata.continue
                } while options.continueToken?.isEmpty == false
                #expect(names == expected, "namespace \(ns)")
                #expect(remaining == [5, 2, nil], "namespace \(ns)")
            }
            // Across namespaces: keys in byte order of "namespace/name".
            let all = try await client.listAll(ConfigMap.self, options: ListOptions(limit: 7))
            let keys = all.items.map { "\($0.metadata.namespace ?? "")/\($0.name)" }
            #expect(keys == keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
            #expect(keys.count == Self.namespaces.count * expected.count)
        }
    }

    @Test func aSelectivePageHasAContinueTokenOnlyWhenMoreMatch() async throws {
        try await withEmulator { emulator, client in
            // Matches: cm-0, cm-1, cm-2 and cm-5; cm-6…cm-9 come after the last match and do not.
            for i in 0..<10 {
                _ = try await client.create(configMap("cm-\(i)", labels: ["pick": i < 3 || i == 5 ? "yes" : "no"]))
            }
            var options = ListOptions(labelSelector: "pick=yes", limit: 3)
            let first = try await client.list(ConfigMap.self, namespace: "default", options: options)
            #expect(first.items.map(\.name) == ["cm-0", "cm-1", "cm-2"])
            #expect(first.metadata.continue?.isEmpty == false, "cm-5 matches too")
            #expect(first.metadata.remainingItemCount == nil, "the real server does not count remaining items under a selector")
            options.continueToken = first.metadata.continue
            let second = try await client.list(ConfigMap.self, namespace: "default", options: options)
            #expect(second.items.map(\.name) == ["cm-5"])
            #expect(second.metadata.continue?.isEmpty != false)

            options = ListOptions(labelSelector: "pick=yes", limit: 4)
            let whole = try await client.list(ConfigMap.self, namespace: "default", options: options)
            #expect(whole.items.count == 4)
            #expect(whole.metadata.continue?.isEmpty != false, "objects follow the fourth match, but none matches")
        }
    }

    @Test func theKeyIndexFollowsCreatesAndDeletes() async throws {
        try await withEmulator { emulator, client in
            for i in stride(from: 0, to: 40, by: 2) { _ = try await client.create(configMap(String(format: "k%02d", i))) }
            let page = try await client.list(ConfigMap.self, namespace: "default", options: ListOptions(limit: 5))
            #expect(page.items.map(\.name) == ["k00", "k02", "k04", "k06", "k08"])
            for i in stride(from: 1, to: 40, by: 2) { _ = try await client.create(configMap(String(format: "k%02d", i))) }
            for i in stride(from: 0, to: 40, by: 4) { try await client.delete(ConfigMap.self, namespace: "default", name: String(format: "k%02d", i)) }
            let all = try await client.listAll(ConfigMap.self, namespace: "default", options: ListOptions(limit: 6))
            #expect(all.items.map(\.name) == (0..<40).filter { $0 % 4 != 0 }.map { String(format: "k%02d", $0) })
            // An update keeps the object in its place, once.
            _ = try await client.patch(ConfigMap.self, namespace: "default", name: "k01", patch: Data(#"{"data":{"x":"y"}}"#.utf8))
            let again = try await client.listAll(ConfigMap.self, namespace: "default", options: ListOptions(limit: 6))
            #expect(again.items.map(\.name) == all.items.map(\.name))
        }
    }

    /// SortedKeys against a plain sorted array, through enough inserts and removals to split
    /// and empty runs.
    @Test func sortedKeysMatchASortedArray() {
        var random = SeededRandom(state: 12)
        var keys = SortedKeys()
        var members = Set<String>()
        var sortedMembers: [String] { members.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) } }
        func check() {
            var walked: [String] = []
            var p = keys.startPosition
            while p < keys.endPosition {
                walked.append(keys.key(at: p))
                p = keys.next(p)
            }
            #expect(walked == sortedMembers)
            #expect(keys.count == members.count)
        }
        for round in 0..<3 {
            for _ in 0..<3_000 {
                let key = "ns-\(random.next() % 7)/pod-\(random.next() % 5_000)"
                keys.insert(key)
                members.insert(key)
            }
            check()
            for key in sortedMembers.enumerated().filter({ $0.offset % (round + 2) != 0 }).map(\.element) {
                keys.remove(key)
                members.remove(key)
            }
            keys.remove("absent")
            check()
        }
        let model = sortedMembers
        // Positions and distances agree with the model.
        for probe in ["", "ns-3/", "ns-3/pod-2", "ns-30", "zzz"] {
            let expected = model.firstIndex { !$0.utf8.lexicographicallyPrecedes(probe.utf8) } ?? model.count
            #expect(keys.distance(from: keys.startPosition, to: keys.position(of: probe)) == expected, "\(probe)")
            let after = model.firstIndex { probe.utf8.lexicographicallyPrecedes($0.utf8) } ?? model.count
            #expect(keys.distance(from: keys.startPosition, to: keys.position(of: probe, after: true)) == after, "\(probe)")
        }
        if let middle = model.dropFirst(model.count / 2).first {
            #expect(keys.distance(from: keys.position(of: middle, after: true), to: keys.endPosition) == model.count - model.count / 2 - 1)
        }
    }
}
