import NIOCore

/// Splits a Kafka byte stream into frames like `KafkaFrameDecoder`, without `ByteToMessageHandler`'s cumulation
/// buffer. That buffer appends every socket read to what it holds, so a large request arriving in many reads is
/// copied again each time the buffer grows, and each time its storage is still shared with the previous frame's
/// slice. Here:
///
/// - frames wholly inside one read are emitted as slices of that read (no copy);
/// - a frame that spans reads gets one buffer of exactly its size once its 4-byte size is known, and each read's
///   bytes are copied into it once, so a 1 MB request costs one copy of its bytes.
///
/// The size is checked against `maxFrameBytes` (Kafka's `socket.request.max.bytes`) before anything is allocated
/// for the payload; a negative or oversized size fires a `KafkaFrameError` (the connection handler logs it and
/// closes the connection) and every later byte is dropped. A frame cut short by the peer closing is dropped
/// silently, as Kafka does.
public final class KafkaFrameReader: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    private enum State {
        /// Between frames; `prefix` holds the first bytes of a size prefix split across reads (0 to 3 of them).
        case awaitingSize(prefix: ByteBuffer?)
        /// Inside a frame that spans reads: `frame` has capacity for all of it and fills up to `size`.
        case filling(frame: ByteBuffer, size: Int)
        /// A bad size prefix was reported: the stream cannot be resynchronised.
        case failed
    }

    public let maxFrameBytes: Int
    private var state = State.awaitingSize(prefix: nil)

    public init(maxFrameBytes: Int = KafkaFrameDecoder.defaultMaxFrameBytes) {
        precondition(maxFrameBytes >= 0, "maxFrameBytes must not be negative")
        self.maxFrameBytes = maxFrameBytes
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        do {
            try consume(&input, allocator: context.channel.allocator) { frame in
                context.fireChannelRead(wrapInboundOut(frame))
            }
        } catch {
            context.fireErrorCaught(error)
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        state = .awaitingSize(prefix: nil)  // a partial frame from a peer that went away is dropped
        context.fireChannelInactive()
    }

    /// Reads what `input` holds, calling `emit` for each complete frame in order. Internal for tests.
    func consume(
        _ input: inout ByteBuffer, allocator: ByteBufferAllocator, emit: (ByteBuffer) -> Void
    ) throws(KafkaFrameError) {
        while input.readableBytes > 0 {
            switch state {
            case .failed:
                input.moveReaderIndex(to: input.writerIndex)
            case .filling(var frame, let size):
                state = .failed  // drop the reference while appending, so `frame` stays uniquely owned (no copy)
                var chunk = input.readSlice(length: min(size - frame.readableBytes, input.readableBytes))!
                frame.writeBuffer(&chunk)
                if frame.readableBytes == size {
                    state = .awaitingSize(prefix: nil)
                    emit(frame)
                } else {
                    state = .filling(frame: frame, size: size)
                }
            case .awaitingSize(nil):
                // The common case: frames whole inside this read are slices of it.
                let whole: ByteBuffer?
                do {
                    whole = try KafkaFrameDecoder.readFrame(from: &input, maxFrameBytes: maxFrameBytes)
                } catch {
                    state = .failed
                    throw error
                }
                if let frame = whole {
                    emit(frame)
                } else if input.readableBytes >= 4 {
                    let size = Int(input.readInteger(as: Int32.self)!)  // already checked by readFrame
                    state = .filling(frame: allocator.buffer(capacity: size), size: size)
                } else {
                    var prefix = allocator.buffer(capacity: 4)
                    prefix.writeBuffer(&input)
                    state = .awaitingSize(prefix: prefix)
                }
            case .awaitingSize(var prefix?):
                var rest = input.readSlice(length: min(4 - prefix.readableBytes, input.readableBytes))!
                prefix.writeBuffer(&rest)
                guard prefix.readableBytes == 4 else {
                    state = .awaitingSize(prefix: prefix)
                    continue
                }
                let size = Int(prefix.readInteger(as: Int32.self)!)
                guard size >= 0, size <= maxFrameBytes else {
                    state = .failed
                    throw KafkaFrameError(size: size, limit: maxFrameBytes)
                }
                state = .filling(frame: allocator.buffer(capacity: size), size: size)
            }
            if case .filling(let frame, 0) = state {  // an empty frame whose prefix ended a read
                state = .awaitingSize(prefix: nil)
                emit(frame)
            }
        }
    }
}
