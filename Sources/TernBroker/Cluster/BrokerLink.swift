import KafkaProtocol
import NIOCore
import NIOPosix
import TernNetwork

/// A minimal Kafka client connection between brokers (a follower's fetches to its leader): one TCP connection,
/// requests framed with a v2 header, responses matched by correlation id. Not a general client: no metadata,
/// no retries; the owner reconnects when a call fails.
///
/// Every `send` ends: with the reply, or with an error once the connection is closed (also when it closed before
/// the call, between two requests of a link its owner keeps) or after `requestTimeout` without a reply (Kafka's
/// replica.socket.timeout.ms / controller.socket.timeout.ms, 30 s), which also closes the connection.
final class BrokerLink: Sendable {
    let channel: any Channel
    private let matcher: ResponseMatcher
    private let clientId: String
    private let requestTimeout: TimeAmount

    static func connect(
        host: String, port: Int, clientId: String, group: any EventLoopGroup, requestTimeout: TimeAmount = .seconds(30)
    ) async throws -> BrokerLink {
        let matcher = ResponseMatcher()
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(5))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    // Responses can be as large as a fetch's max bytes; 100 MiB is Kafka's socket.request.max.bytes.
                    try ch.pipeline.syncOperations.addHandler(ByteToMessageHandler(KafkaFrameDecoder()))
                    try ch.pipeline.syncOperations.addHandler(matcher)
                }
            }
            .connect(host: host, port: port).get()
        return BrokerLink(channel: channel, matcher: matcher, clientId: clientId, requestTimeout: requestTimeout)
    }

    private init(channel: any Channel, matcher: ResponseMatcher, clientId: String, requestTimeout: TimeAmount) {
        self.channel = channel
        self.matcher = matcher
        self.clientId = clientId
        self.requestTimeout = requestTimeout
    }

    func close() { channel.close(promise: nil) }

    /// Sends one request at `version` (flexible versions get header v2 / response header v1) and decodes the reply.
    func send<R: KafkaRequestMessage>(_ request: R, version: Int16, flexible: Bool) async throws -> R.Response {
        let promise = channel.eventLoop.makePromise(of: ByteBuffer.self)
        let loop = channel.eventLoop
        let channel = self.channel
        let matcher = self.matcher
        let clientId = self.clientId
        let requestTimeout = self.requestTimeout
        loop.execute {
            guard let correlationId = matcher.register(promise) else { return }  // already closed: failed at once
            var header = RequestHeader()
            header.requestApiKey = R.apiKey.rawValue
            header.requestApiVersion = version
            header.correlationId = correlationId
            header.clientId = clientId
            var buffer = channel.allocator.buffer(capacity: 256)
            buffer.writeInteger(Int32(0))
            do {
                try header.write(to: &buffer, version: flexible ? 2 : 1)
                try request.write(to: &buffer, version: version)
            } catch {
                matcher.fail(correlationId, error)
                return
            }
            buffer.setInteger(Int32(buffer.readableBytes - 4), at: buffer.readerIndex)
            channel.writeAndFlush(buffer).whenFailure { matcher.fail(correlationId, $0) }
            let timeout = loop.scheduleTask(in: requestTimeout) {
                // A reply may still come later: the stream is out of step, so the connection goes.
                if matcher.fail(correlationId, BrokerLinkError.requestTimedOut(requestTimeout)) { channel.close(promise: nil) }
            }
            promise.futureResult.whenComplete { _ in timeout.cancel() }
        }
        var body = try await promise.futureResult.get()
        _ = try ResponseHeader(from: &body, version: flexible ? 1 : 0)
        return try R.Response(from: &body, version: version)
    }
}

/// Matches response frames to waiting promises. Only touched on the channel's event loop.
private final class ResponseMatcher: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private var nextId: Int32 = 0
    private var pending: [Int32: EventLoopPromise<ByteBuffer>] = [:]
    /// Set once the channel went inactive: nothing registered after that could ever be answered or failed.
    private var closed = false

    /// The correlation id for `promise`, or nil (and `promise` failed) when the connection is already closed.
    func register(_ promise: EventLoopPromise<ByteBuffer>) -> Int32? {
        guard !closed else {
            promise.fail(ChannelError.ioOnClosedChannel)
            return nil
        }
        nextId &+= 1
        pending[nextId] = promise
        return nextId
    }

    /// Fails the request `id` if it is still waiting; true if it was.
    @discardableResult
    func fail(_ id: Int32, _ error: any Error) -> Bool {
        guard let p = pending.removeValue(forKey: id) else { return false }
        p.fail(error)
        return true
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard let id = frame.getInteger(at: frame.readerIndex, as: Int32.self), let p = pending.removeValue(forKey: id) else {
            context.close(promise: nil)  // a reply nobody asked for: the stream is out of step
            return
        }
        p.succeed(frame)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        failAll(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(error)
        context.close(promise: nil)
    }

    private func failAll(_ error: any Error) {
        let all = pending
        pending = [:]
        for p in all.values { p.fail(error) }
    }
}

enum BrokerLinkError: Error, CustomStringConvertible {
    case requestTimedOut(TimeAmount)

    var description: String {
        switch self {
        case .requestTimedOut(let t): "no response within \(t.nanoseconds / 1_000_000) ms"
        }
    }
}
