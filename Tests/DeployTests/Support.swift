import Foundation
import JSON
import KubernetesEmulator
import Testing
import TestSupport
import Yams

@testable import TargetAllocator

#if canImport(Glibc)
import Glibc
#endif

/// The repository's `deploy/` folder (found from this file, so any working directory works).
let deployDirectory: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("deploy")

func deployPath(_ relative: String) -> String { deployDirectory.appendingPathComponent(relative).path }

struct DeployTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

// MARK: - YAML

/// Every document of a YAML stream as JSON (YAML 1.1 core types, as `kubectl` reads them).
func parseYAMLDocuments(_ text: String, file: String = "") throws -> [JSONValue] {
    var documents: [JSONValue] = []
    do {
        for node in try Yams.compose_all(yaml: text) { documents.append(AllocatorConfig.json(node)) }
    } catch {
        throw DeployTestError("\(file): not valid YAML: \(error)")
    }
    return documents.filter { $0 != .null }
}

extension JSONValue {
    var fields: [JSONMember]? {
        if case .object(let m) = self { return m }
        return nil
    }

    var keys: [String] { fields?.map(\.key) ?? [] }

    /// An object of strings (labels, selectors, ConfigMap data) as a dictionary.
    var stringDictionary: [String: String]? {
        guard let fields else { return nil }
        var out: [String: String] = [:]
        for m in fields {
            guard let s = m.value.stringValue else { return nil }
            out[m.key] = s
        }
        return out
    }

    var strings: [String] { arrayValue?.compactMap(\.stringValue) ?? [] }
    var kind: String { self["kind"]?.stringValue ?? "" }
    var apiVersion: String { self["apiVersion"]?.stringValue ?? "" }
    var name: String { at("metadata", "name")?.stringValue ?? "" }
    var namespace: String? { at("metadata", "namespace")?.stringValue }
    var int: Int? { integerValue.map { Int($0) } }
}

// MARK: - rendering with the real kustomize (inside kubectl)

/// `kubectl kustomize DIR`, parsed.
func kustomize(_ relative: String) async throws -> [JSONValue] {
    let result = try await runTool("kubectl", ["kustomize", deployPath(relative)], timeout: 60)
    guard result.status == 0 else { throw DeployTestError("kubectl kustomize \(relative): \(result.stderr)") }
    return try parseYAMLDocuments(result.stdout, file: "kubectl kustomize \(relative)")
}

extension [JSONValue] {
    func only(_ kind: String) throws -> JSONValue {
        let found = filter { $0.kind == kind }
        guard found.count == 1 else { throw DeployTestError("expected exactly one \(kind), found \(found.count)") }
        return found[0]
    }
}

// MARK: - the allocator workload, read from the rendered manifests

/// The pieces of a rendered allocator install the tests keep coming back to.
struct RenderedInstall {
    let objects: [JSONValue]
    let deployment: JSONValue
    let container: JSONValue
    let namespace: String
    /// `--config-file` from the container's args.
    let configFile: String
    /// The config file's text, from the ConfigMap volume mounted over the config file's folder.
    let configText: String
    let config: JSONValue

    init(_ objects: [JSONValue]) throws {
        self.objects = objects
        deployment = try objects.only("Deployment")
        let containers = deployment.at("spec", "template", "spec", "containers")?.arrayValue ?? []
        guard let container = containers.first(where: { $0["name"]?.stringValue == "target-allocator" }) else {
            throw DeployTestError("no target-allocator container")
        }
        self.container = container
        guard let namespace = deployment.namespace else { throw DeployTestError("the Deployment has no namespace") }
        self.namespace = namespace
        let args = container["args"]?.strings ?? []
        guard let configFile = flagValue(args, "--config-file") else { throw DeployTestError("the container passes no --config-file") }
        self.configFile = configFile
        let folder = (configFile as NSString).deletingLastPathComponent
        let key = (configFile as NSString).lastPathComponent
        guard let mount = (container["volumeMounts"]?.arrayValue ?? []).first(where: { $0["mountPath"]?.stringValue == folder }) else {
            throw DeployTestError("no volume is mounted at \(folder)")
        }
        let volumes = deployment.at("spec", "template", "spec", "volumes")?.arrayValue ?? []
        guard let configMapName = volumes.first(where: { $0["name"] == mount["name"] })?.at("configMap", "name")?.stringValue else {
            throw DeployTestError("\(folder) is not a ConfigMap volume")
        }
        guard let configMap = objects.first(where: { $0.kind == "ConfigMap" && $0.name == configMapName && $0.namespace == namespace }),
            let text = configMap.at("data", key)?.stringValue
        else {
            throw DeployTestError("the ConfigMap \(configMapName) with the key \(key) is not part of the install")
        }
        configText = text
        guard let config = try parseYAMLDocuments(text, file: configFile).first else { throw DeployTestError("\(configFile) is empty") }
        self.config = config
    }

    var podSpec: JSONValue { deployment.at("spec", "template", "spec") ?? .null }
    var podLabels: [String: String] { deployment.at("spec", "template", "metadata", "labels")?.stringDictionary ?? [:] }
    var serviceAccount: String { podSpec["serviceAccountName"]?.stringValue ?? "default" }
    var args: [String] { container["args"]?.strings ?? [] }

    /// The container port with this name.
    func containerPort(named name: String) -> Int? {
        (container["ports"]?.arrayValue ?? []).first { $0["name"]?.stringValue == name }?["containerPort"]?.int
    }

    /// The Secret volume mounted at a folder that holds `path`, if any.
    func secretMounted(over path: String) -> String? {
        let mounts = container["volumeMounts"]?.arrayValue ?? []
        guard let mount = mounts.first(where: { m in m["mountPath"]?.stringValue.map { path.hasPrefix($0 + "/") } ?? false }) else { return nil }
        let volumes = podSpec["volumes"]?.arrayValue ?? []
        return volumes.first { $0["name"] == mount["name"] }?.at("secret", "secretName")?.stringValue
    }
}

/// The value of `--flag=value` or `--flag value`.
func flagValue(_ args: [String], _ flag: String) -> String? {
    for (i, a) in args.enumerated() {
        if a.hasPrefix(flag + "=") { return String(a.dropFirst(flag.count + 1)) }
        if a == flag, i + 1 < args.count { return args[i + 1] }
    }
    return nil
}

/// The port of a listen address such as `:8080` or `0.0.0.0:8443`.
func port(ofListenAddress address: String) -> Int? {
    address.split(separator: ":").last.flatMap { Int($0) }
}

/// A Prometheus-style duration (`15s`, `1m30s`, `500ms`) in seconds.
func seconds(_ text: String?) -> Double? {
    guard let text, !text.isEmpty else { return nil }
    var rest = Substring(text)
    let units: [(String, Double)] = [("ms", 0.001), ("h", 3600), ("m", 60), ("s", 1)]
    var total = 0.0
    while !rest.isEmpty {
        let digits = rest.prefix { $0.isASCII && $0.isNumber }
        guard let n = Double(String(digits)), let unit = units.first(where: { rest.dropFirst(digits.count).hasPrefix($0.0) }) else { return nil }
        rest = rest.dropFirst(digits.count + unit.0.count)
        total += n * unit.1
    }
    return total
}

/// Whether a label selector (either spelling of matchLabels/matchExpressions) selects `labels`.
func selects(_ selector: JSONValue?, _ labels: [String: String]) -> Bool {
    guard let selector else { return false }
    for (k, v) in selector["matchLabels"]?.stringDictionary ?? selector["matchlabels"]?.stringDictionary ?? [:] where labels[k] != v {
        return false
    }
    for e in selector["matchExpressions"]?.arrayValue ?? selector["matchexpressions"]?.arrayValue ?? [] {
        let key = e["key"]?.stringValue ?? ""
        let values = e["values"]?.strings ?? []
        switch e["operator"]?.stringValue {
        case "In": if !values.contains(labels[key] ?? "\u{0}") { return false }
        case "NotIn": if let v = labels[key], values.contains(v) { return false }
        case "Exists": if labels[key] == nil { return false }
        case "DoesNotExist": if labels[key] != nil { return false }
        default: return false
        }
    }
    return true
}

// MARK: - processes

/// The executable next to the test bundle (same build directory), or the one env
/// `DEPLOY_TEST_<NAME>` names (say, a release build): `DEPLOY_TEST_TARGET_ALLOCATOR`.
func builtExecutable(_ name: String) -> String? {
    let variable = "DEPLOY_TEST_" + name.uppercased().replacingOccurrences(of: "-", with: "_")
    if let path = ProcessInfo.processInfo.environment[variable], FileManager.default.isExecutableFile(atPath: path) { return path }
    var url = Bundle.main.bundleURL
    for _ in 0..<4 {
        let candidate = url.appendingPathComponent(name).path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue,
            FileManager.default.isExecutableFile(atPath: candidate)
        {
            return candidate
        }
        url = url.deletingLastPathComponent()
    }
    return nil
}

/// A TCP port nobody listens on right now (bound and released).
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw DeployTestError("socket: errno \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw DeployTestError("bind: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// GET with the real curl: (HTTP status, body); status 0 when nothing answered.
func httpGet(_ url: String) async -> (status: Int, body: String) {
    guard let result = try? await runTool("curl", ["-s", "--max-time", "3", "-w", "\n%{http_code}", url], timeout: 10) else { return (0, "") }
    var lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
    let status = Int(lines.popLast() ?? "") ?? 0
    return (status, lines.joined(separator: "\n"))
}

/// Carries a non-Sendable value out of `offPool` (it is not shared afterwards).
final class UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
