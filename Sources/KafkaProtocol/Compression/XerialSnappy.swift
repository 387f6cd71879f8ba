import CTernCompression
import NIOCore

/// Snappy as Kafka clients write it. Java's producer uses xerial's SnappyOutputStream framing:
/// ```
/// header: 0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00, version int32 (1), compatible version int32 (1)
/// then blocks: [compressed length int32][raw snappy block], each block at most 32 KiB uncompressed
/// ```
/// librdkafka and other clients may write one raw snappy block instead; decoding takes either.
enum XerialSnappy {
    static let magic: [UInt8] = [0x82, 0x53, 0x4E, 0x41, 0x50, 0x50, 0x59, 0x00]
    static let headerSize = 16
    /// SnappyOutputStream's default block size.
    static let blockSize = 32 * 1024

    static func isFramed(_ input: ByteBuffer) -> Bool {
        guard input.readableBytes >= headerSize,
              let head = input.getBytes(at: input.readerIndex, length: magic.count) else { return false }
        return head == magic
    }

    static func encode(_ input: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        var input = input
        let blocks = max(1, (input.readableBytes + blockSize - 1) / blockSize)
        var output = allocator.buffer(capacity: headerSize + blocks * (4 + tern_compress_bound(2, blockSize)))
        output.writeBytes(magic)
        output.writeInteger(Int32(1))
        output.writeInteger(Int32(1))
        while input.readableBytes > 0 {
            let block = input.readSlice(length: min(blockSize, input.readableBytes))!
            let bound = tern_compress_bound(2, block.readableBytes)
            let lengthIndex = output.writerIndex
            output.writeInteger(Int32(0))
            var written = 0
            _ = block.withUnsafeReadableBytes { src in
                output.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { dst in
                    // Cannot fail: the destination has the library's worst-case size.
                    _ = tern_compress(2, 0, src.baseAddress, src.count, dst.baseAddress, dst.count, &written)
                    return written
                }
            }
            output.setInteger(Int32(written), at: lengthIndex)
        }
        return output
    }

    static func decode(_ input: ByteBuffer, maxOutputSize: Int, allocator: ByteBufferAllocator)
        throws(CompressionError) -> ByteBuffer
    {
        guard isFramed(input) else {
            var output = allocator.buffer(capacity: 0)
            try decodeRaw(input, into: &output, maxOutputSize: maxOutputSize)
            return output
        }
        var input = input
        input.moveReaderIndex(forwardBy: headerSize)
        var output = allocator.buffer(capacity: min(input.readableBytes * 3, maxOutputSize))
        while input.readableBytes > 0 {
            guard let length = input.readInteger(as: Int32.self), length >= 0,
                  let block = input.readSlice(length: Int(length))
            else { throw CompressionError(codec: .snappy, kind: .corrupt, detail: "truncated xerial block") }
            try decodeRaw(block, into: &output, maxOutputSize: maxOutputSize)
        }
        return output
    }

    /// Appends one raw snappy block to `output`, checking its stated length against the limit first.
    static func decodeRaw(_ block: ByteBuffer, into output: inout ByteBuffer, maxOutputSize: Int)
        throws(CompressionError)
    {
        var failure: CompressionError?
        block.withUnsafeReadableBytes { src in
            var length = 0
            guard tern_snappy_uncompressed_length(src.baseAddress, src.count, &length) == 0 else {
                failure = CompressionError(codec: .snappy, kind: .corrupt, detail: "bad block preamble")
                return
            }
            guard length <= maxOutputSize - output.readableBytes else {
                failure = CompressionError(codec: .snappy, kind: .outputTooLarge, detail: "limit \(maxOutputSize)")
                return
            }
            var status: Int32 = 0
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { dst in
                var written = 0
                status = tern_snappy_uncompress(src.baseAddress, src.count, dst.baseAddress, dst.count, &written)
                return status == 0 ? written : 0
            }
            if status != 0 {
                failure = CompressionError(codec: .snappy, kind: .corrupt, detail: "block status \(status)")
            }
        }
        if let failure { throw failure }
    }
}
