import NIOCore
import Testing

@testable import KafkaProtocol

@Suite struct PrimitivesTests {
    static let varintCases: [(UInt32, [UInt8])] = [
        (0, [0]), (1, [1]), (127, [0x7F]), (128, [0x80, 0x01]), (300, [0xAC, 0x02]),
        (16383, [0xFF, 0x7F]), (16384, [0x80, 0x80, 0x01]), (UInt32.max, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]),
    ]

    @Test(arguments: varintCases)
    func unsignedVarint(value: UInt32, bytes: [UInt8]) throws {
        var buffer = ByteBuffer()
        buffer.writeUnsignedVarint(value)
        #expect(Array(buffer.readableBytesView) == bytes)
        #expect(ByteBuffer.unsignedVarintSize(value) == bytes.count)
        #expect(try buffer.readUnsignedVarint() == value)
        #expect(buffer.readableBytes == 0)
    }

    @Test func malformedVarintsThrowAndLeaveTheReaderIndex() {
        for bytes: [UInt8] in [[], [0x80], [0xFF, 0xFF], [0xFF, 0xFF, 0xFF, 0xFF, 0x1F], [0x80, 0x80, 0x80, 0x80, 0x80, 0x01]] {
            var buffer = ByteBuffer(bytes: bytes)
            #expect(throws: KafkaProtocolError.self) { try buffer.readUnsignedVarint() }
            #expect(buffer.readableBytes == bytes.count)
        }
    }

    @Test func classicAndCompactStrings() throws {
        var buffer = ByteBuffer()
        try buffer.writeKafkaString("héllo", compact: false, field: "f", version: 0)
        try buffer.writeKafkaString("héllo", compact: true, field: "f", version: 0)
        try buffer.writeKafkaNullableString(nil, compact: false, nullable: true, field: "f", version: 0)
        try buffer.writeKafkaNullableString(nil, compact: true, nullable: true, field: "f", version: 0)
        #expect(Array(buffer.readableBytesView.prefix(2)) == [0, 6])
        #expect(try buffer.readKafkaString(compact: false, field: "f", version: 0) == "héllo")
        #expect(try buffer.readKafkaString(compact: true, field: "f", version: 0) == "héllo")
        #expect(try buffer.readKafkaNullableString(compact: false, nullable: true, field: "f", version: 0) == nil)
        #expect(try buffer.readKafkaNullableString(compact: true, nullable: true, field: "f", version: 0) == nil)
        #expect(buffer.readableBytes == 0)
    }

    @Test func nullWhereNotNullableThrows() {
        var buffer = ByteBuffer()
        #expect(throws: KafkaProtocolError.self) {
            try buffer.writeKafkaNullableString(nil, compact: false, nullable: false, field: "f", version: 0)
        }
        var input = ByteBuffer(bytes: [0xFF, 0xFF])
        #expect(throws: KafkaProtocolError.self) {
            try input.readKafkaNullableString(compact: false, nullable: false, field: "f", version: 0)
        }
        var tooLong = ByteBuffer(bytes: [0xFF, 0xFE])  // -2 is never valid
        #expect(throws: KafkaProtocolError.self) {
            try tooLong.readKafkaNullableString(compact: false, nullable: true, field: "f", version: 0)
        }
    }

    @Test func forgedLengthsThrow() {
        var string = ByteBuffer(bytes: [0x7F, 0xFF, 0x61])
        #expect(throws: KafkaProtocolError.self) { try string.readKafkaString(compact: false, field: "f", version: 0) }
        var bytes = ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0x0F, 1])
        #expect(throws: KafkaProtocolError.self) { try bytes.readKafkaBytes(compact: true, field: "f", version: 0) }
        var array = ByteBuffer(bytes: [0x7F, 0xFF, 0xFF, 0xFF])
        #expect(throws: KafkaProtocolError.self) {
            try array.readKafkaArrayCount(compact: false, nullable: true, field: "f", version: 0)
        }
        var tagged = ByteBuffer(bytes: [0x7F])
        #expect(throws: KafkaProtocolError.self) { try tagged.skipKafkaTaggedFields(field: "f", version: 0) }
    }

    @Test func errorMessagesNameFieldAndVersion() {
        var buffer = ByteBuffer(bytes: [0])
        do {
            _ = try buffer.readKafkaInteger(Int32.self, field: "ProduceRequest.timeoutMs", version: 7)
            Issue.record("expected a throw")
        } catch {
            #expect("\(error)".contains("ProduceRequest.timeoutMs"))
            #expect("\(error)".contains("version 7"))
        }
    }

    @Test func uuidTextFormMatchesKafka() throws {
        // Kafka: Uuid.fromString("AAAAAAAAAAAAAAAAAAAAAA") == Uuid.ZERO; Uuid(0, 1) prints "AAAAAAAAAAAAAAAAAAAAAQ".
        #expect(KafkaUUID.zero.description == "AAAAAAAAAAAAAAAAAAAAAA")
        #expect(KafkaUUID.metadataTopicId.description == "AAAAAAAAAAAAAAAAAAAAAQ")
        #expect(KafkaUUID(string: "AAAAAAAAAAAAAAAAAAAAAQ") == .metadataTopicId)
        let id = KafkaUUID(mostSignificantBits: 0xFFEE_DDCC_BBAA_9988, leastSignificantBits: 0x7766_5544_3322_1100)
        #expect(id.description == "_-7dzLuqmYh3ZlVEMyIRAA")
        #expect(KafkaUUID(string: id.description) == id)
        #expect(KafkaUUID(string: id.description + "==") == id)
        #expect(KafkaUUID(string: "short") == nil)
        #expect(KafkaUUID(string: "AAAAAAAAAAAAAAAAAAAAAB") == nil)  // non-zero trailing bits
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<1000 {
            let random = KafkaUUID.random(using: &rng)
            #expect(random != .zero && !random.description.hasPrefix("-"))
            #expect(KafkaUUID(string: random.description) == random)
        }
        var buffer = ByteBuffer()
        buffer.writeKafkaUUID(id)
        #expect(buffer.readableBytes == 16)
        #expect(try buffer.readKafkaUUID(field: "f", version: 0) == id)
    }

    @Test func errorCodes() {
        #expect(ErrorCode.none.rawValue == 0)
        #expect(ErrorCode.unknownServerError.rawValue == -1)
        #expect(ErrorCode.corruptMessage.rawValue == 2)
        #expect(ErrorCode.unsupportedVersion.rawValue == 35)
        #expect(ErrorCode.memberIdRequired.rawValue == 79)
        #expect(ErrorCode.rebootstrapRequired.rawValue == 129)
        #expect(ErrorCode.unknownTopicOrPartition.name == "UNKNOWN_TOPIC_OR_PARTITION")
        #expect(ErrorCode.unknownTopicOrPartition.isRetriable)
        #expect(ErrorCode.notLeaderOrFollower.isRetriable)
        #expect(!ErrorCode.topicAlreadyExists.isRetriable)
        #expect(ErrorCode(rawValue: 999).name == "UNKNOWN_ERROR_CODE(999)")
        #expect(ErrorCode.allKnown.count == 131)
        // Dense table: every code from -1 to the last one, in order.
        #expect(ErrorCode.allKnown.map(\.rawValue) == Array(-1...129))
    }
}
