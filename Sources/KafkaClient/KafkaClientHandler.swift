import KafkaProtocol
import NIOCore

/// A request on its way to the socket: the whole frame (size prefix included) and the promise its response
/// completes. `response` is nil for requests the broker never answers (Produce with acks=0).
struct OutboundKafkaRequest: Sendable {
    var correlationId: Int32
    var apiKey: ApiKey
    var frame: ByteBuffer
    var response: EventLoopPromise<ByteBuffer>?
}

/// Matches response frames to requests. Kafka answers the requests of one connection in the order they
/// arrived, so the oldest pending request owns the next response; its correlation id must match, or the
/// connection is out of step and is closed (as Java's NetworkClient does).
///
/// Each request carries a timeout (`request.timeout.ms`); when one expires the connection is closed and every
/// pending request fails, because later responses can no longer be trusted to line up.
final class KafkaClientHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = OutboundKafkaRequest
    typealias OutboundOut = ByteBuffer

    private struct Pending {
        var correlationId: Int32
        var apiKey: ApiKey
        var promise: EventLoopPromise<ByteBuffer>
        var timeout: Scheduled<Void>?
    }

    private var pending = CircularBuffer<Pending>()
    private let address: String
    private let requestTimeout: TimeAmount

    init(address: String, requestTimeout: TimeAmount) {
        self.address = address
        self.requestTimeout = requestTimeout
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if let response = request.response {
            let id = request.correlationId
            let api = request.apiKey
            let timeout = context.eventLoop.assumeIsolated().scheduleTask(in: requestTimeout) { [weak self] in
                guard let self else { return }
                self.failAll(KafkaClientError(
                    .timedOut, "\(api.name) request \(id) to \(self.address) timed out after \(self.requestTimeout.nanoseconds / 1_000_000) ms"))
                context.close(promise: nil)
            }
            pending.append(Pending(correlationId: id, apiKey: api, promise: response, timeout: timeout))
        }
        context.write(wrapOutboundOut(request.frame), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard let id = frame.getInteger(at: frame.readerIndex, as: Int32.self) else {
            fail(context, KafkaClientError(.protocolViolation, "response from \(address) shorter than its header"))
            return
        }
        guard let first = pending.popFirst() else {
            fail(context, KafkaClientError(.protocolViolation, "unexpected response \(id) from \(address)"))
            return
        }
        first.timeout?.cancel()
        guard first.correlationId == id else {
            first.promise.fail(KafkaClientError(
                .protocolViolation, "\(address) answered correlation id \(id), expected \(first.correlationId)"))
            fail(context, KafkaClientError(.connectionClosed, "connection to \(address) out of step"))
            return
        }
        first.promise.succeed(frame)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(KafkaClientError(.connectionClosed, "connection to \(address) closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context, KafkaClientError(.connectionClosed, "connection to \(address) failed: \(error)"))
    }

    private func fail(_ context: ChannelHandlerContext, _ error: KafkaClientError) {
        failAll(error)
        context.close(promise: nil)
    }

    private func failAll(_ error: KafkaClientError) {
        while let p = pending.popFirst() {
            p.timeout?.cancel()
            p.promise.fail(error)
        }
    }
}

/// Splits the byte stream into response frames (Int32 size, then the bytes), emitting the bytes after the size.
struct KafkaResponseFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    /// Bounds what a forged size can make the client buffer (Java's default is unlimited; 1 GiB is plenty
    /// for fetch.max.bytes of 50 MiB).
    let maxFrameBytes: Int

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let size = buffer.getInteger(at: buffer.readerIndex, as: Int32.self) else { return .needMoreData }
        guard size >= 0, Int(size) <= maxFrameBytes else {
            throw KafkaClientError(.protocolViolation, "response frame of \(size) bytes (limit \(maxFrameBytes))")
        }
        guard buffer.readableBytes >= 4 + Int(size) else {
            // Room for the whole frame now, so a large fetch response is copied in once as it arrives rather than
            // again at every doubling of the buffer (bounded: a forged size reserves at most 64 MiB up front).
            buffer.reserveCapacity(minimumWritableBytes: max(0, min(4 + Int(size), 64 << 20) - buffer.readableBytes))
            return .needMoreData
        }
        buffer.moveReaderIndex(forwardBy: 4)
        context.fireChannelRead(wrapInboundOut(buffer.readSlice(length: Int(size))!))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }
}
