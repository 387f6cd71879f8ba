import NIOCore

/// Splits a Kafka byte stream into frames: a big-endian Int32 size, then that many bytes.
///
/// The size is checked against `maxFrameBytes` (Kafka's `socket.request.max.bytes`) *before* any bytes of the
/// payload are buffered, so a forged size can never make the connection allocate more than the limit. A negative
/// or oversized size throws `KafkaFrameError`; the connection handler logs it and closes the connection, as Kafka
/// does. Partial input leaves the reader index where it was. The frame is emitted as a slice of the input buffer
/// (no copy).
public struct KafkaFrameDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = ByteBuffer

    /// Kafka's default `socket.request.max.bytes`.
    public static let defaultMaxFrameBytes = 104_857_600

    public let maxFrameBytes: Int

    public init(maxFrameBytes: Int = KafkaFrameDecoder.defaultMaxFrameBytes) {
        precondition(maxFrameBytes >= 0, "maxFrameBytes must not be negative")
        self.maxFrameBytes = maxFrameBytes
    }

    /// The pure parsing step: returns the next frame's payload and moves the reader index past it, or returns nil
    /// (reader index untouched) when the buffer does not yet hold a whole frame.
    public static func readFrame(from buffer: inout ByteBuffer, maxFrameBytes: Int) throws(KafkaFrameError) -> ByteBuffer? {
        guard let size = buffer.getInteger(at: buffer.readerIndex, as: Int32.self) else { return nil }
        guard size >= 0, Int(size) <= maxFrameBytes else {
            throw KafkaFrameError(size: Int(size), limit: maxFrameBytes)
        }
        guard buffer.readableBytes >= 4 + Int(size) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        return buffer.readSlice(length: Int(size))
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try Self.readFrame(from: &buffer, maxFrameBytes: maxFrameBytes) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        if try decode(context: context, buffer: &buffer) == .continue { return .continue }
        // The peer went away in the middle of a frame: Kafka drops the partial request silently, so do we
        // (rather than letting ByteToMessageHandler report leftover bytes as an error).
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }
}

/// A frame whose size prefix is negative or larger than `socket.request.max.bytes`.
public struct KafkaFrameError: Error, Hashable, CustomStringConvertible {
    /// The size read off the wire (may be negative).
    public var size: Int
    /// The configured limit (`socket.request.max.bytes`).
    public var limit: Int

    public init(size: Int, limit: Int) {
        self.size = size
        self.limit = limit
    }

    public var description: String { "sent a frame of \(size) bytes, limit \(limit)" }
}
