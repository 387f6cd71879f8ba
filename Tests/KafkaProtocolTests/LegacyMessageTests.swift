import NIOCore
import Testing
@testable import KafkaProtocol

@Suite struct LegacyMessageTests {
    static func messages(magic: Int8) -> [LegacyMessage] {
        (0..<4).map { i in
            LegacyMessage(offset: Int64(i), magic: magic, timestamp: magic == 0 ? -1 : 500 + Int64(i),
                          key: i == 0 ? nil : ByteBuffer(string: "k\(i)"), value: ByteBuffer(string: "v\(i)"))
        }
    }

    @Test(arguments: [Int8(0), 1], [CompressionCodec.none, .gzip, .snappy, .lz4])
    func writeThenDecode(magic: Int8, codec: CompressionCodec) throws {
        let input = Self.messages(magic: magic)
        let bytes = try LegacyMessageSet.write(input, magic: magic, compression: codec)
        let decoded = try LegacyMessageSet.decode(bytes)
        #expect(decoded.map(\.key) == input.map(\.key))
        #expect(decoded.map(\.value) == input.map(\.value))
        #expect(decoded.map(\.timestamp) == input.map(\.timestamp))
        #expect(decoded.map(\.offset) == input.map(\.offset))
        let batch = try RecordBatch.readAll(try LegacyMessageSet.convertToRecordBatch(bytes, compression: .gzip))[0]
        #expect(batch.records.map(\.value) == input.map(\.value))
        #expect(batch.header.maxTimestamp == (magic == 0 ? -1 : 503))
    }

    @Test func crcMismatchIsCorrupt() throws {
        var bytes = try LegacyMessageSet.write(Self.messages(magic: 1), magic: 1)
        bytes.setInteger(UInt8(0x41), at: bytes.writerIndex - 1)
        let error = #expect(throws: RecordValidationError.self) { try LegacyMessageSet.decode(bytes) }
        #expect(error?.errorCode == 2)
    }

    @Test func nestedCompressionIsInvalid() throws {
        let inner = try LegacyMessageSet.write(Self.messages(magic: 1), magic: 1, compression: .gzip)
        let wrapper = LegacyMessage(offset: 0, magic: 1, timestamp: 0, key: nil, value: try CompressionCodec.gzip.compress(inner))
        var bytes = ByteBuffer()
        LegacyMessageSet.writeMessage(wrapper, magic: 1, attributes: 1, to: &bytes)
        let error = #expect(throws: RecordValidationError.self) { try LegacyMessageSet.decode(bytes) }
        #expect(error?.errorCode == 87)
    }

    @Test func logAppendTimeWrapperStampsInnerMessages() throws {
        var inner = ByteBuffer()
        for message in Self.messages(magic: 1) { LegacyMessageSet.writeMessage(message, magic: 1, attributes: 0, to: &inner) }
        let wrapper = LegacyMessage(offset: 3, magic: 1, timestamp: 42, key: nil, value: try CompressionCodec.snappy.compress(inner))
        var bytes = ByteBuffer()
        LegacyMessageSet.writeMessage(wrapper, magic: 1, attributes: 1 << 3 | 2, to: &bytes)
        let decoded = try LegacyMessageSet.decode(bytes)
        #expect(decoded.map(\.timestamp) == [42, 42, 42, 42])
        let batch = try RecordBatch.readAll(try LegacyMessageSet.convertToRecordBatch(bytes, compression: .none))[0]
        #expect(batch.header.attributes.isLogAppendTime)
    }

    @Test func truncatedSetThrowsUnlessPartialAllowed() throws {
        let bytes = try LegacyMessageSet.write(Self.messages(magic: 0), magic: 0)
        let cut = bytes.getSlice(at: 0, length: bytes.readableBytes - 3)!
        #expect(throws: RecordValidationError.self) { try LegacyMessageSet.decode(cut) }
        #expect(try LegacyMessageSet.decode(cut, allowPartialTrailingMessage: true).count == 3)
    }
}
