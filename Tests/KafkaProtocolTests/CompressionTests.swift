import NIOCore
import Testing
@testable import KafkaProtocol

@Suite struct CompressionTests {
    static func sample(_ size: Int, seed: UInt64) -> ByteBuffer {
        // Compressible but not trivial: words from a small vocabulary, seeded.
        var rng = SeededGenerator(seed: seed)
        let words = ["kafka", "tern", "record", "batch", "offset", "partition", "leader", "epoch", "\n"]
        var buffer = ByteBuffer()
        while buffer.readableBytes < size {
            buffer.writeString(words[Int(rng.next() % UInt64(words.count))])
            buffer.writeString(" ")
        }
        return buffer.getSlice(at: 0, length: size)!
    }

    @Test(arguments: CompressionCodec.allCases, [0, 1, 100, 65_535, 65_536, 300_000])
    func roundTrip(codec: CompressionCodec, size: Int) throws {
        let input = Self.sample(size, seed: UInt64(size))
        let compressed = try codec.compress(input)
        #expect(try codec.decompress(compressed) == input)
    }

    @Test(arguments: [CompressionCodec.gzip, .snappy, .lz4, .zstd])
    func zipBombIsRefusedAtTheBound(codec: CompressionCodec) throws {
        // 8 MiB of zeros compress to a few KiB; a 1 MiB bound must stop the decoder.
        let zeros = ByteBuffer(repeating: 0, count: 8 << 20)
        let compressed = try codec.compress(zeros)
        #expect(compressed.readableBytes < 1 << 20)
        let error = #expect(throws: CompressionError.self) { try codec.decompress(compressed, maxOutputSize: 1 << 20) }
        #expect(error?.kind == .outputTooLarge)
        #expect(try codec.decompress(compressed, maxOutputSize: 8 << 20).readableBytes == 8 << 20)
    }

    @Test(arguments: [CompressionCodec.gzip, .snappy, .lz4, .zstd])
    func corruptAndTruncatedInputThrows(codec: CompressionCodec) throws {
        let compressed = try codec.compress(Self.sample(10_000, seed: 7))
        let truncated = compressed.getSlice(at: 0, length: compressed.readableBytes / 2)!
        #expect(throws: CompressionError.self) { try codec.decompress(truncated) }
        #expect(throws: CompressionError.self) { try codec.decompress(ByteBuffer(bytes: [1, 2, 3, 4, 5, 6, 7, 8])) }
    }

    @Test func gzipReadsConcatenatedMembersLikeJava() throws {
        var both = try CompressionCodec.gzip.compress(ByteBuffer(string: "hello "))
        var second = try CompressionCodec.gzip.compress(ByteBuffer(string: "world"))
        both.writeBuffer(&second)
        #expect(String(buffer: try CompressionCodec.gzip.decompress(both)) == "hello world")
    }

    @Test func codecNames() {
        #expect(CompressionCodec(name: "zstd") == .zstd)
        #expect(CompressionCodec(name: "producer") == nil)
        #expect(CompressionCodec.lz4.rawValue == 3)
    }
}

/// SplitMix64: a tiny seeded generator so every random test can print and replay its seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
