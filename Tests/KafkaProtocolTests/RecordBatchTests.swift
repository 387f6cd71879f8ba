import NIOCore
import Testing
@testable import KafkaProtocol

@Suite struct RecordBatchTests {
    static func builder(_ codec: CompressionCodec = .none, count: Int = 3) -> RecordBatchBuilder {
        var builder = RecordBatchBuilder(compression: codec)
        for i in 0..<count {
            builder.append(key: i == 1 ? nil : ByteBuffer(string: "k\(i)"), value: ByteBuffer(string: "value \(i)"),
                           headers: [("trace", ByteBuffer(string: "t\(i)")), ("empty", nil)], timestamp: 1_000 + Int64(i) * 5)
        }
        return builder
    }

    @Test(arguments: CompressionCodec.allCases)
    func roundTripEveryCodec(codec: CompressionCodec) throws {
        let builder = Self.builder(codec, count: 50)
        let bytes = try builder.build()
        let batch = try RecordBatch.readAll(bytes)[0]
        #expect(batch.compression == codec)
        #expect(batch.records == builder.records)
        #expect(batch.header.recordCount == 50)
        #expect(batch.header.lastOffsetDelta == 49)
        #expect(batch.header.baseTimestamp == 1_000)
        #expect(batch.header.maxTimestamp == 1_000 + 49 * 5)
        #expect(batch.header.totalSize == bytes.readableBytes)
        #expect(try RecordBatchValidator.validate(bytes) == [batch.header])
    }

    @Test func idempotentTransactionalLogAppendTimeAttributes() throws {
        var builder = Self.builder(.lz4)
        builder.producerId = 77
        builder.producerEpoch = 3
        builder.baseSequence = 10
        builder.isTransactional = true
        builder.timestampType = .logAppendTime
        builder.partitionLeaderEpoch = 9
        let header = try RecordBatch.readAll(try builder.build())[0].header
        #expect(header.producerId == 77 && header.producerEpoch == 3 && header.baseSequence == 10)
        #expect(header.lastSequence == 12)
        #expect(header.attributes.isTransactional && header.attributes.isLogAppendTime && !header.attributes.isControl)
        #expect(header.attributes.compressionCodec == 3)
        #expect(header.partitionLeaderEpoch == 9)
    }

    @Test(arguments: [ControlRecord.ControlType.commit, .abort])
    func transactionMarkers(type: ControlRecord.ControlType) throws {
        let marker = ControlRecord(type: type, coordinatorEpoch: 17)
        let bytes = RecordBatchBuilder.transactionMarker(marker, producerId: 5, producerEpoch: 2, timestamp: 123)
        let batch = try RecordBatch.readAll(bytes)[0]
        #expect(batch.header.attributes.isControl && batch.header.attributes.isTransactional)
        #expect(batch.header.baseSequence == -1)
        #expect(try batch.controlRecords() == [marker])
        // Key: version 0, type; value: version 0, coordinatorEpoch.
        #expect(batch.records[0].key == ByteBuffer(bytes: [0, 0, 0, UInt8(type.rawValue)]))
        #expect(batch.records[0].value == ByteBuffer(bytes: [0, 0, 0, 0, 0, 17]))
        // Clients may not write them; the broker may.
        #expect(try Self.validationCode(bytes) == 87)
        var options = RecordBatchValidator.Options()
        options.allowControlBatches = true
        #expect(try RecordBatchValidator.validate(bytes, options: options).count == 1)
    }

    static func validationCode(_ buffer: ByteBuffer, options: RecordBatchValidator.Options = .init()) throws -> Int16? {
        do {
            _ = try RecordBatchValidator.validate(buffer, options: options)
            return nil
        } catch {
            return error.errorCode
        }
    }

    @Test func validatorErrorCodes() throws {
        let good = try Self.builder().build()
        func mutated(_ change: (inout ByteBuffer) -> Void) -> ByteBuffer {
            var copy = ByteBuffer(buffer: good)
            change(&copy)
            return copy
        }
        func fixCRC(_ buffer: inout ByteBuffer) {
            buffer.setInteger(RecordBatchHeader.computeCRC(of: buffer, batchAt: 0, totalSize: buffer.readableBytes), at: 17)
        }
        // CRC mismatch, truncation, short length, unknown magic: CORRUPT_MESSAGE.
        #expect(try Self.validationCode(mutated { $0.setInteger(UInt8(0xFF), at: $0.writerIndex - 1) }) == 2)
        #expect(try Self.validationCode(good.getSlice(at: 0, length: good.readableBytes - 1)!) == 2)
        #expect(try Self.validationCode(good.getSlice(at: 0, length: 10)!) == 2)
        #expect(try Self.validationCode(mutated { $0.setInteger(Int32(20), at: 8) }) == 2)
        #expect(try Self.validationCode(mutated { $0.setInteger(Int8(3), at: 16) }) == 2)
        // Old magic in a v2 request, count inconsistent with lastOffsetDelta, zero count: INVALID_RECORD.
        #expect(try Self.validationCode(mutated { $0.setInteger(Int8(1), at: 16) }) == 87)
        #expect(try Self.validationCode(mutated { $0.setInteger(Int32(5), at: 23); fixCRC(&$0) }) == 87)
        #expect(try Self.validationCode(mutated { $0.setInteger(Int32(0), at: 57); fixCRC(&$0) }) == 87)
        #expect(try Self.validationCode(mutated { $0.setInteger(Int64(4), at: 43); fixCRC(&$0) }) == 87)
        #expect(try Self.validationCode(ByteBuffer()) == 87)
        // Unknown compression id; zstd before Produce v7: UNSUPPORTED_COMPRESSION_TYPE.
        #expect(try Self.validationCode(mutated { $0.setInteger(Int16(6), at: 21); fixCRC(&$0) }) == 76)
        var noZstd = RecordBatchValidator.Options()
        noZstd.allowZstd = false
        #expect(try Self.validationCode(try Self.builder(.zstd).build(), options: noZstd) == 76)
        // Over max.message.bytes: MESSAGE_TOO_LARGE.
        var small = RecordBatchValidator.Options()
        small.maxBatchSize = 100
        #expect(try Self.validationCode(good, options: small) == 10)
        // Two batches where Produce v3+ allows one.
        var two = ByteBuffer(buffer: good)
        two.writeImmutableBuffer(good)
        #expect(try RecordBatchValidator.validate(two).count == 2)
        var single = RecordBatchValidator.Options()
        single.requireSingleBatch = true
        #expect(try Self.validationCode(two, options: single) == 87)
    }

    @Test(arguments: [CompressionCodec.none, .gzip])
    func compactedTopicNeedsKeysAndWalksRecords(codec: CompressionCodec) throws {
        let withNullKey = try Self.builder(codec).build()
        var options = RecordBatchValidator.Options()
        #expect(try Self.validationCode(withNullKey, options: options) == nil)
        options.requireKeys = true
        #expect(try Self.validationCode(withNullKey, options: options) == 87)
        var keyed = RecordBatchBuilder(compression: codec)
        keyed.append(key: ByteBuffer(string: "a"), value: nil, timestamp: 1)
        #expect(try Self.validationCode(try keyed.build(), options: options) == nil)
    }

    @Test func walkCatchesOffsetDeltasOutOfSequence() throws {
        var builder = RecordBatchBuilder()
        builder.append(Record(offsetDelta: 0, key: nil, value: ByteBuffer(string: "a")), baseTimestamp: 0)
        builder.append(Record(offsetDelta: 5, key: nil, value: ByteBuffer(string: "b")), baseTimestamp: 0)
        var bytes = try builder.build()
        // Make the header consistent (count 2 → lastOffsetDelta 1) so only the walk can see it.
        bytes.setInteger(Int32(1), at: 23)
        bytes.setInteger(RecordBatchHeader.computeCRC(of: bytes, batchAt: 0, totalSize: bytes.readableBytes), at: 17)
        #expect(try Self.validationCode(bytes) == nil)
        var options = RecordBatchValidator.Options()
        options.walkRecords = true
        #expect(try Self.validationCode(bytes, options: options) == 87)
    }

    @Test func assignOffsetsKeepsCRCValid() throws {
        var payload = try Self.builder(count: 3).build()
        var second = try Self.builder(.snappy, count: 4).build()
        payload.writeBuffer(&second)
        let headers = try RecordBatchValidator.validate(payload)
        let next = RecordBatchValidator.assignOffsets(&payload, headers: headers, firstOffset: 100, partitionLeaderEpoch: 4)
        #expect(next == 107)
        let batches = try RecordBatch.readAll(payload)
        #expect(batches.map(\.header.baseOffset) == [100, 103])
        #expect(batches.map(\.header.partitionLeaderEpoch) == [4, 4])
        RecordBatchValidator.setLogAppendTime(9_999, inBatchAt: 0, of: &payload)
        let stamped = try RecordBatch.readAll(payload)[0]
        #expect(stamped.header.attributes.isLogAppendTime)
        #expect(stamped.records.map { stamped.timestamp(of: $0) } == [9_999, 9_999, 9_999])
    }

    @Test func partialTrailingBatchIsSkippedOnlyWhenAllowed() throws {
        var payload = try Self.builder().build()
        let second = try Self.builder().build()
        payload.writeImmutableBuffer(second.getSlice(at: 0, length: 30)!)
        #expect(try RecordBatch.readAll(payload, allowPartialTrailingBatch: true).count == 1)
        #expect(throws: RecordValidationError.self) { try RecordBatch.readAll(payload) }
    }
}
