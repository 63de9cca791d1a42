import Testing
import Relabel

@Suite struct MD5Tests {
    // RFC 1321, appendix A.5.
    static let vectors: [(String, String)] = [
        ("", "d41d8cd98f00b204e9800998ecf8427e"),
        ("a", "0cc175b9c0f1b6a831c399e269772661"),
        ("abc", "900150983cd24fb0d6963f7d28e17f72"),
        ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
        ("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"),
        ("12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"),
    ]

    @Test(arguments: vectors)
    func rfc1321(input: String, digest: String) {
        #expect(MD5.hex(input) == digest)
    }

    @Test func blockBoundaries() {
        // 55, 56, 63, 64 and 65 bytes exercise the padding branches; compare against known digests.
        #expect(MD5.hex(String(repeating: "a", count: 55)) == "ef1772b6dff9a122358552954ad0df65")
        #expect(MD5.hex(String(repeating: "a", count: 56)) == "3b0c8ac703f828b04c6c197006d17218")
        #expect(MD5.hex(String(repeating: "a", count: 64)) == "014842d480b571495a4a0363793f7367")
        #expect(MD5.hex(String(repeating: "a", count: 65)) == "c743a45e0d2e6a95cb859adae0248435")
        #expect(MD5.hex("The quick brown fox jumps over the lazy dog") == "9e107d9d372bb6826bd81d3542a419d6")
    }

    /// Big-endian UInt64 of digest bytes 8..<16, computed from the hex text independently of `Relabeler`.
    static func lastEightBytes(_ hex: String) -> UInt64 { UInt64(String(hex.suffix(16)), radix: 16)! }

    @Test func hashmodUsesTheLastEightBytesBigEndian() {
        for (input, digest) in Self.vectors {
            for modulus: UInt64 in [1, 2, 3, 7, 1000, 1 << 40, UInt64.max] {
                #expect(Relabeler.hashmod(input, modulus: modulus) == Self.lastEightBytes(digest) % modulus)
            }
        }
        // The values from Prometheus's own relabel tests.
        #expect(Relabeler.hashmod("baz", modulus: 1000) == 976)
        #expect(Relabeler.hashmod("foo\nbar", modulus: 1000) == 734)
    }
}
