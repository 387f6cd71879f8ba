import Logging
import NIOCore
import NIOEmbedded
import Testing
@testable import TernNetwork

/// Hands every request's promise to the test, which completes them in whatever order it likes.
/// Only touched from the test's thread (EmbeddedEventLoop runs everything inline).
final class ControlledHandler: KafkaRequestHandler, @unchecked Sendable {
    var pending: [Int32: EventLoopPromise<ByteBuffer?>] = [:]
    var started: [Int32] = []

    func handle(_ request: KafkaRequestFrame, context: ConnectionContext) async throws -> ByteBuffer? {
        Issue.record("the async path should not be used here")
        return nil
    }

    func handle(
        _ request: KafkaRequestFrame,
        context: ConnectionContext,
        eventLoop: any EventLoop
    ) -> EventLoopFuture<ByteBuffer?> {
        let promise = eventLoop.makePromise(of: ByteBuffer?.self)
        pending[request.correlationId] = promise
        started.append(request.correlationId)
        return promise.futureResult
    }

    func answer(_ correlationId: Int32) {
        pending.removeValue(forKey: correlationId)!.succeed(responsePayload(correlationId: correlationId))
    }

    func answerNothing(_ correlationId: Int32) {
        pending.removeValue(forKey: correlationId)!.succeed(nil)
    }

    struct Boom: Error {}
    func fail(_ correlationId: Int32) {
        pending.removeValue(forKey: correlationId)!.fail(Boom())
    }
}

/// Counts `read` calls that get past the connection handler (i.e. reads actually asked of the socket).
final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = Any
    var reads = 0
    func read(context: ChannelHandlerContext) {
        reads += 1
        context.read()
    }
}

struct ConnectionFixture {
    let channel = EmbeddedChannel()
    let handler = ControlledHandler()
    let readCounter = ReadCounter()

    init(maxInFlight: Int = 100, maxFrameBytes: Int = 1 << 20) throws {
        let connection = ConnectionContext(connectionId: 1, remoteAddress: "test", listenerName: "PLAINTEXT")
        try channel.pipeline.syncOperations.addHandlers([
            readCounter,
            ByteToMessageHandler(KafkaFrameDecoder(maxFrameBytes: maxFrameBytes)),
            KafkaConnectionHandler(
                requestHandler: handler,
                connection: connection,
                maxInFlightRequests: maxInFlight,
                metrics: NetworkMetrics(),
                logger: Logger(label: "test")
            ),
        ])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    }

    func send(_ correlationIds: ClosedRange<Int32>) throws {
        var bytes = ByteBuffer()
        for id in correlationIds {
            var frame = wireFrame(correlationId: id)
            bytes.writeBuffer(&frame)
        }
        try channel.writeInbound(bytes)
    }

    /// Correlation ids of everything written so far, in write order.
    func written() throws -> [Int32] {
        var all = ByteBuffer()
        while var part = try channel.readOutbound(as: ByteBuffer.self) { all.writeBuffer(&part) }
        return try correlationIds(inResponseBytes: all)
    }
}

@Suite struct KafkaConnectionHandlerTests {
    @Test func pipelinedRequestsStartAtOnceAndAnswerInOrder() throws {
        let fixture = try ConnectionFixture()
        try fixture.send(1...4)
        #expect(fixture.handler.started == [1, 2, 3, 4])
        fixture.handler.answer(3)
        fixture.handler.answer(2)
        #expect(try fixture.written() == [])
        fixture.handler.answer(1)
        #expect(try fixture.written() == [1, 2, 3])
        fixture.handler.answer(4)
        #expect(try fixture.written() == [4])
        #expect(fixture.channel.isActive)
    }

    @Test func noResponseFreesItsSlotAndKeepsOrder() throws {
        let fixture = try ConnectionFixture()
        try fixture.send(1...3)
        fixture.handler.answer(3)
        fixture.handler.answerNothing(2)  // acks=0
        #expect(try fixture.written() == [])
        fixture.handler.answer(1)
        #expect(try fixture.written() == [1, 3])
    }

    @Test func responseCarriesSizePrefix() throws {
        let fixture = try ConnectionFixture()
        try fixture.send(9...9)
        fixture.handler.answer(9)
        let prefix = try #require(try fixture.channel.readOutbound(as: ByteBuffer.self))
        let payload = try #require(try fixture.channel.readOutbound(as: ByteBuffer.self))
        #expect(prefix.getInteger(at: 0, as: Int32.self) == Int32(payload.readableBytes))
        #expect(payload == responsePayload(correlationId: 9))
    }

    @Test func oversizedFrameClosesTheConnection() throws {
        let fixture = try ConnectionFixture(maxFrameBytes: 16)
        var frame = wireFrame(correlationId: 1, body: [UInt8](repeating: 0, count: 9))  // 17 bytes
        try fixture.channel.writeInbound(frame.readSlice(length: 4)!)  // only the size so far
        #expect(!fixture.channel.isActive)
        #expect(fixture.handler.started.isEmpty)
    }

    @Test func negativeFrameSizeClosesTheConnection() throws {
        let fixture = try ConnectionFixture()
        var bytes = ByteBuffer()
        bytes.writeInteger(Int32(-5))
        try fixture.channel.writeInbound(bytes)
        #expect(!fixture.channel.isActive)
    }

    @Test func frameShorterThanHeaderClosesTheConnection() throws {
        let fixture = try ConnectionFixture()
        try fixture.channel.writeInbound(ByteBuffer(bytes: [0, 0, 0, 3, 0, 18, 0]))
        #expect(!fixture.channel.isActive)
        #expect(fixture.handler.started.isEmpty)
    }

    @Test func handlerErrorWritesEarlierResponsesThenCloses() throws {
        let fixture = try ConnectionFixture()
        try fixture.send(1...3)
        fixture.handler.answer(3)
        fixture.handler.fail(2)
        #expect(fixture.channel.isActive)  // still waiting for 1
        fixture.handler.answer(1)
        #expect(try fixture.written() == [1])
        #expect(!fixture.channel.isActive)
    }

    @Test func readsStopAtTheInFlightLimitAndResume() throws {
        let fixture = try ConnectionFixture(maxInFlight: 2)
        fixture.channel.read()
        #expect(fixture.readCounter.reads == 1)
        try fixture.send(1...3)  // three frames in one read: the third waits
        #expect(fixture.handler.started == [1, 2])
        fixture.channel.read()
        #expect(fixture.readCounter.reads == 1)  // held back
        fixture.handler.answer(1)
        #expect(fixture.handler.started == [1, 2, 3])
        #expect(fixture.readCounter.reads == 1)  // still at the limit (2 and 3 outstanding)
        fixture.handler.answer(2)
        #expect(fixture.readCounter.reads == 2)  // the held read goes through
        fixture.handler.answer(3)
        #expect(try fixture.written() == [1, 2, 3])
    }

    @Test func drainAnswersWhatArrivedThenCloses() throws {
        let fixture = try ConnectionFixture()
        try fixture.send(1...2)
        fixture.channel.pipeline.fireUserInboundEventTriggered(KafkaConnectionHandler.Drain())
        try fixture.send(3...3)  // arrives after the drain started: not started
        #expect(fixture.handler.started == [1, 2])
        fixture.handler.answer(2)
        #expect(fixture.channel.isActive)
        fixture.handler.answer(1)
        #expect(try fixture.written() == [1, 2])
        #expect(!fixture.channel.isActive)
    }

    @Test func drainOfIdleConnectionClosesAtOnce() throws {
        let fixture = try ConnectionFixture()
        fixture.channel.pipeline.fireUserInboundEventTriggered(KafkaConnectionHandler.Drain())
        #expect(!fixture.channel.isActive)
    }

    @Test func lateCompletionAfterCloseIsIgnored() throws {
        let fixture = try ConnectionFixture()
        try fixture.send(1...1)
        try fixture.channel.close().wait()
        fixture.handler.answer(1)
        #expect(try fixture.written() == [])
    }
}
