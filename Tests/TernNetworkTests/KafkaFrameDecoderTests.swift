import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing
@testable import TernNetwork

@Suite struct KafkaFrameDecoderTests {
    @Test func verifierByteByByteManyPerBufferOnePerBuffer() throws {
        let frames = (0..<5).map { wireFrame(correlationId: Int32($0), body: Array(repeating: UInt8($0), count: $0 * 7)) }
        let pairs = frames.map { frame -> (ByteBuffer, [ByteBuffer]) in
            (frame, [frame.getSlice(at: 4, length: frame.readableBytes - 4)!])
        }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) { KafkaFrameDecoder(maxFrameBytes: 1024) }
    }

    @Test func emptyFrameIsAFrame() throws {
        var buffer = ByteBuffer(bytes: [0, 0, 0, 0])
        let frame = try KafkaFrameDecoder.readFrame(from: &buffer, maxFrameBytes: 10)
        #expect(frame?.readableBytes == 0)
        #expect(buffer.readableBytes == 0)
    }

    @Test func partialInputLeavesReaderIndexAlone() throws {
        var buffer = wireFrame(correlationId: 7, body: [1, 2, 3])
        buffer.moveWriterIndex(to: buffer.writerIndex - 1)
        #expect(try KafkaFrameDecoder.readFrame(from: &buffer, maxFrameBytes: 100) == nil)
        #expect(buffer.readerIndex == 0)
        var sizeOnly = ByteBuffer(bytes: [0, 0])
        #expect(try KafkaFrameDecoder.readFrame(from: &sizeOnly, maxFrameBytes: 100) == nil)
        #expect(sizeOnly.readerIndex == 0)
    }

    @Test func frameAtTheLimitPassesOneMoreByteFails() throws {
        var atLimit = wireFrame(correlationId: 1, body: [UInt8](repeating: 0, count: 2))  // 10 bytes of payload
        #expect(try KafkaFrameDecoder.readFrame(from: &atLimit, maxFrameBytes: 10)?.readableBytes == 10)
        var over = wireFrame(correlationId: 1, body: [UInt8](repeating: 0, count: 3))
        #expect(throws: KafkaFrameError(size: 11, limit: 10)) {
            try KafkaFrameDecoder.readFrame(from: &over, maxFrameBytes: 10)
        }
    }

    @Test func forgedSizeFailsBeforeAnyPayloadArrives() throws {
        var huge = ByteBuffer()
        huge.writeInteger(Int32.max)
        #expect(throws: KafkaFrameError(size: Int(Int32.max), limit: KafkaFrameDecoder.defaultMaxFrameBytes)) {
            try KafkaFrameDecoder.readFrame(from: &huge, maxFrameBytes: KafkaFrameDecoder.defaultMaxFrameBytes)
        }
        var negative = ByteBuffer()
        negative.writeInteger(Int32(-1))
        #expect(throws: KafkaFrameError(size: -1, limit: 100)) {
            try KafkaFrameDecoder.readFrame(from: &negative, maxFrameBytes: 100)
        }
    }

    @Test func frameIsASliceOfTheInput() throws {
        var buffer = wireFrame(correlationId: 42, body: [9, 9])
        let frame = try #require(try KafkaFrameDecoder.readFrame(from: &buffer, maxFrameBytes: 100))
        let parsed = try #require(KafkaRequestFrame(frame: frame))
        #expect(parsed.apiKey == 18 && parsed.apiVersion == 3 && parsed.correlationId == 42)
        #expect(parsed.frame.readableBytes == 10)
        #expect(parsed.frame.readerIndex == frame.readerIndex)
    }

    @Test func requestPrefixNeedsEightBytes() {
        #expect(KafkaRequestFrame(frame: ByteBuffer(bytes: [0, 1, 0, 2, 0, 0, 0])) == nil)
        let frame = KafkaRequestFrame(frame: ByteBuffer(bytes: [0, 1, 0, 2, 0, 0, 0, 3]))
        #expect(frame?.apiKey == 1 && frame?.apiVersion == 2 && frame?.correlationId == 3)
    }

    @Test func peerLeavingMidFrameIsNotAnError() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(KafkaFrameDecoder(maxFrameBytes: 100)))
        var partial = wireFrame(correlationId: 1, body: [1, 2, 3])
        partial.moveWriterIndex(to: 6)
        try channel.writeInbound(partial)
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        #expect(try channel.finish().isClean)
    }
}
