// Stable hashing used by allocation. Everything here is part of the on-the-wire contract:
// every replica and every version must compute the same values, so nothing may depend on
// the process (Swift's `Hasher` is seeded per process), the platform's libm, or the CPU.

/// xxHash64 (Yann Collet's specification), the same function upstream uses for target hashes.
enum XXH64 {
    static let p1: UInt64 = 11_400_714_785_074_694_791
    static let p2: UInt64 = 14_029_467_366_897_019_727
    static let p3: UInt64 = 1_609_587_929_392_839_161
    static let p4: UInt64 = 9_650_029_242_287_828_579
    static let p5: UInt64 = 2_870_177_450_012_600_261

    @inline(__always) static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }
    @inline(__always) static func round(_ acc: UInt64, _ input: UInt64) -> UInt64 {
        rotl(acc &+ input &* p2, 31) &* p1
    }
    @inline(__always) static func merge(_ acc: UInt64, _ val: UInt64) -> UInt64 {
        (acc ^ round(0, val)) &* p1 &+ p4
    }

    static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        let count = bytes.count
        var i = 0
        @inline(__always) func read64(_ at: Int) -> UInt64 {
            UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self))
        }
        var h: UInt64
        if count >= 32 {
            var v1 = seed &+ p1 &+ p2, v2 = seed &+ p2, v3 = seed, v4 = seed &- p1
            while i + 32 <= count {
                v1 = round(v1, read64(i)); v2 = round(v2, read64(i + 8))
                v3 = round(v3, read64(i + 16)); v4 = round(v4, read64(i + 24))
                i += 32
            }
            h = rotl(v1, 1) &+ rotl(v2, 7) &+ rotl(v3, 12) &+ rotl(v4, 18)
            h = merge(h, v1); h = merge(h, v2); h = merge(h, v3); h = merge(h, v4)
        } else {
            h = seed &+ p5
        }
        h = h &+ UInt64(count)
        while i + 8 <= count {
            h ^= round(0, read64(i))
            h = rotl(h, 27) &* p1 &+ p4
            i += 8
        }
        if i + 4 <= count {
            let w = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt32.self))
            h ^= UInt64(w) &* p1
            h = rotl(h, 23) &* p2 &+ p3
            i += 4
        }
        while i < count {
            h ^= UInt64(bytes[i]) &* p5
            h = rotl(h, 11) &* p1
            i += 1
        }
        h ^= h >> 33; h = h &* p2
        h ^= h >> 29; h = h &* p3
        h ^= h >> 32
        return h
    }

    static func hash(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 {
        bytes.withUnsafeBytes { hash($0, seed: seed) }
    }

    static func hash(_ string: String, seed: UInt64 = 0) -> UInt64 {
        var s = string
        return s.withUTF8 { hash(UnsafeRawBufferPointer($0), seed: seed) }
    }
}

/// The 64-bit finaliser of SplitMix64 / Murmur3 (Stafford's variant 13): a bijection with full avalanche.
@inline(__always) func mix64(_ x: UInt64) -> UInt64 {
    var z = x
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// `ln(1 + j/64)` for j in 0..<64, computed once with `portableLog`.
let logTable: [Double] = (0..<64).map { portableLog(1 + Double($0) / 64) }

/// Fast natural logarithm of `u` in (0, 1): a table step and a short series, still only IEEE-754
/// basic operations, so it is bit-identical everywhere.
@inline(__always) func fastLog(_ u: Double) -> Double {
    let e = Double(Int(u.exponent))
    let m = u.significand  // [1, 2)
    let j = Int((m - 1) * 64)  // 0..<64
    let base = 1 + Double(j) * 0.015625
    let r = m / base  // [1, 1 + 1/64)
    let s = (r - 1) / (r + 1)  // < 0.0078
    let s2 = s * s
    let series = s * (1 + s2 * (0.333_333_333_333_333_3 + s2 * (0.2 + s2 * 0.142_857_142_857_142_85)))
    return logTable[j] + 2 * series + e * 0.693_147_180_559_945_3
}

/// Natural logarithm of a positive finite `x`, using only IEEE-754 basic operations (exactly
/// rounded everywhere), so the result is bit-identical on every platform, unlike libm's `log`.
/// Accuracy is a few ulps, far more than the weighted rendezvous score needs; what matters is
/// that every replica computes the same bits.
func portableLog(_ x: Double) -> Double {
    var e = Double(Int(x.exponent))
    var m = x.significand  // [1, 2)
    if m > 1.414_213_562_373_095_1 {
        m *= 0.5
        e += 1
    }
    // ln m = 2·atanh(s), s = (m−1)/(m+1), |s| ≤ 0.1716
    let s = (m - 1) / (m + 1)
    let s2 = s * s
    var term = s
    var sum = s
    var k = 3.0
    for _ in 0..<12 {
        term *= s2
        sum += term / k
        k += 2
    }
    return 2 * sum + e * 0.693_147_180_559_945_3
}
