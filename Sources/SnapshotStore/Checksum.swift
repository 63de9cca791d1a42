import CZlib

/// CRC-32 (zlib's, as in gzip): catches truncated or corrupted chunks.
enum Checksum {
    static func crc32(_ bytes: some Collection<UInt8>) -> UInt32 {
        var crc: UInt = 0
        if let value = bytes.withContiguousStorageIfAvailable({ buffer -> UInt in
            CZlib.crc32(0, buffer.baseAddress, UInt32(buffer.count))
        }) {
            crc = value
        } else {
            let copy = Array(bytes)
            crc = copy.withUnsafeBufferPointer { CZlib.crc32(0, $0.baseAddress, UInt32($0.count)) }
        }
        return UInt32(truncatingIfNeeded: crc)
    }
}

/// Raw deflate through zlib with a hard output bound, so a hostile or corrupt snapshot
/// cannot make a replica allocate without limit.
enum Deflate {
    enum Failure: Error { case zlib(Int32), tooLarge(Int) }

    static func compress(_ input: [UInt8], level: Int32 = 6) throws -> [UInt8] {
        try compress([input], level: level)
    }

    /// Compresses the concatenation of `segments`, without building it.
    static func compress(_ segments: [[UInt8]], level: Int32 = 6) throws -> [UInt8] {
        var stream = z_stream()
        var rc = deflateInit2_(&stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else { throw Failure.zlib(rc) }
        defer { deflateEnd(&stream) }
        let total = segments.reduce(0) { $0 + $1.count }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(total))) + 16)
        rc = output.withUnsafeMutableBufferPointer { outBuf in
            stream.next_out = outBuf.baseAddress
            stream.avail_out = UInt32(outBuf.count)
            for segment in segments where !segment.isEmpty {
                let rc = segment.withUnsafeBufferPointer { inBuf in
                    stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
                    stream.avail_in = UInt32(inBuf.count)
                    return deflate(&stream, Z_NO_FLUSH)
                }
                // The output has room for everything, so each segment is taken whole.
                guard rc == Z_OK, stream.avail_in == 0 else { return rc == Z_OK ? Z_BUF_ERROR : rc }
            }
            stream.next_in = nil
            stream.avail_in = 0
            return deflate(&stream, Z_FINISH)
        }
        guard rc == Z_STREAM_END else { throw Failure.zlib(rc) }
        output.removeLast(output.count - Int(stream.total_out))
        return output
    }

    static func decompress(_ input: [UInt8], expectedSize: Int, limit: Int) throws -> [UInt8] {
        guard expectedSize <= limit else { throw Failure.tooLarge(expectedSize) }
        var stream = z_stream()
        var rc = inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else { throw Failure.zlib(rc) }
        defer { inflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: expectedSize + 1)
        rc = input.withUnsafeBufferPointer { inBuf in
            output.withUnsafeMutableBufferPointer { outBuf in
                stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
                stream.avail_in = UInt32(inBuf.count)
                stream.next_out = outBuf.baseAddress
                stream.avail_out = UInt32(outBuf.count)
                return inflate(&stream, Z_FINISH)
            }
        }
        // Exactly the announced size, no more (the spare byte must stay unused).
        guard rc == Z_STREAM_END, Int(stream.total_out) == expectedSize else { throw Failure.zlib(rc) }
        output.removeLast()
        return output
    }
}
