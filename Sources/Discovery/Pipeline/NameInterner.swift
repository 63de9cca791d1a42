import ByteStrings

/// Shares one copy of each label name across all targets: a pod target has some thirty names
/// of forty-odd bytes, each built afresh by discovery, which would otherwise be kept once per
/// target. Keyed by UTF-8 bytes, never by Swift's canonical equivalence (which would hand back
/// another spelling of a name).
struct NameInterner {
    private var table: [ByteKey: String] = [:]

    mutating func intern(_ name: String) -> String {
        // Small names live inside the String value itself: nothing to share.
        if name.utf8.count <= 15 { return name }
        let key = ByteKey(name)
        if let shared = table[key] { return shared }
        table[key] = name
        return name
    }

    var count: Int { table.count }
}
