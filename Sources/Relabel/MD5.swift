/// A small MD5 (RFC 1321), used only by the `hashmod` relabel action.
///
/// MD5 is not used for security here: Prometheus hashes the joined source label values with it and
/// we must produce the same shard numbers.
public enum MD5 {
    private static let shifts: [UInt32] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
        5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
        4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
        6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ]

    /// `floor(abs(sin(i + 1)) * 2^32)`, from RFC 1321 section 3.4.
    private static let table: [UInt32] = [
        0xd76a_a478, 0xe8c7_b756, 0x2420_70db, 0xc1bd_ceee, 0xf57c_0faf, 0x4787_c62a, 0xa830_4613, 0xfd46_9501,
        0x6980_98d8, 0x8b44_f7af, 0xffff_5bb1, 0x895c_d7be, 0x6b90_1122, 0xfd98_7193, 0xa679_438e, 0x49b4_0821,
        0xf61e_2562, 0xc040_b340, 0x265e_5a51, 0xe9b6_c7aa, 0xd62f_105d, 0x0244_1453, 0xd8a1_e681, 0xe7d3_fbc8,
        0x21e1_cde6, 0xc337_07d6, 0xf4d5_0d87, 0x455a_14ed, 0xa9e3_e905, 0xfcef_a3f8, 0x676f_02d9, 0x8d2a_4c8a,
        0xfffa_3942, 0x8771_f681, 0x6d9d_6122, 0xfde5_380c, 0xa4be_ea44, 0x4bde_cfa9, 0xf6bb_4b60, 0xbebf_bc70,
        0x289b_7ec6, 0xeaa1_27fa, 0xd4ef_3085, 0x0488_1d05, 0xd9d4_d039, 0xe6db_99e5, 0x1fa2_7cf8, 0xc4ac_5665,
        0xf429_2244, 0x432a_ff97, 0xab94_23a7, 0xfc93_a039, 0x655b_59c3, 0x8f0c_cc92, 0xffef_f47d, 0x8584_5dd1,
        0x6fa8_7e4f, 0xfe2c_e6e0, 0xa301_4314, 0x4e08_11a1, 0xf753_7e82, 0xbd3a_f235, 0x2ad7_d2bb, 0xeb86_d391,
    ]

    /// The 16-byte digest of `bytes`.
    public static func digest<Bytes: Collection>(_ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        let state = rawDigest(bytes)
        var out = [UInt8]()
        out.reserveCapacity(16)
        for word in [state.0, state.1, state.2, state.3] {
            for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: word >> (8 * UInt32(i)))) }
        }
        return out
    }

    /// Digest bytes 8..<16 read as a big-endian integer (what `hashmod` uses), without allocating the digest.
    public static func lastEightBytesBigEndian<Bytes: Collection>(_ bytes: Bytes) -> UInt64 where Bytes.Element == UInt8 {
        let state = rawDigest(bytes)
        // Bytes 8..<12 are state.2 little-endian, 12..<16 are state.3 little-endian.
        return UInt64(state.2.byteSwapped) << 32 | UInt64(state.3.byteSwapped)
    }

    static func rawDigest<Bytes: Collection>(_ bytes: Bytes) -> (UInt32, UInt32, UInt32, UInt32) where Bytes.Element == UInt8 {
        var state: (UInt32, UInt32, UInt32, UInt32) = (0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476)
        var block = [UInt8](repeating: 0, count: 64)
        var fill = 0
        var length: UInt64 = 0
        for byte in bytes {
            block[fill] = byte
            fill += 1
            length &+= 1
            if fill == 64 {
                compress(block, &state)
                fill = 0
            }
        }
        // Padding: 0x80, zeros up to 56 mod 64, then the bit length little-endian.
        block[fill] = 0x80
        fill += 1
        if fill > 56 {
            while fill < 64 { block[fill] = 0; fill += 1 }
            compress(block, &state)
            fill = 0
        }
        while fill < 56 { block[fill] = 0; fill += 1 }
        let bits = length &* 8
        for i in 0..<8 { block[56 + i] = UInt8(truncatingIfNeeded: bits >> (8 * UInt64(i))) }
        compress(block, &state)
        return state
    }

    /// The digest of the UTF-8 bytes of `string`.
    public static func digest(_ string: String) -> [UInt8] { digest(string.utf8) }

    /// Lower-case hexadecimal digest, handy for tests.
    public static func hex(_ string: String) -> String {
        let digits = Array("0123456789abcdef")
        var s = ""
        for b in digest(string) {
            s.append(digits[Int(b >> 4)])
            s.append(digits[Int(b & 0xf)])
        }
        return s
    }

    private static func compress(_ block: [UInt8], _ state: inout (UInt32, UInt32, UInt32, UInt32)) {
        @inline(__always) func m(_ i: Int) -> UInt32 {
            UInt32(block[4 * i]) | UInt32(block[4 * i + 1]) << 8 | UInt32(block[4 * i + 2]) << 16
                | UInt32(block[4 * i + 3]) << 24
        }
        var (a, b, c, d) = state
        for i in 0..<64 {
            var f: UInt32
            let g: Int
            switch i {
            case 0..<16:
                f = (b & c) | (~b & d)
                g = i
            case 16..<32:
                f = (d & b) | (~d & c)
                g = (5 &* i &+ 1) % 16
            case 32..<48:
                f = b ^ c ^ d
                g = (3 &* i &+ 5) % 16
            default:
                f = c ^ (b | ~d)
                g = (7 &* i) % 16
            }
            f = f &+ a &+ table[i] &+ m(g)
            a = d
            d = c
            c = b
            let s = shifts[i]
            b = b &+ ((f << s) | (f >> (32 - s)))
        }
        state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d)
    }
}
