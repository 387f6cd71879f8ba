import Logging
import NIOCore
import NIOPosix
import Testing
@testable import TernNetwork

/// Holds every request until `expected` have arrived, then answers them in reverse order: the worst case for
/// response ordering, reached deterministically (no sleeps).
actor ReverseOrderHandler: KafkaRequestHandler {
    private let expected: Int
    private var parked: [CheckedContinuation<Void, Never>] = []

    init(expected: Int) { self.expected = expected }

    nonisolated func handle(_ request: KafkaRequestFrame, context: ConnectionContext) async throws -> ByteBuffer? {
        await park()
        // Every fifth request behaves like acks=0 produce.
        return request.correlationId % 5 == 0 ? nil : responsePayload(correlationId: request.correlationId)
    }

    private func park() async {
        await withCheckedContinuation { continuation in
            parked.append(continuation)
            if parked.count == expected {
                for waiting in parked.reversed() { waiting.resume() }
                parked.removeAll()
            }
        }
    }
}

/// Answers immediately, from the future path.
struct EchoHandler: KafkaRequestHandler {
    func handle(_ request: KafkaRequestFrame, context: ConnectionContext) async throws -> ByteBuffer? {
        responsePayload(correlationId: request.correlationId)
    }
}

/// Sends `frames` in one write and reads until `expectedResponses` responses came back.
func exchange(port: Int, frames: [ByteBuffer], expectedResponses: Int) async throws -> [Int32] {
    let client = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .channelOption(.socketOption(.tcp_nodelay), value: 1)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    return try await client.executeThenClose { inbound, outbound in
        var all = ByteBuffer()
        for var frame in frames { all.writeBuffer(&frame) }
        try await outbound.write(all)
        var received = ByteBuffer()
        var ids: [Int32] = []
        for try await var chunk in inbound {
            received.writeBuffer(&chunk)
            while let frame = try KafkaFrameDecoder.readFrame(from: &received, maxFrameBytes: 1 << 20) {
                ids.append(frame.getInteger(at: frame.readerIndex, as: Int32.self)!)
            }
            if ids.count >= expectedResponses { break }
        }
        return ids
    }
}

@Suite struct KafkaServerTests {
    let listener = KafkaListener(name: "PLAINTEXT", host: "127.0.0.1", port: 0, securityProtocol: .plaintext)

    @Test func pipelinedFramesOverARealSocketComeBackInOrder() async throws {
        let count: Int32 = 50
        let server = KafkaServer(
            configuration: .init(listeners: [listener]),
            requestHandler: ReverseOrderHandler(expected: Int(count)),
            logger: Logger(label: "test")
        )
        let bound = try await server.start()
        let port = try #require(bound.first?.port)
        #expect(port > 0)
        let frames = (1...count).map { wireFrame(correlationId: $0, body: [UInt8](repeating: 7, count: Int($0))) }
        let expected = (1...count).filter { $0 % 5 != 0 }
        let ids = try await exchange(port: port, frames: frames, expectedResponses: expected.count)
        #expect(ids == expected)
        await server.shutdown(gracePeriod: .seconds(5))
    }

    @Test func manyConnectionsAtOnce() async throws {
        let server = KafkaServer(
            configuration: .init(listeners: [listener]),
            requestHandler: EchoHandler(),
            logger: Logger(label: "test")
        )
        let port = try #require(try await server.start().first?.port)
        try await withThrowingTaskGroup(of: [Int32].self) { group in
            for connection in 0..<20 {
                group.addTask {
                    let ids = (0..<10).map { Int32(connection * 100 + $0) }
                    let got = try await exchange(
                        port: port,
                        frames: ids.map { wireFrame(correlationId: $0) },
                        expectedResponses: ids.count
                    )
                    #expect(got == ids)
                    return got
                }
            }
            try await group.waitForAll()
        }
        await server.shutdown(gracePeriod: .seconds(5))
    }

    @Test func unimplementedSecurityProtocolFailsStartUp() async throws {
        let ssl = KafkaListener(name: "SSL", host: "127.0.0.1", port: 0, securityProtocol: .ssl)
        let server = KafkaServer(
            configuration: .init(listeners: [listener, ssl]),
            requestHandler: EchoHandler(),
            logger: Logger(label: "test")
        )
        await #expect(throws: KafkaServerError.self) { try await server.start() }
        #expect(await server.boundListeners.isEmpty)
    }

    @Test func shutdownClosesListenersAndIsIdempotent() async throws {
        let server = KafkaServer(
            configuration: .init(listeners: [listener]),
            requestHandler: EchoHandler(),
            logger: Logger(label: "test")
        )
        let port = try #require(try await server.start().first?.port)
        #expect(try await exchange(port: port, frames: [wireFrame(correlationId: 1)], expectedResponses: 1) == [1])
        await server.shutdown(gracePeriod: .seconds(5))
        await server.shutdown(gracePeriod: .seconds(5))
        #expect(server.connectionCount == 0)
        await #expect(throws: (any Error).self) {
            _ = try await exchange(port: port, frames: [wireFrame(correlationId: 2)], expectedResponses: 1)
        }
    }
}

/// Blocks every request until `release()`; tells the test when a request has arrived.
actor GateHandler: KafkaRequestHandler {
    private var arrived: [CheckedContinuation<Void, Never>] = []
    private var arrivals = 0
    private var gate: [CheckedContinuation<Void, Never>] = []
    private var open = false

    nonisolated func handle(_ request: KafkaRequestFrame, context: ConnectionContext) async throws -> ByteBuffer? {
        await wait()
        return responsePayload(correlationId: request.correlationId)
    }

    private func wait() async {
        arrivals += 1
        for waiter in arrived { waiter.resume() }
        arrived.removeAll()
        if open { return }
        await withCheckedContinuation { gate.append($0) }
    }

    func waitForArrival() async {
        if arrivals > 0 { return }
        await withCheckedContinuation { arrived.append($0) }
    }

    func release() {
        open = true
        for waiter in gate { waiter.resume() }
        gate.removeAll()
    }
}

@Suite struct KafkaServerShutdownTests {
    @Test func shutdownLetsInFlightRequestsFinish() async throws {
        let gate = GateHandler()
        let server = KafkaServer(
            configuration: .init(listeners: [
                KafkaListener(name: "PLAINTEXT", host: "127.0.0.1", port: 0, securityProtocol: .plaintext)
            ]),
            requestHandler: gate,
            logger: Logger(label: "test")
        )
        let port = try #require(try await server.start().first?.port)
        async let response = exchange(port: port, frames: [wireFrame(correlationId: 77)], expectedResponses: 1)
        await gate.waitForArrival()
        async let stopped: Void = server.shutdown(gracePeriod: .seconds(10))
        await gate.release()
        #expect(try await response == [77])
        await stopped
        #expect(server.connectionCount == 0)
    }
}
