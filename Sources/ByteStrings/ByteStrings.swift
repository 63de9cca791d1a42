// Labels are bytes. Swift's `String` `==`, `<` and `hash(into:)` follow Unicode canonical
// equivalence ("é" U+00E9 equals "e\u{301}", "Å" U+00C5 equals the Ångström sign U+212B);
// Prometheus and Go compare the UTF-8 bytes. Everything that compares, orders, hashes or keys by
// label names or values (or job and collector names) goes through these instead.
#if canImport(Glibc)
public import Glibc  // memcmp, used by the inlinable functions below
#elseif canImport(Darwin)
public import Darwin
#endif

extension String {
    /// True when both strings have the same UTF-8 bytes.
    @inlinable
    public func bytesEqual(_ other: String) -> Bool {
        // The same 16-byte representation (a copy sharing one buffer, or the same small string)
        // holds the same bytes, as the standard library's own `==` checks first: the usual hit in
        // the snapshot codec's per-position cache, decided without reading the bytes (about half
        // the cost of the memcmp path below in a -O micro-benchmark).
        let same = withUnsafeBytes(of: self) { x in withUnsafeBytes(of: other) { y in memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 } }
        if same { return true }
        let n = utf8.count
        guard n == other.utf8.count else { return false }
        return withBytes { a in other.withBytes { b in n == 0 || memcmp(a.baseAddress!, b.baseAddress!, n) == 0 } }
    }

    /// Byte-wise (UTF-8) order, which is Go's string order and code point order.
    @inlinable
    public func bytesPrecede(_ other: String) -> Bool { bytesCompare(other) < 0 }

    /// Byte-wise (UTF-8) three-way comparison: negative, zero or positive as `self` sorts before,
    /// equal to or after `other`. One pass where a merge would otherwise ask `bytesPrecede` and
    /// `bytesEqual` in turn.
    @inlinable
    public func bytesCompare(_ other: String) -> Int {
        withBytes { a in
            other.withBytes { b in
                let n = min(a.count, b.count)
                let c = n == 0 ? 0 : memcmp(a.baseAddress!, b.baseAddress!, n)
                return c != 0 ? Int(c) : a.count - b.count
            }
        }
    }

    /// True when the UTF-8 bytes begin with `prefix`'s: one `memcmp`, where `utf8.starts(with:)`
    /// walks both sequences through the generic collection path.
    @inlinable
    public func bytesHavePrefix(_ prefix: String) -> Bool {
        withBytes { a in
            prefix.withBytes { p in
                a.count >= p.count && (p.isEmpty || memcmp(a.baseAddress!, p.baseAddress!, p.count) == 0)
            }
        }
    }

    /// Feeds the UTF-8 bytes (and their count, so that a sequence of strings hashes unambiguously).
    @inlinable
    public func hashBytes(into hasher: inout Hasher) {
        withBytes { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        hasher.combine(utf8.count)
    }

    /// The UTF-8 bytes without a copy for native strings (bridged ones are copied once).
    @inlinable
    public func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        if let r = try utf8.withContiguousStorageIfAvailable(body) { return r }
        return try Array(utf8).withUnsafeBufferPointer(body)
    }
}

/// A `String` as a dictionary key or set element with byte-exact equality, hashing and order.
public struct ByteKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let string: String

    @inlinable public init(_ string: String) { self.string = string }

    @inlinable public static func == (a: ByteKey, b: ByteKey) -> Bool { a.string.bytesEqual(b.string) }
    @inlinable public static func < (a: ByteKey, b: ByteKey) -> Bool { a.string.bytesPrecede(b.string) }
    @inlinable public func hash(into hasher: inout Hasher) { string.hashBytes(into: &hasher) }

    public var description: String { string }
}
