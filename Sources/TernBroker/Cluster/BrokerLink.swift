import KafkaProtocol
import NIOCore
import NIOPosix
import TernNetwork

/// A minimal Kafka client connection between brokers (a follower's fetches to its leader): one TCP connection,
/// requests framed with a v2 header, responses matched by correlation id. Not a general client: no metadata,
/// no retries; the owner reconnects when a call fails.
final class BrokerLink: Sendable {
    let channel: any Channel
    private let matcher: ResponseMatcher
    private let clientId: String

    static func connect(host: String, port: Int, clientId: String, group: any EventLoopGroup) async throws -> BrokerLink {
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
        return BrokerLink(channel: channel, matcher: matcher, clientId: clientId)
    }

    private init(channel: any Channel, matcher: ResponseMatcher, clientId: String) {
        self.channel = channel
        self.matcher = matcher
        self.clientId = clientId
    }

    func close() { channel.close(promise: nil) }

    /// Sends one request at `version` (flexible versions get header v2 / response header v1) and decodes the reply.
    func send<R: KafkaRequestMessage>(_ request: R, version: Int16, flexible: Bool) async throws -> R.Response {
        let promise = channel.eventLoop.makePromise(of: ByteBuffer.self)
        let loop = channel.eventLoop
        let channel = self.channel
        let matcher = self.matcher
        let clientId = self.clientId
        loop.execute {
            let correlationId = matcher.register(promise)
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
            channel.writeAndFlush(buffer, promise: nil)
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

    func register(_ promise: EventLoopPromise<ByteBuffer>) -> Int32 {
        nextId &+= 1
        pending[nextId] = promise
        return nextId
    }

    func fail(_ id: Int32, _ error: any Error) { pending.removeValue(forKey: id)?.fail(error) }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard let id = frame.getInteger(at: frame.readerIndex, as: Int32.self), let p = pending.removeValue(forKey: id) else {
            context.close(promise: nil)  // a reply nobody asked for: the stream is out of step
            return
        }
        p.succeed(frame)
    }

    func channelInactive(context: ChannelHandlerContext) {
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
