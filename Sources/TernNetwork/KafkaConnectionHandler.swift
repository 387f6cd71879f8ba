import Logging
import NIOCore

/// Runs one Kafka connection: starts every request as soon as its frame arrives (pipelined requests run
/// concurrently) and writes the responses strictly in request order, each behind its 4-byte size prefix.
/// A response's `.file` parts go out as NIO `FileRegion`s (sendfile) between its byte parts; the file's owner is
/// kept until NIO reports the region written, so its descriptor stays open that long.
///
/// Limits: at most `maxInFlightRequests` requests admitted and not yet answered. Beyond that, and while the socket
/// is not writable (the peer is not reading its responses), the handler stops asking the channel for reads, so
/// TCP pushes back on the client. Frames already decoded from the last read wait in a queue (bounded by the size of
/// one read) until a slot frees.
///
/// Errors close the connection with one log line "peer X: reason": an invalid frame size, a frame shorter than the
/// fixed request header, or a request handler that threw (after the responses before it are written).
///
/// Graceful shutdown: on `KafkaConnectionHandler.Drain` the handler stops reading, answers what it already
/// received, then closes.
public final class KafkaConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = IOData

    /// User event that starts a graceful close of the connection.
    public struct Drain: Sendable, Hashable { public init() {} }

    public static let defaultMaxInFlightRequests = 100

    private enum State { case active, draining, closed }

    private let requestHandler: any KafkaRequestHandler
    private let maxInFlightRequests: Int
    private let metrics: NetworkMetrics
    private var logger: Logger
    private var connection: ConnectionContext

    private var state = State.active
    private var ordering = ResponseOrdering()
    /// Decoded frames not yet admitted because `maxInFlightRequests` was reached.
    private var waiting = CircularBuffer<KafkaRequestFrame>()
    /// A `read` the channel asked for while we were holding reads back.
    private var readHeld = false
    /// The future of the last write, so a close waits for the bytes to leave.
    private var lastWrite: EventLoopFuture<Void>?

    /// - Parameters:
    ///   - connection: filled in by the server; `remoteAddress` and `allocator` are refreshed from the channel when it
    ///     becomes active.
    public init(
        requestHandler: any KafkaRequestHandler,
        connection: ConnectionContext,
        maxInFlightRequests: Int = KafkaConnectionHandler.defaultMaxInFlightRequests,
        metrics: NetworkMetrics,
        logger: Logger
    ) {
        precondition(maxInFlightRequests >= 1, "maxInFlightRequests must be at least 1")
        self.requestHandler = requestHandler
        self.connection = connection
        self.maxInFlightRequests = maxInFlightRequests
        self.metrics = metrics
        self.logger = logger
        self.logger[metadataKey: "connection"] = "\(connection.connectionId)"
    }

    // MARK: Lifecycle

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { becameActive(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        becameActive(context: context)
        context.fireChannelActive()
    }

    private var countedActive = false

    private func becameActive(context: ChannelHandlerContext) {
        guard !countedActive else { return }
        countedActive = true
        if let address = context.channel.remoteAddress { connection.remoteAddress = Self.describe(address) }
        connection.allocator = context.channel.allocator
        logger[metadataKey: "peer"] = "\(connection.remoteAddress)"
        metrics.connectionsActive.increment()
        metrics.connectionsTotal.increment()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        if countedActive { metrics.connectionsActive.decrement() }
        countedActive = false
        state = .closed
        ordering.removeAll()
        waiting.removeAll()
        context.fireChannelInactive()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is Drain {
            if state == .active { state = .draining }
            closeIfDrained(context: context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error {
        case let frameError as KafkaFrameError:
            closeOnError(context: context, reason: frameError.description)
        case let decoderError as ByteToMessageDecoderError:
            if case .dataReceivedInErrorState(let underlying, _) = decoderError, underlying is KafkaFrameError {
                return  // already reported and closing
            }
            closeOnError(context: context, reason: "\(decoderError)")
        default:
            // Resets and broken pipes are how clients usually leave; worth a debug line, not a warning.
            logger.debug("peer \(connection.remoteAddress): \(error)")
            if state != .closed { state = .closed; context.close(promise: nil) }
        }
    }

    // MARK: Reading

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard state == .active else { return }  // draining: nothing new is started
        let payload = unwrapInboundIn(data)
        metrics.bytesIn.increment(by: Int64(payload.readableBytes + 4))
        guard let request = KafkaRequestFrame(frame: payload) else {
            closeOnError(
                context: context,
                reason: "sent a frame of \(payload.readableBytes) bytes, shorter than a request header"
            )
            return
        }
        metrics.countRequest(apiKey: request.apiKey)
        if ordering.outstanding < maxInFlightRequests {
            start(request, context: context)
        } else {
            waiting.append(request)
        }
    }

    public func read(context: ChannelHandlerContext) {
        if mayRead(context: context) {
            context.read()
        } else {
            readHeld = true
        }
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        resumeReadingIfPossible(context: context)
        context.fireChannelWritabilityChanged()
    }

    private func mayRead(context: ChannelHandlerContext) -> Bool {
        state == .active && waiting.isEmpty && ordering.outstanding < maxInFlightRequests
            && context.channel.isWritable
    }

    private func resumeReadingIfPossible(context: ChannelHandlerContext) {
        if readHeld, mayRead(context: context) {
            readHeld = false
            context.read()
        }
    }

    // MARK: Requests and responses

    private func start(_ request: KafkaRequestFrame, context: ChannelHandlerContext) {
        let sequence = ordering.admit()
        let future = requestHandler.respond(to: request, context: connection, eventLoop: context.eventLoop)
        future.hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
            let outcome: ResponseOrdering.Outcome
            switch result {
            case .success(.some(let response)): outcome = .response(response)
            case .success(.none): outcome = .noResponse
            case .failure(let error): outcome = .failed(request: request, error: error)
            }
            self.completed(sequence, outcome, context: context)
        }
    }

    private func completed(_ sequence: UInt64, _ outcome: ResponseOrdering.Outcome, context: ChannelHandlerContext) {
        guard state != .closed else { return }
        var wrote = false
        for released in ordering.complete(sequence, with: outcome) {
            switch released {
            case .response(let response):
                if let problem = unsendable(response) {
                    if wrote { context.flush() }
                    closeOnError(
                        context: context,
                        reason: "got a response it cannot send for a request (\(problem))")
                    return
                }
                write(response, context: context)
                wrote = true
            case .noResponse:
                break
            case .failed(let request, let error):
                if wrote { context.flush() }
                closeOnError(
                    context: context,
                    reason: "failed request apiKey=\(request.apiKey) apiVersion=\(request.apiVersion) "
                        + "correlationId=\(request.correlationId): \(error)"
                )
                return
            }
        }
        if wrote { context.flush() }
        admitWaiting(context: context)
        resumeReadingIfPossible(context: context)
        closeIfDrained(context: context)
    }

    private func admitWaiting(context: ChannelHandlerContext) {
        while state != .closed, ordering.outstanding < maxInFlightRequests, let next = waiting.popFirst() {
            start(next, context: context)
        }
    }

    /// Why `response` cannot go out on this connection, or nil. A handler bug, but the connection just closes.
    private func unsendable(_ response: KafkaResponse) -> String? {
        if response.byteCount > Int(Int32.max) { return "\(response.byteCount) bytes exceed a frame" }
        if !connection.supportsFileRegion && response.hasFileParts { return "file parts on a listener without sendfile" }
        return nil
    }

    private func write(_ response: KafkaResponse, context: ChannelHandlerContext) {
        var sizePrefix = context.channel.allocator.buffer(capacity: 4)
        sizePrefix.writeInteger(Int32(response.byteCount))
        metrics.bytesOut.increment(by: Int64(response.byteCount + 4))
        // Several writes, one flush: consecutive buffers leave in one writev, file regions with sendfile between
        // them, and nothing is copied.
        context.write(wrapOutboundOut(.byteBuffer(sizePrefix)), promise: nil)
        for part in response.parts {
            switch part {
            case .bytes(let buffer):
                lastWrite = context.write(wrapOutboundOut(.byteBuffer(buffer)))
            case .file(let slice):
                lastWrite = write(slice, context: context)
            }
        }
    }

    private func write(_ slice: FileSlice, context: ChannelHandlerContext) -> EventLoopFuture<Void> {
        // The handle borrows the owner's descriptor: once NIO is done with the region (written, or failed because
        // the connection closed) we take the descriptor back so the handle never closes it, and only then let the
        // owner go. Its own positional offset makes sharing the descriptor safe.
        let handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: slice.fileDescriptor)
        let region = FileRegion(
            fileHandle: handle, readerIndex: Int(slice.offset), endIndex: Int(slice.offset) + slice.length)
        let written = context.write(wrapOutboundOut(.fileRegion(region)))
        written.whenComplete { _ in
            _ = try? handle.takeDescriptorOwnership()
            withExtendedLifetime(slice.owner) {}
        }
        return written
    }

    // MARK: Closing

    private func closeIfDrained(context: ChannelHandlerContext) {
        guard state == .draining, ordering.outstanding == 0, waiting.isEmpty else { return }
        state = .closed
        if let lastWrite {
            lastWrite.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        } else {
            context.close(promise: nil)
        }
    }

    private func closeOnError(context: ChannelHandlerContext, reason: String) {
        guard state != .closed else { return }
        state = .closed
        metrics.connectionsClosedOnError.increment()
        logger.warning("peer \(connection.remoteAddress) \(reason); closing connection")
        ordering.removeAll()
        waiting.removeAll()
        context.close(promise: nil)
    }

    static func describe(_ address: SocketAddress) -> String {
        switch address {
        case .v4(let v4): return "\(address.ipAddress ?? v4.host):\(address.port ?? 0)"
        case .v6: return "[\(address.ipAddress ?? "?")]:\(address.port ?? 0)"
        case .unixDomainSocket: return address.pathname ?? "unix"
        }
    }
}
