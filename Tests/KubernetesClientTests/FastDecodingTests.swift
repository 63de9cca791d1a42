import Foundation
import Testing

@testable import KubernetesClient

/// The hand-written pod decoder of watch events and lists gives what JSONDecoder gives, and
/// declines (leaving the line to JSONDecoder) whatever it does not take exactly.
@Suite struct FastDecodingTests {
    static let pod = #"""
        {"kind":"Pod","apiVersion":"v1","metadata":{"name":"web-0","generateName":"web-","namespace":"prod","uid":"u-1",
         "resourceVersion":"42","generation":3,"creationTimestamp":"2024-05-01T10:00:00Z","deletionTimestamp":null,
         "labels":{"app":"web","tier":"fr\"ont\\end \u00e9"},"annotations":{"a/b":"line\nbreak\t\/"},
         "ownerReferences":[{"apiVersion":"apps/v1","kind":"StatefulSet","name":"web","uid":"u-0","controller":true,"blockOwnerDeletion":false}],
         "finalizers":["x/y"],"managedFields":[{"manager":"kubectl","fieldsV1":{"f:spec":{}},"time":"2024-05-01T10:00:00Z"}]},
         "spec":{"nodeName":"node-1","hostNetwork":false,"priority":-5,"weights":[1.5e3,0,-0.25,true,null],
          "containers":[{"name":"app","image":"example/app:1","ports":[{"name":"metrics","containerPort":8080,"protocol":"TCP"},{"containerPort":9090}]}],
          "initContainers":[{"name":"init"}]},
         "status":{"phase":"Running","podIP":"10.0.0.1","hostIP":"192.168.0.1","startTime":"2024-05-01T10:00:01.5Z",
          "conditions":[{"type":"Ready","status":"True","lastTransitionTime":"2024-05-01T10:00:02+02:00"}],
          "containerStatuses":[{"name":"app","containerID":"containerd://abc","ready":true}],"initContainerStatuses":null}}
        """#

    func data(_ s: String) -> Data { Data(s.utf8) }

    @Test func podsDecodeAsJSONDecoderDecodesThem() throws {
        let expected = try JSONDecoder().decode(Pod.self, from: data(Self.pod))
        let line = data(#"{"type":"MODIFIED","object":"# + Self.pod + "}")
        let fast = try #require(line.withUnsafeBytes { JSONReader.watchEvent(Pod.self, $0) })
        guard case .modified(let pod) = fast else { Issue.record("\(fast)"); return }
        #expect(pod == expected)
        #expect(pod.metadata.labels?["tier"] == "fr\"ont\\end é" && pod.spec?.containers?.first?.ports?.count == 2)
        // The object may come before the type.
        let reordered = data(#"{"object":"# + Self.pod + #","type":"DELETED"}"#)
        guard case .deleted(let gone)? = reordered.withUnsafeBytes({ JSONReader.watchEvent(Pod.self, $0) }) else {
            Issue.record("reordered")
            return
        }
        #expect(gone == expected)

        let list = data(#"{"kind":"PodList","metadata":{"resourceVersion":"50","continue":"c1","remainingItemCount":7},"items":["# + Self.pod + "]}")
        let page = try #require(list.withUnsafeBytes { JSONReader.list(Pod.self, $0) })
        #expect(page.items == [expected] && page.metadata.resourceVersion == "50" && page.metadata.continue == "c1")
        #expect(page.metadata.remainingItemCount == 7)
        let empty = try #require(data(#"{"metadata":{},"items":null}"#).withUnsafeBytes { JSONReader.list(Pod.self, $0) })
        #expect(empty.items.isEmpty)
    }

    /// The pods of one list page share one copy of each long label and annotation key (an
    /// informer keeps every pod), and keys stay exactly the bytes given.
    @Test func longMapKeysAreSharedWithinAPage() throws {
        func pod(_ i: Int) -> String {
            #"{"metadata":{"name":"p\#(i)","labels":{"app.kubernetes.io/name":"v\#(i)","pod-template-hash":"h"},"annotations":{"prometheus.io/scrape":"true","cafe\#u{301}/key-longer":"x"}}}"#
        }
        let list = data(#"{"metadata":{"resourceVersion":"1"},"items":["# + (0..<40).map(pod).joined(separator: ",") + "]}")
        let page = try #require(list.withUnsafeBytes { JSONReader.list(Pod.self, $0) })
        #expect(page.items.count == 40)
        func storage(_ s: String) -> UnsafePointer<UInt8>? { s.utf8.withContiguousStorageIfAvailable { $0.baseAddress } ?? nil }
        for key in ["app.kubernetes.io/name", "pod-template-hash"] {
            let copies = Set(page.items.compactMap { $0.metadata.labels?.keys.first { $0 == key } }.map { storage($0) })
            #expect(copies.count == 1, "\(key): \(copies.count) copies")
        }
        for item in page.items {
            let keys = Set((item.metadata.annotations ?? [:]).keys.map { Array($0.utf8) })
            #expect(keys == [Array("prometheus.io/scrape".utf8), Array("cafe\u{301}/key-longer".utf8)])
        }
    }

    @Test func whatTheReaderDeclinesIsLeftToJSONDecoder() throws {
        let declined = [
            #"{"type":"ADDED","object":{"metadata":{"name":"\ud83d\ude00"}}}"#,  // surrogate pair
            #"{"type":"ADDED","object":{"metadata":{"n\u0061me":"a"}}}"#,  // escaped key
            #"{"type":"ADDED","object":{"metadata":{},"spec":{"containers":[{"name":"a","ports":[{"containerPort":8080.0}]}]}}}"#,
            #"{"type":"ADDED","object":{"spec":{}}}"#,  // no metadata
            #"{"type":"ADDED","object":{"metadata":{"name":"a"}}} x"#,  // trailing garbage
            #"{"type":"ADDED","object":{"metadata":{"name":"a",}}}"#,  // JSONDecoder takes trailing commas
            #"{"type":"ADDED","object":{"metadata":{"name":"a"}}"#,  // unterminated
            #"{"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"9"}}}"#,
            #"{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired"}}"#,
        ]
        for line in declined {
            #expect(data(line).withUnsafeBytes { JSONReader.watchEvent(Pod.self, $0) } == nil, "\(line)")
        }
        // Through decodeEvent they come out as JSONDecoder has them.
        let emoji = try KubernetesClient.decodeEvent(Pod.self, data(declined[0]))
        guard case .added(let pod) = emoji else { Issue.record("\(emoji)"); return }
        #expect(pod.name == "😀")
        #expect(try KubernetesClient.decodeEvent(Pod.self, data(declined[7])).resourceVersion == "9")
        for line in [declined[3], declined[6], #"{"type":"ADDED","object":{"metadata":{},"spec":{"containers":[{"image":"x"}]}}}"#] {
            #expect(throws: KubernetesError.self, "\(line)") { try KubernetesClient.decodeEvent(Pod.self, data(line)) }
        }
        // Kinds without a hand-written decoder take JSONDecoder's path.
        #expect(data(#"{"type":"ADDED","object":{"metadata":{"name":"a"}}}"#).withUnsafeBytes { JSONReader.watchEvent(ConfigMap.self, $0) } == nil)
    }
}
