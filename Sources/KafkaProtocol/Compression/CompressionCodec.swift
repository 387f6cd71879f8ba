import CTernCompression
import NIOCore

/// The compression codecs of Kafka's record batches, numbered as attributes bits 0-2 encode them.
///
/// Every decompression takes a bound on its output: a batch of a few kilobytes can expand to
/// gigabytes, and the broker decompresses input from the network.
public enum CompressionCodec: Int, Sendable, CaseIterable, CustomStringConvertible {
    case none = 0
    case gzip = 1
    case snappy = 2
    case lz4 = 3
    case zstd = 4

    /// The default bound on decompressed output (64 MiB), larger than any sane batch.
    public static let defaultMaxDecompressedSize = 64 * 1024 * 1024

    /// Kafka's `compression.type` names.
    public var description: String {
        switch self {
        case .none: "none"
        case .gzip: "gzip"
        case .snappy: "snappy"
        case .lz4: "lz4"
        case .zstd: "zstd"
        }
    }

    /// The codec named as in `compression.type` (`producer` is the broker's "keep it" and not a codec).
    public init?(name: String) {
        guard let codec = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = codec
    }

    /// Compresses the readable bytes of `input` into a new buffer.
    /// gzip writes a gzip member, snappy the xerial framing Java clients write, lz4 an LZ4 frame,
    /// zstd a zstd frame; `.none` returns the bytes unchanged.
    public func compress(
        _ input: ByteBuffer, level: Int = 0, allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) throws(CompressionError) -> ByteBuffer {
        switch self {
        case .none:
            return input
        case .snappy:
            return XerialSnappy.encode(input, allocator: allocator)
        case .gzip, .lz4, .zstd:
            return try Self.compressBlock(codec: Int32(rawValue), level: level, input, allocator: allocator)
        }
    }

    /// Decompresses the readable bytes of `input`, throwing `.outputTooLarge` once the output would
    /// exceed `maxOutputSize` bytes. snappy accepts both raw blocks and xerial framing.
    public func decompress(
        _ input: ByteBuffer, maxOutputSize: Int = CompressionCodec.defaultMaxDecompressedSize,
        allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) throws(CompressionError) -> ByteBuffer {
        switch self {
        case .none:
            guard input.readableBytes <= maxOutputSize else {
                throw CompressionError(codec: self, kind: .outputTooLarge, detail: "limit \(maxOutputSize)")
            }
            return input
        case .snappy:
            return try XerialSnappy.decode(input, maxOutputSize: maxOutputSize, allocator: allocator)
        case .gzip, .lz4, .zstd:
            return try StreamDecoder.decode(self, input, maxOutputSize: maxOutputSize, allocator: allocator)
        }
    }

    /// One shot into a buffer of the codec's worst-case size.
    static func compressBlock(
        codec: Int32, level: Int, _ input: ByteBuffer, allocator: ByteBufferAllocator
    ) throws(CompressionError) -> ByteBuffer {
        let bound = tern_compress_bound(codec, input.readableBytes)
        var output = allocator.buffer(capacity: bound)
        var status: Int32 = 0
        _ = input.withUnsafeReadableBytes { src in
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { dst in
                var written = 0
                status = tern_compress(codec, Int32(level), src.baseAddress, src.count,
                                       dst.baseAddress, dst.count, &written)
                return status == 0 ? written : 0
            }
        }
        guard status == 0 else {
            throw CompressionError(codec: CompressionCodec(rawValue: Int(codec)) ?? .none, kind: .failed,
                                   detail: "compressor status \(status)")
        }
        return output
    }
}

/// Why compression or decompression failed. Decoders on the produce path map this to
/// CORRUPT_MESSAGE (Kafka treats undecodable compressed data as a corrupt record).
public struct CompressionError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The input is not valid data for the codec (or is truncated).
        case corrupt
        /// The decompressed output would exceed the caller's bound.
        case outputTooLarge
        /// The library failed (allocation, or a compressor error).
        case failed
    }

    public var codec: CompressionCodec
    public var kind: Kind
    public var detail: String

    public init(codec: CompressionCodec, kind: Kind, detail: String) {
        self.codec = codec
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "\(codec) \(kind): \(detail)" }
}
