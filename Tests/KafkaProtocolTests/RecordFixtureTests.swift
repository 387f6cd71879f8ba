import Foundation
import NIOCore
import Testing
@testable import KafkaProtocol

/// Batches written by kafka-python's own record builders (Fixtures/batches/generate.py), decoded
/// exactly against the manifest the generator wrote beside them.
@Suite struct RecordFixtureTests {
    struct Expected: Decodable {
        struct Rec: Decodable {
            var offset: Int64
            var timestamp: Int64
            var key: String?
            var value: String?
            var headers: [[String?]]
        }
        var file: String
        var magic: Int
        var codec: Int
        var transactional: Bool
        var producerId: Int64
        var producerEpoch: Int16
        var baseSequence: Int32
        var records: [Rec]
    }

    static func fixture(_ name: String) throws -> ByteBuffer {
        let url = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/batches/\(name)")
        return ByteBuffer(bytes: try Data(contentsOf: url))
    }

    static func manifest() throws -> [Expected] {
        let url = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/batches/manifest.json")
        return try JSONDecoder().decode([Expected].self, from: Data(contentsOf: url))
    }

    static func string(_ buffer: ByteBuffer?) -> String? { buffer.map { String(buffer: $0) } }

    @Test(arguments: try manifest().filter { $0.magic == 2 }.map(\.file))
    func decodesV2BatchFromKafkaPython(file: String) throws {
        let expected = try Self.manifest().first { $0.file == file }!
        let buffer = try Self.fixture(file)
        let batches = try RecordBatch.readAll(buffer)
        #expect(batches.count == 1)
        let batch = batches[0]
        #expect(batch.header.attributes.compressionCodec == expected.codec)
        #expect(batch.header.attributes.isTransactional == expected.transactional)
        #expect(batch.header.producerId == expected.producerId)
        #expect(batch.header.producerEpoch == expected.producerEpoch)
        #expect(batch.header.baseSequence == expected.baseSequence)
        #expect(batch.header.recordCount == Int32(expected.records.count))
        #expect(batch.header.lastOffsetDelta == Int32(expected.records.count - 1))
        #expect(batch.header.maxTimestamp == expected.records.map(\.timestamp).max())
        #expect(batch.records.count == expected.records.count)
        for (record, want) in zip(batch.records, expected.records) {
            #expect(batch.offset(of: record) == want.offset)
            #expect(batch.timestamp(of: record) == want.timestamp)
            #expect(Self.string(record.key) == want.key)
            #expect(Self.string(record.value) == want.value)
            #expect(record.headers.map(\.key) == want.headers.map { $0[0]! })
            #expect(record.headers.map { Self.string($0.value) } == want.headers.map { $0[1] })
        }
        // The produce path accepts it as is.
        let headers = try RecordBatchValidator.validate(buffer, options: {
            var options = RecordBatchValidator.Options()
            options.walkRecords = true
            return options
        }())
        #expect(headers == [batch.header])
    }

    @Test(arguments: try manifest().filter { $0.magic < 2 }.map(\.file))
    func decodesLegacyMessageSetFromKafkaPython(file: String) throws {
        let expected = try Self.manifest().first { $0.file == file }!
        let buffer = try Self.fixture(file)
        let messages = try LegacyMessageSet.decode(buffer)
        #expect(messages.count == expected.records.count)
        for (message, want) in zip(messages, expected.records) {
            #expect(message.magic == Int8(expected.magic))
            // kafka-python writes a magic 1 wrapper at offset 0; as Kafka's readers do, inner relative
            // offsets are then counted back from the wrapper's, ending at 0.
            let shift = expected.magic == 1 && expected.codec != 0 ? expected.records.last!.offset : 0
            #expect(message.offset == want.offset - shift)
            #expect(message.timestamp == want.timestamp)
            #expect(Self.string(message.key) == want.key)
            #expect(Self.string(message.value) == want.value)
        }
        // Converted to v2 for storage, the records read back the same.
        for codec in [CompressionCodec.none, .zstd] {
            let converted = try LegacyMessageSet.convertToRecordBatch(buffer, compression: codec)
            let batch = try RecordBatch.readAll(converted)[0]
            #expect(try RecordBatchValidator.validate(converted).count == 1)
            #expect(batch.records.map { Self.string($0.key) } == expected.records.map(\.key))
            #expect(batch.records.map { Self.string($0.value) } == expected.records.map(\.value))
            #expect(batch.records.map { batch.timestamp(of: $0) } == expected.records.map(\.timestamp))
        }
    }

    @Test(arguments: [
        ("plain.gzip", CompressionCodec.gzip), ("plain.lz4", .lz4), ("plain-nosize.zstd", .zstd),
        ("plain-raw.snappy", .snappy), ("plain-xerial.snappy", .snappy),
    ])
    func decompressesOtherWritersFraming(file: String, codec: CompressionCodec) throws {
        let plain = try Self.fixture("plain.txt")
        #expect(try codec.decompress(try Self.fixture(file)) == plain)
        // One byte under the real size must be refused, not truncated.
        #expect(throws: CompressionError.self) {
            try codec.decompress(try Self.fixture(file), maxOutputSize: plain.readableBytes - 1)
        }
    }

    @Test func xerialSnappyMatchesJavaFramingByteForByte() throws {
        // Our encoder frames as SnappyOutputStream does, so the hand-built Java-style file is what it writes.
        let plain = try Self.fixture("plain.txt")
        #expect(try CompressionCodec.snappy.compress(plain) == (try Self.fixture("plain-xerial.snappy")))
    }
}
