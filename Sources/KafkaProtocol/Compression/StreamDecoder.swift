import CTernCompression
import NIOCore

/// Drives the C streaming decoders (gzip, lz4 frame, zstd), whose output size is unknown up front:
/// zstd frames from librdkafka may lack a content size and gzip never states one. The output grows
/// geometrically but never past `maxOutputSize + 1` bytes, so the limit is checked before memory is.
enum StreamDecoder {
    static func decode(
        _ codec: CompressionCodec, _ input: ByteBuffer, maxOutputSize: Int, allocator: ByteBufferAllocator
    ) throws(CompressionError) -> ByteBuffer {
        guard let decoder = tern_decoder_create(Int32(codec.rawValue)) else {
            throw CompressionError(codec: codec, kind: .failed, detail: "cannot create decoder")
        }
        defer { tern_decoder_free(decoder) }
        // A guess that suits typical batch ratios; growth doubles from here.
        let initial = max(256, min(input.readableBytes.multipliedReportingOverflow(by: 4).partialValue, maxOutputSize + 1))
        var output = allocator.buffer(capacity: initial)
        var failure: CompressionError?
        input.withUnsafeReadableBytes { src in
            var consumed = 0
            while true {
                let room = maxOutputSize + 1 - output.writerIndex
                if room <= 0 {
                    failure = CompressionError(codec: codec, kind: .outputTooLarge, detail: "limit \(maxOutputSize)")
                    return
                }
                if output.writableBytes == 0 {
                    output.reserveCapacity(min(output.capacity * 2, maxOutputSize + 1))
                }
                var status: Int32 = 0
                var used = 0
                let produced = output.writeWithUnsafeMutableBytes(minimumWritableBytes: 0) { dst in
                    let space = min(dst.count, room)
                    var written = 0
                    status = tern_decoder_step(decoder, src.baseAddress.map { $0 + consumed }, src.count - consumed,
                                               &used, dst.baseAddress, space, &written)
                    return written
                }
                consumed += used
                switch status {
                case 1: // TERN_STREAM_END
                    if consumed == src.count { return }
                case 0: // TERN_OK
                    if used == 0 && produced == 0 && output.writableBytes > 0 {
                        // No progress with both input and room available: truncated or stuck input.
                        failure = CompressionError(codec: codec, kind: .corrupt,
                                                   detail: consumed == src.count ? "truncated input" : "no progress")
                        return
                    }
                default:
                    failure = CompressionError(codec: codec, kind: status == -3 ? .failed : .corrupt,
                                               detail: "decoder status \(status) at input byte \(consumed)")
                    return
                }
            }
        }
        if let failure { throw failure }
        if output.readableBytes > maxOutputSize {
            throw CompressionError(codec: codec, kind: .outputTooLarge, detail: "limit \(maxOutputSize)")
        }
        return output
    }
}
