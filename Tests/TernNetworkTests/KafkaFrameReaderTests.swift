import NIOCore
import NIOEmbedded
import Testing
@testable import TernNetwork

/// Collects the errors the reader fires.
private final class ErrorSink: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var errors: [any Error] = []
    var frames: [ByteBuffer] = []
    func channelRead(context: ChannelHandlerContext, data: NIOAny) { frames.append(unwrapInboundIn(data)) }
    func errorCaught(context: ChannelHandlerContext, error: any Error) { errors.append(error) }
}

@Suite struct KafkaFrameReaderTests {
    private func channel(maxFrameBytes: Int = 1 << 21) throws -> (EmbeddedChannel, ErrorSink) {
        let sink = ErrorSink()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers(KafkaFrameReader(maxFrameBytes: maxFrameBytes), sink)
        return (channel, sink)
    }

    /// Writes `stream` as reads of `chunk` bytes (the last one shorter).
    private func feed(_ stream: ByteBuffer, in chunk: Int, to channel: EmbeddedChannel) throws {
        var stream = stream
        while stream.readableBytes > 0 {
            try channel.writeInbound(stream.readSlice(length: min(chunk, stream.readableBytes))!)
        }
    }

    private func stream(of frames: [ByteBuffer]) -> ByteBuffer {
        var all = ByteBuffer()
        for f in frames { all.writeImmutableBuffer(f) }
        return all
    }

    private var someFrames: [ByteBuffer] {
        var frames = (0..<6).map { wireFrame(correlationId: Int32($0), body: Array(repeating: UInt8($0), count: $0 * 13)) }
        frames.insert(ByteBuffer(bytes: [0, 0, 0, 0]), at: 2)  // an empty frame
        return frames
    }

    @Test func everySplitOfTheStreamYieldsTheSameFrames() throws {
        let frames = someFrames
        let expected = frames.map { $0.getSlice(at: 4, length: $0.readableBytes - 4)! }
        for chunk in [1, 2, 3, 4, 5, 7, 64, 10_000] {
            let (channel, sink) = try channel()
            try feed(stream(of: frames), in: chunk, to: channel)
            #expect(sink.frames == expected, "reads of \(chunk) byte(s)")
            #expect(sink.errors.isEmpty)
            _ = try channel.finish()
        }
    }

    @Test func framesWholeInOneReadAreSlicesOfIt() throws {
        let (channel, sink) = try channel()
        let read = stream(of: someFrames)
        try channel.writeInbound(read)
        #expect(sink.frames.count == someFrames.count)
        read.withVeryUnsafeBytes { readBytes in
            sink.frames[1].withUnsafeReadableBytes { frameBytes in
                #expect(frameBytes.baseAddress == readBytes.baseAddress! + 4 + 8 + 4, "the second frame points into the read: no copy")
            }
        }
    }

    @Test func aLargeFrameSpanningReadsIsAssembledInOneBufferOfExactlyItsSize() throws {
        let size = 1 << 20
        var big = ByteBuffer()
        big.writeInteger(Int32(size))
        for i in 0..<size { big.writeInteger(UInt8(truncatingIfNeeded: i &* 31)) }
        let small = wireFrame(correlationId: 9, body: [1, 2, 3])
        var all = ByteBuffer()
        all.writeImmutableBuffer(small)  // a frame before and one after, in the same reads as the big one's ends
        all.writeImmutableBuffer(big)
        all.writeImmutableBuffer(small)

        let (channel, sink) = try channel()
        try feed(all, in: 65_536, to: channel)
        #expect(sink.frames.count == 3)
        let frame = sink.frames[1]
        #expect(frame.readableBytes == size)
        #expect(frame.capacity == size, "allocated once at its size: never grown, so never copied again")
        #expect(frame == big.getSlice(at: 4, length: size)!)
        #expect(sink.frames[2] == small.getSlice(at: 4, length: small.readableBytes - 4)!)
    }

    @Test func anOversizedOrNegativeSizeIsReportedOnceAndTheRestDropped() throws {
        for prefixSplit in [1, 4, 100] {
            let (channel, sink) = try channel(maxFrameBytes: 10)
            var s = ByteBuffer()
            s.writeImmutableBuffer(wireFrame(correlationId: 1, body: [1, 2]))  // 10 bytes: at the limit, fine
            s.writeInteger(Int32(11))
            s.writeRepeatingByte(0, count: 11)
            s.writeImmutableBuffer(wireFrame(correlationId: 2))
            try feed(s, in: prefixSplit, to: channel)
            #expect(sink.frames.count == 1)
            #expect(sink.errors.count == 1)
            #expect(sink.errors.first as? KafkaFrameError == KafkaFrameError(size: 11, limit: 10))
            _ = try? channel.finish()
        }
        let (channel, sink) = try channel(maxFrameBytes: 10)
        try channel.writeInbound(ByteBuffer(bytes: [0xFF, 0xFF]))
        try channel.writeInbound(ByteBuffer(bytes: [0xFF, 0xFF, 0, 0]))
        #expect(sink.errors.first as? KafkaFrameError == KafkaFrameError(size: -1, limit: 10))
        #expect(sink.frames.isEmpty)
    }

    @Test func aPartialFrameFromAPeerThatLeftIsDroppedSilently() throws {
        let (channel, sink) = try channel()
        var f = wireFrame(correlationId: 3, body: [1, 2, 3])
        try channel.writeInbound(f.readSlice(length: 6)!)
        #expect(try channel.finish().isClean)
        #expect(sink.frames.isEmpty && sink.errors.isEmpty)
    }
}
