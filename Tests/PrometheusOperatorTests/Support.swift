import JSON
import PrometheusOperator
import Testing

func json(_ text: String) -> JSONValue {
    do {
        return try JSONValue.parse(text)
    } catch {
        Issue.record("bad test JSON: \(error)\n\(text)")
        return .null
    }
}

/// Settings matching prometheus-operator's unit tests: everything selected, so outputs compare
/// with the golden files as written.
func goldenSettings(role: OperatorSettings.EndpointRole = .endpoints) -> OperatorSettings {
    var s = OperatorSettings()
    s.serviceMonitorSelector = .everything
    s.podMonitorSelector = .everything
    s.probeSelector = .everything
    s.scrapeConfigSelector = .everything
    s.serviceDiscoveryRole = role
    s.collectorNamespace = "default"
    return s
}

/// Secret and ConfigMap keys by `namespace/name/key`, each kind looked up only among its own.
func secretStore(_ values: [String: String], configMaps: [String: String] = [:]) -> SecretLookup {
    { ref in (ref.kind == .secret ? values : configMaps)["\(ref.namespace)/\(ref.name)/\(ref.key)"] }
}

/// A resource object with metadata and spec.
func resource(_ kind: String, ns: String = "default", name: String, labels: [String: String] = [:], spec: String) -> JSONValue {
    let labelJSON = labels.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ",")
    return json(#"{"apiVersion":"monitoring.coreos.com/v1","kind":"\#(kind)","metadata":{"namespace":"\#(ns)","name":"\#(name)","labels":{\#(labelJSON)}},"spec":\#(spec)}"#)
}

/// Reports the first differing path, which reads better than two long JSON lines.
func firstDifference(_ a: JSONValue, _ b: JSONValue, path: String = "$") -> String? {
    switch (a, b) {
    case (.object(let x), .object(let y)):
        if x.map(\.key) != y.map(\.key) { return "\(path): keys \(x.map(\.key)) vs \(y.map(\.key))" }
        for (m, n) in zip(x, y) {
            if let d = firstDifference(m.value, n.value, path: "\(path).\(m.key)") { return d }
        }
        return nil
    case (.array(let x), .array(let y)):
        if x.count != y.count { return "\(path): \(x.count) items vs \(y.count)" }
        for (i, (m, n)) in zip(x, y).enumerated() {
            if let d = firstDifference(m, n, path: "\(path)[\(i)]") { return d }
        }
        return nil
    default:
        return a == b ? nil : "\(path): \(a.serialized) vs \(b.serialized)"
    }
}

func expectSame(_ got: JSONValue?, _ want: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let got else {
        Issue.record("no job generated", sourceLocation: sourceLocation)
        return
    }
    if let d = firstDifference(got, want) {
        Issue.record("differs at \(d)\n got: \(got.serialized)\nwant: \(want.serialized)", sourceLocation: sourceLocation)
    }
}
