import Discovery
import Foundation
import Logging
import TestSupport
import Testing

/// The latest list a provider published, readable from the test.
final class PublishedGroups: @unchecked Sendable {
    private let lock = NSLock()
    private var groups: [TargetGroup]?
    private var count = 0

    func set(_ new: [TargetGroup]) {
        lock.withLock {
            groups = new
            count += 1
        }
    }

    var latest: [TargetGroup]? { lock.withLock { groups } }
    var publishCount: Int { lock.withLock { count } }

    /// Each group's source mapped to its merged target addresses.
    var addressesBySource: [String: [String]] {
        Dictionary(uniqueKeysWithValues: (latest ?? []).map { ($0.source, $0.mergedTargets.map { $0["__address__"] ?? "" }) })
    }
}

@Suite struct FileSDTests {
    let dir: String

    init() throws {
        dir = NSTemporaryDirectory() + "file-sd-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ text: String) async throws {
        let path = dir + "/" + name
        try await offPool {
            // Write then rename, so the provider never sees a half-written file.
            let tmp = path + ".tmp-write"
            try text.write(toFile: tmp, atomically: false, encoding: .utf8)
            if rename(tmp, path) != 0 { throw CocoaError(.fileWriteUnknown) }
        }
    }

    func remove(_ name: String) async throws {
        let path = dir + "/" + name
        try await offPool { try FileManager.default.removeItem(atPath: path) }
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: dir) }

    @Test func jsonAndYAMLFilesWithGlob() async throws {
        defer { cleanup() }
        try await write("a.json", #"[{"targets": ["10.0.0.1:80", "10.0.0.2:80"], "labels": {"env": "prod"}}, {"targets": ["10.0.0.3:81"]}]"#)
        try await write(
            "b.yml",
            """
            - targets: ['10.1.0.1:9100']
              labels:
                env: dev
                port: 9100
            """)
        try await write("c.txt", "ignored")
        let groups = try await offPool { () -> [TargetGroup] in
            let files = FileSDProvider.glob(dir + "/*.json") + FileSDProvider.glob(dir + "/*.yml")
            return try files.flatMap(FileSDProvider.readFile)
        }
        #expect(
            groups == [
                TargetGroup(
                    source: dir + "/a.json:0", labels: ["env": "prod", "__meta_filepath": dir + "/a.json"],
                    targets: [["__address__": "10.0.0.1:80"], ["__address__": "10.0.0.2:80"]]),
                TargetGroup(source: dir + "/a.json:1", labels: ["__meta_filepath": dir + "/a.json"], targets: [["__address__": "10.0.0.3:81"]]),
                TargetGroup(
                    source: dir + "/b.yml:0", labels: ["env": "dev", "port": "9100", "__meta_filepath": dir + "/b.yml"],
                    targets: [["__address__": "10.1.0.1:9100"]]),
            ])
        #expect(groups[0].mergedTargets[0]["__meta_filepath"] == dir + "/a.json")
    }

    @Test func malformedDocumentsAreRejected() {
        let label = (name: "__meta_filepath", value: "f")
        let bad = [
            #"{"targets": []}"#, #"[null]"#, #"[{"targets": ["a"], "extra": 1}]"#, #"[{"targets": [1]}]"#,
            #"[{"targets": ["a"], "labels": {"x": 1}}]"#, "[{", #"[{"labels": {"": "v"}}]"#,
        ]
        for text in bad {
            #expect(throws: TargetGroupDocumentError.self, "\(text)") {
                try TargetGroupDocument.parseJSON(Array(text.utf8), sourcePrefix: "f", extraLabel: label)
            }
        }
        #expect(throws: TargetGroupDocumentError.self) {
            try TargetGroupDocument.parseYAML("- targets: [a]\n  unknown: 1\n", sourcePrefix: "f", extraLabel: label)
        }
        #expect((try? TargetGroupDocument.parseYAML("", sourcePrefix: "f", extraLabel: label)) == [])
        #expect((try? TargetGroupDocument.parseJSON(Array("[]".utf8), sourcePrefix: "f", extraLabel: label)) == [])
    }

    @Test func reloadsOnChangeKeepsLastGoodOnErrorAndDropsDeletedFiles() async throws {
        defer { cleanup() }
        try await write("a.json", #"[{"targets": ["a:1"]}]"#)
        try await write("b.yaml", "- targets: ['b:1']\n")
        let published = PublishedGroups()
        let provider = FileSDProvider(
            configs: [FileSDConfig(files: [dir + "/*.json"]), FileSDConfig(files: [dir + "/*.yaml"], refreshInterval: .seconds(3600))],
            logger: quietLogger, pollInterval: .milliseconds(50))
        let task = Task { await provider.run { published.set($0) } }
        defer { task.cancel() }

        #expect(await eventually { published.addressesBySource == [dir + "/a.json:0": ["a:1"], dir + "/b.yaml:0": ["b:1"]] })

        // A change is picked up without waiting for the refresh interval.
        try await write("a.json", #"[{"targets": ["a:1", "a:2"]}, {"targets": ["a:3"]}]"#)
        #expect(await eventually { published.addressesBySource[dir + "/a.json:1"] == ["a:3"] })
        #expect(published.addressesBySource[dir + "/a.json:0"] == ["a:1", "a:2"])

        // A new file matching the glob appears.
        try await write("c.json", #"[{"targets": ["c:1"], "labels": {"team": "x"}}]"#)
        #expect(await eventually { published.addressesBySource[dir + "/c.json:0"] == ["c:1"] })

        // A malformed file keeps its last good groups; the error is counted.
        try await write("a.json", #"[{"targets": ["broken"#)
        #expect(await eventually { provider.readErrors.value == 1 })
        #expect(published.addressesBySource[dir + "/a.json:0"] == ["a:1", "a:2"])
        #expect(published.addressesBySource[dir + "/a.json:1"] == ["a:3"])

        // Fixed again: the new content wins.
        try await write("a.json", #"[{"targets": ["a:9"]}]"#)
        #expect(await eventually { published.addressesBySource[dir + "/a.json:0"] == ["a:9"] })
        #expect(published.addressesBySource[dir + "/a.json:1"] == nil)

        // Deleting a file removes its groups.
        try await remove("c.json")
        #expect(await eventually { published.addressesBySource[dir + "/c.json:0"] == nil })
        try await remove("b.yaml")
        #expect(await eventually { published.addressesBySource == [dir + "/a.json:0": ["a:9"]] })
        #expect(provider.readErrors.value == 1)
    }

    @Test func refreshIntervalRereadsEvenWithoutChangeDetection() async throws {
        defer { cleanup() }
        try await write("a.json", #"[{"targets": ["a:1"]}]"#)
        let published = PublishedGroups()
        // Polling is effectively off; only the refresh interval re-reads.
        let provider = FileSDProvider(
            configs: [FileSDConfig(files: [dir + "/a.json"], refreshInterval: .milliseconds(100))], logger: quietLogger,
            pollInterval: .seconds(3600))
        let task = Task { await provider.run { published.set($0) } }
        defer { task.cancel() }
        #expect(await eventually { published.addressesBySource == [dir + "/a.json:0": ["a:1"]] })
        try await write("a.json", #"[{"targets": ["a:2"]}]"#)
        #expect(await eventually { published.addressesBySource == [dir + "/a.json:0": ["a:2"]] })
    }

    @Test func globMatchesOnlyTheLastElement() async throws {
        defer { cleanup() }
        try await write("x1.json", "[]")
        try await write("x2.json", "[]")
        try await write("y.json", "[]")
        let matches = try await offPool { FileSDProvider.glob(dir + "/x*.json") }
        #expect(matches == [dir + "/x1.json", dir + "/x2.json"])
        let literal = try await offPool { (FileSDProvider.glob(dir + "/y.json"), FileSDProvider.glob(dir + "/missing.json")) }
        #expect(literal.0 == [dir + "/y.json"])
        #expect(literal.1 == [])
    }
}
