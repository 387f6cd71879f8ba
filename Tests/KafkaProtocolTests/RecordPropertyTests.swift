import Foundation
import NIOCore
import Testing
@testable import KafkaProtocol

/// Seeded property tests: each prints its seed; set TERN_SEED to replay one.
@Suite struct RecordPropertyTests {
    static func seed(_ name: String) -> UInt64 {
        let seed = UInt64(Environment.value("TERN_SEED") ?? "") ?? UInt64.random(in: 0...UInt64.max)
        print("\(name) seed: \(seed)")
        return seed
    }

    @Test func varintsRoundTripAndMatchTheirSize() {
        var rng = SeededGenerator(seed: Self.seed("varints"))
        var edges: [Int64] = [0, 1, -1, 63, 64, -64, -65, Int64(Int32.max), Int64(Int32.min), .max, .min]
        for _ in 0..<5_000 { edges.append(Int64(bitPattern: rng.next()) >> Int64(rng.next() % 64)) }
        for value in edges {
            var buffer = ByteBuffer()
            let written = buffer.writeVarlong(value)
            #expect(written == ByteBuffer.varlongSize(value))
            #expect(buffer.readVarlong() == value)
            #expect(buffer.readableBytes == 0)
            let narrow = Int32(truncatingIfNeeded: value)
            #expect(buffer.writeVarint(narrow) == ByteBuffer.varintSize(narrow))
            #expect(buffer.readVarint() == narrow)
        }
    }

    @Test func varintKnownEncodingsAndMalformedInput() {
        var buffer = ByteBuffer()
        buffer.writeVarint(-1)
        buffer.writeVarint(1)
        buffer.writeVarint(-64)
        buffer.writeVarint(64)
        #expect(Array(buffer.readableBytesView) == [0x01, 0x02, 0x7F, 0x80, 0x01])
        // Six continuation bytes are too long for a varint; truncation returns nil; neither moves the index.
        var tooLong = ByteBuffer(bytes: [0x80, 0x80, 0x80, 0x80, 0x80, 0x01])
        #expect(tooLong.readVarint() == nil && tooLong.readerIndex == 0)
        var truncated = ByteBuffer(bytes: [0x80])
        #expect(truncated.readVarlong() == nil && truncated.readerIndex == 0)
    }

    @Test func randomAndMutatedBytesNeverCrashTheDecoders() throws {
        var rng = SeededGenerator(seed: Self.seed("batch fuzz"))
        let codecs = CompressionCodec.allCases
        for round in 0..<400 {
            var builder = RecordBatchBuilder(compression: codecs[round % codecs.count])
            for i in 0..<Int(rng.next() % 6 + 1) {
                builder.append(key: ByteBuffer(string: "k\(i)"), value: ByteBuffer(repeating: UInt8(i), count: Int(rng.next() % 200)),
                               headers: [("h", nil)], timestamp: Int64(i))
            }
            var bytes = try builder.build()
            // Flip a few bytes anywhere, then re-seal the CRC half the time so the body parsers are reached.
            for _ in 0..<Int(rng.next() % 4 + 1) {
                let index = Int(rng.next() % UInt64(bytes.readableBytes))
                bytes.setInteger(UInt8(truncatingIfNeeded: rng.next()), at: index)
            }
            if rng.next() % 2 == 0, bytes.getInteger(at: 8, as: Int32.self).map({ Int($0) + 12 == bytes.readableBytes }) == true {
                bytes.setInteger(RecordBatchHeader.computeCRC(of: bytes, batchAt: 0, totalSize: bytes.readableBytes), at: 17)
            }
            var options = RecordBatchValidator.Options()
            options.walkRecords = true
            options.maxDecompressedSize = 1 << 20
            _ = try? RecordBatchValidator.validate(bytes, options: options)
            _ = try? RecordBatch.readAll(bytes, verifyCRC: false, maxDecompressedSize: 1 << 20)
            _ = try? LegacyMessageSet.decode(bytes, maxDecompressedSize: 1 << 20)
            // Pure noise too.
            let noise = ByteBuffer(bytes: (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
            _ = try? RecordBatch.readAll(noise, verifyCRC: false)
            _ = try? LegacyMessageSet.decode(noise)
            for codec in codecs { _ = try? codec.decompress(noise, maxOutputSize: 1 << 20) }
        }
    }
}

enum Environment {
    static func value(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        return String(cString: raw)
    }
}
