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

    /// Inside a frame that spans reads: it has capacity for all of it and fills up to `partialSize`. A stored
    /// optional, mutated in place, so it stays uniquely referenced and appends never copy what it already holds.
    private var partial: ByteBuffer?
    private var partialSize = 0
    /// The first bytes (1 to 3) of a size prefix split across reads.
    private var prefix: ByteBuffer?
    /// A bad size prefix was reported: the stream cannot be resynchronised, later bytes are dropped.
    private var failed = false

    public let maxFrameBytes: Int

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
        partial = nil  // a partial frame from a peer that went away is dropped
        prefix = nil
        context.fireChannelInactive()
    }

    /// Reads what `input` holds, calling `emit` for each complete frame in order. Internal for tests.
    func consume(
        _ input: inout ByteBuffer, allocator: ByteBufferAllocator, emit: (ByteBuffer) -> Void
    ) throws(KafkaFrameError) {
        while input.readableBytes > 0 && !failed {
            if partial != nil {
                var chunk = input.readSlice(length: min(partialSize - partial!.readableBytes, input.readableBytes))!
                partial!.writeBuffer(&chunk)
                if partial!.readableBytes == partialSize { emit(takePartial()) }
            } else if prefix != nil {
                var rest = input.readSlice(length: min(4 - prefix!.readableBytes, input.readableBytes))!
                prefix!.writeBuffer(&rest)
                if prefix!.readableBytes == 4 {
                    let size = Int(prefix!.readInteger(as: Int32.self)!)
                    prefix = nil
                    try startFrame(size: size, allocator: allocator)
                    if size == 0 { emit(takePartial()) }
                }
            } else {
                // The common case: frames whole inside this read are slices of it.
                let whole: ByteBuffer?
                do {
                    whole = try KafkaFrameDecoder.readFrame(from: &input, maxFrameBytes: maxFrameBytes)
                } catch {
                    failed = true
                    throw error
                }
                if let frame = whole {
                    emit(frame)
                } else if input.readableBytes >= 4 {
                    try startFrame(size: Int(input.readInteger(as: Int32.self)!), allocator: allocator)  // size checked
                } else {
                    prefix = allocator.buffer(capacity: 4)
                    prefix!.writeBuffer(&input)
                }
            }
        }
        if failed { input.moveReaderIndex(to: input.writerIndex) }
    }

    private func startFrame(size: Int, allocator: ByteBufferAllocator) throws(KafkaFrameError) {
        guard size >= 0, size <= maxFrameBytes else {
            failed = true
            throw KafkaFrameError(size: size, limit: maxFrameBytes)
        }
        partial = allocator.buffer(capacity: size)
        partialSize = size
    }

    /// Where the frame being filled lives; tests check it never moves (no copy on append).
    var partialStorageAddress: UnsafeRawPointer? { partial?.withVeryUnsafeBytes { $0.baseAddress } }

    private func takePartial() -> ByteBuffer {
        defer { partial = nil }
        return partial!
    }
}
