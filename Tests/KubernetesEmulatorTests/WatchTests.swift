import Foundation
import JSON
import KubernetesClient
import KubernetesEmulator
import Testing
import TestSupport

@Suite("Watches and informers against the emulator")
struct WatchTests {
    @Test func watchFromUnsetSendsInitialAddedThenLiveEvents() async throws {
        try await withEmulator { emulator, client in
            _ = try await client.create(configMap("a"))
            _ = try await client.create(configMap("b"))
            let stream = client.watch(ConfigMap.self, namespace: "default")
            try await Task.sleep(for: .milliseconds(1))
            Task {
                // Live events after the initial ones.
                _ = await eventually { emulator.openWatches == 1 }
                _ = try? emulator.create(.configMaps, .object([JSONMember("metadata", .object([JSONMember("name", .string("c"))]))]))
                try? emulator.delete(.configMaps, name: "a")
            }
            let events = try await collect(stream, count: 4)
            #expect(events.map(describe) == ["ADDED a", "ADDED b", "ADDED c", "DELETED a"])
            // DELETED carries the deletion revision.
            if case .deleted(let o)? = events.last {
                #expect(o.resourceVersion == String(emulator.resourceVersion))
            }
        }
    }

    @Test func watchResumesExactlyAfterAResourceVersion() async throws {
        try await withEmulator { emulator, client in
            let a = try await client.create(configMap("a"))
            var changed = a
            changed.data = ["k": "v"]
            _ = try await client.update(changed)
            _ = try await client.create(configMap("b"))
            var options = ListOptions()
            options.resourceVersion = a.resourceVersion
            let events = try await collect(client.watch(ConfigMap.self, namespace: "default", options: options), count: 2)
            #expect(events.map(describe) == ["MODIFIED a", "ADDED b"])
        }
    }

    @Test func tooOldResourceVersionIsAnErrorEventWith410() async throws {
        try await withEmulator { emulator, client in
            let a = try await client.create(configMap("a"))
            _ = try await client.create(configMap("b"))
            emulator.compact()
            var options = ListOptions()
            options.resourceVersion = a.resourceVersion
            do {
                for try await _ in client.watch(ConfigMap.self, namespace: "default", options: options) {}
                Issue.record("the watch should fail")
            } catch let error as KubernetesError {
                #expect(error.isGone)
                #expect(error.reason == "Expired")
            }
        }
    }

    @Test func historyWindowIsBounded() async throws {
        try await withEmulator({ $0.historyLimit = 5 }) { emulator, client in
            let first = try await client.create(configMap("first"))
            for i in 0..<10 { _ = try await client.create(configMap("cm-\(i)")) }
            var options = ListOptions()
            options.resourceVersion = first.resourceVersion
            let error = await kubernetesError {
                for try await _ in client.watch(ConfigMap.self, namespace: "default", options: options) {}
            }
            #expect(error?.isGone == true)
        }
    }

    @Test func selectorTransitionsBecomeAddedAndDeleted() async throws {
        try await withEmulator { emulator, client in
            let cm = try await client.create(configMap("x", labels: ["app": "web"]))
            let stream = client.watch(ConfigMap.self, namespace: "default", options: ListOptions(labelSelector: "app=web", resourceVersion: cm.resourceVersion))
            Task {
                _ = await eventually { emulator.openWatches == 1 }
                guard var current = try? await client.get(ConfigMap.self, name: "x") else { return }
                current.metadata.labels = ["app": "other"]
                guard let moved = try? await client.update(current) else { return }
                current = moved
                current.data = ["unseen": "1"]
                guard let changed = try? await client.update(current) else { return }
                current = changed
                current.metadata.labels = ["app": "web"]
                _ = try? await client.update(current)
            }
            let events = try await collect(stream, count: 2)
            #expect(events.map(describe) == ["DELETED x", "ADDED x"])
            // DELETED on selector exit shows the previous content (still matching) at the new revision.
            if case .deleted(let o) = events[0] { #expect(o.metadata.labels?["app"] == "web") }
            if case .added(let o) = events[1] { #expect(o.data?["unseen"] == "1") }
        }
    }

    @Test func timeoutSecondsEndsTheStreamCleanlyWithABookmark() async throws {
        try await withEmulator { emulator, client in
            var options = ListOptions()
            options.timeoutSeconds = 1
            options.allowWatchBookmarks = true
            options.resourceVersion = String(emulator.resourceVersion)
            let start = ContinuousClock.now
            var events: [WatchEvent<ConfigMap>] = []
            for try await e in client.watch(ConfigMap.self, namespace: "default", options: options) { events.append(e) }
            #expect(ContinuousClock.now - start >= .milliseconds(900))
            #expect(events.map(describe) == ["BOOKMARK"])
        }
    }

    @Test func bookmarksAreSentOnlyWhenAllowed() async throws {
        try await withEmulator({ $0.bookmarkInterval = .milliseconds(100) }) { emulator, client in
            _ = try await client.create(Namespace(metadata: ObjectMeta(name: "busy")))
            var options = ListOptions()
            options.allowWatchBookmarks = true
            options.resourceVersion = String(emulator.resourceVersion)
            let stream = client.watch(ConfigMap.self, namespace: "default", options: options)
            _ = try await client.create(configMap("elsewhere", namespace: "busy"))
            let target = String(emulator.resourceVersion)
            var sawTarget = false
            for try await e in stream {
                guard case .bookmark(let rv) = e else { continue }
                if rv == target {
                    sawTarget = true
                    break
                }
            }
            #expect(sawTarget)

            options.allowWatchBookmarks = false
            options.timeoutSeconds = 1
            var none: [WatchEvent<ConfigMap>] = []
            for try await e in client.watch(ConfigMap.self, namespace: "default", options: options) { none.append(e) }
            #expect(none.isEmpty)
        }
    }

    @Test func sendInitialEventsEndsWithTheAnnotatedBookmarkOrIs422() async throws {
        try await withEmulator { emulator, client in
            _ = try await client.create(configMap("a"))
            let body = try await client.send(
                .GET, "/api/v1/namespaces/default/configmaps",
                query: [
                    ("watch", "true"), ("sendInitialEvents", "true"), ("resourceVersionMatch", "NotOlderThan"), ("allowWatchBookmarks", "true"),
                    ("timeoutSeconds", "1"),
                ])
            let lines = String(decoding: body, as: UTF8.self).split(separator: "\n").map { try? JSONValue.parse(String($0)) }
            #expect(lines.first??["type"]?.stringValue == "ADDED")
            let bookmark = lines.first { $0?["type"]?.stringValue == "BOOKMARK" }
            #expect(bookmark??.at("object", "metadata", "annotations", "k8s.io/initial-events-end")?.stringValue == "true")
            let invalid = await kubernetesError {
                _ = try await client.send(.GET, "/api/v1/namespaces/default/configmaps", query: [("watch", "true"), ("sendInitialEvents", "true")])
            }
            #expect(invalid?.code == 422)
        }
    }

    // MARK: - informer

    @Test func informerListsWatchesAndResumesAfterADroppedStreamWithoutRelisting() async throws {
        try await withEmulator { emulator, client in
            for i in 0..<5 { _ = try await client.create(configMap("cm-\(i)")) }
            var options = Informer<ConfigMap>.Options(namespace: "default")
            options.pageSize = 2
            let (informer, log, task) = startInformer(ConfigMap.self, client: client, options: options)
            defer { task.cancel() }
            await informer.waitForSync()
            #expect(informer.count == 5)
            #expect(await eventually { emulator.openWatches == 1 })
            #expect(emulator.dropWatches() == 1)
            _ = try await client.create(configMap("after-drop"))
            try await client.delete(ConfigMap.self, name: "cm-0")
            #expect(await eventually { informer.get(namespace: "default", name: "after-drop") != nil && informer.count == 5 })
            #expect(informer.relistCount == 1)
            #expect(informer.lastResourceVersion == String(emulator.resourceVersion))
            func changes() -> [String] {
                log.all.compactMap { e -> String? in
                    switch e {
                    case .added(let o): "added \(o.name)"
                    case .deleted(let o): "deleted \(o.name)"
                    default: nil
                    }
                }
            }
            // The subscriber sees the same changes, in order (it consumes asynchronously).
            #expect(await eventually { changes().suffix(2) == ["added after-drop", "deleted cm-0"] })
        }
    }

    @Test func informerRelistsOn410ErrorEvent() async throws {
        try await withEmulator { emulator, client in
            _ = try await client.create(configMap("a"))
            let (informer, _, task) = startInformer(ConfigMap.self, client: client)
            defer { task.cancel() }
            await informer.waitForSync()
            #expect(await eventually { emulator.openWatches == 1 })
            // Cut alice off, change things, forget history, let her back.
            emulator.partition("alice", mode: .hang)
            _ = try emulator.create(.configMaps, .object([JSONMember("metadata", .object([JSONMember("name", .string("b"))]))]))
            try emulator.delete(.configMaps, name: "a")
            emulator.compact()
            emulator.heal("alice")
            #expect(await eventually { informer.relistCount == 2 })
            #expect(await eventually { informer.list().map(\.name) == ["b"] })
        }
    }

    @Test func informerRelistsOn410HTTPStatus() async throws {
        try await withEmulator { emulator, client in
            _ = try await client.create(configMap("a"))
            let (informer, _, task) = startInformer(ConfigMap.self, client: client)
            defer { task.cancel() }
            await informer.waitForSync()
            #expect(await eventually { emulator.openWatches == 1 })
            emulator.injectFailure("alice", InjectedFailure(error: .expired("too old resource version"), count: 1, verbs: ["watch"]))
            emulator.dropWatches()
            #expect(await eventually { informer.relistCount == 2 })
            _ = try await client.create(configMap("b"))
            #expect(await eventually { informer.count == 2 })
        }
    }

    @Test func bookmarksAdvanceTheInformersResourceVersion() async throws {
        try await withEmulator({ $0.bookmarkInterval = .milliseconds(100) }) { emulator, client in
            _ = try await client.create(Namespace(metadata: ObjectMeta(name: "noisy")))
            let (informer, _, task) = startInformer(ConfigMap.self, client: client)
            defer { task.cancel() }
            await informer.waitForSync()
            let before = informer.lastResourceVersion
            for i in 0..<3 { _ = try await client.create(configMap("n-\(i)", namespace: "noisy")) }
            let target = String(emulator.resourceVersion)
            #expect(before != target)
            #expect(await eventually { informer.lastResourceVersion == target })
            #expect(informer.count == 0)
        }
    }

    @Test func informerWithSelectorsSeesTransitions() async throws {
        try await withEmulator { emulator, client in
            let (informer, _, task) = startInformer(
                ConfigMap.self, client: client, options: .init(namespace: "default", labelSelector: "app in (web)", fieldSelector: "metadata.name!=skip"))
            defer { task.cancel() }
            await informer.waitForSync()
            var web = try await client.create(configMap("web", labels: ["app": "web"]))
            _ = try await client.create(configMap("skip", labels: ["app": "web"]))
            #expect(await eventually { informer.count == 1 })
            web.metadata.labels = ["app": "db"]
            web = try await client.update(web)
            #expect(await eventually { informer.count == 0 })
            web.metadata.labels = ["app": "web"]
            _ = try await client.update(web)
            #expect(await eventually { informer.get(namespace: "default", name: "web") != nil })
        }
    }

    @Test func informerSurvivesAPartitionAndCatchesUp() async throws {
        try await withEmulator { emulator, client in
            let (informer, _, task) = startInformer(ConfigMap.self, client: client)
            defer { task.cancel() }
            await informer.waitForSync()
            #expect(await eventually { emulator.openWatches == 1 })
            emulator.partition("alice", mode: .refuse)
            #expect(emulator.openWatches == 0)
            for i in 0..<3 { _ = try emulator.create(.configMaps, .object([JSONMember("metadata", .object([JSONMember("name", .string("p-\(i)"))]))])) }
            try await Task.sleep(for: .milliseconds(300))
            #expect(informer.count == 0)
            emulator.heal("alice")
            #expect(await eventually { informer.count == 3 })
            // Resumed from its resourceVersion: no relist was needed.
            #expect(informer.relistCount == 1)
        }
    }

    @Test func clusterWideInformerOverManyPods() async throws {
        try await withEmulator { emulator, client in
            _ = try await client.create(Namespace(metadata: ObjectMeta(name: "bench")))
            emulator.loadPods(count: 1200, namespace: "bench")
            let (informer, _, task) = startInformer(Pod.self, client: client, options: .init())
            defer { task.cancel() }
            await informer.waitForSync()
            #expect(informer.count == 1200)
            #expect(informer.list(namespace: "bench").first?.status?.podIP?.hasPrefix("10.") == true)
        }
    }
}
