import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing
@testable import TernNetwork

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An open temporary file whose descriptor closes when the last reference goes (like `SegmentFile`).
final class TemporaryFile: @unchecked Sendable {  // immutable after init
    let path: String
    let descriptor: CInt
    let contents: [UInt8]

    init(contents: [UInt8]) throws {
        path = NSTemporaryDirectory() + "tern-fileregion-\(UUID().uuidString)"
        try Data(contents).write(to: URL(fileURLWithPath: path))
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        self.contents = contents
        guard descriptor >= 0 else { throw POSIXError(.ENOENT) }
        unlink(path)  // open but unlinked, like a segment deleted by retention while a fetch sends it
    }

    deinit { close(descriptor) }

    func slice(_ offset: Int, _ length: Int) -> FileSlice {
        FileSlice(fileDescriptor: descriptor, offset: Int64(offset), length: length, owner: self)
    }
}

/// A response of correlation id, some bytes of `file`, and a trailer: the shape of a fetch response.
func partsResponse(correlationId: Int32, file: TemporaryFile, offset: Int, length: Int) -> KafkaResponse {
    var head = ByteBuffer()
    head.writeInteger(correlationId)
    var tail = ByteBuffer()
    tail.writeString("end")
    var response = KafkaResponse(head)
    response.append(file.slice(offset, length))
    response.append(tail)
    return response
}

/// Answers each request with its promise, completed by the test; `respond` is overridden, `handle` unused.
final class PartsHandler: KafkaRequestHandler, @unchecked Sendable {  // used from one thread (Embedded)
    var pending: [Int32: EventLoopPromise<KafkaResponse?>] = [:]

    func handle(_ request: KafkaRequestFrame, context: ConnectionContext) async throws -> ByteBuffer? { nil }

    func respond(
        to request: KafkaRequestFrame, context: ConnectionContext, eventLoop: any EventLoop
    ) -> EventLoopFuture<KafkaResponse?> {
        let promise = eventLoop.makePromise(of: KafkaResponse?.self)
        pending[request.correlationId] = promise
        return promise.futureResult
    }
}

@Suite struct FileRegionResponseTests {
    private func embedded(_ handler: PartsHandler, plaintext: Bool = true) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        let connection = ConnectionContext(
            connectionId: 1, remoteAddress: "test", listenerName: "PLAINTEXT", supportsFileRegion: plaintext)
        try channel.pipeline.syncOperations.addHandlers([
            ByteToMessageHandler(KafkaFrameDecoder(maxFrameBytes: 1 << 20)),
            KafkaConnectionHandler(
                requestHandler: handler, connection: connection, metrics: NetworkMetrics(),
                logger: Logger(label: "test")),
        ])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    /// Reads everything written, turning file regions into the file's bytes, so the stream can be compared.
    private func outboundBytes(_ channel: EmbeddedChannel, file: TemporaryFile) throws -> [UInt8] {
        var bytes: [UInt8] = []
        while let data = try channel.readOutbound(as: IOData.self) {
            switch data {
            case .byteBuffer(let buffer): bytes += buffer.readableBytesView
            case .fileRegion(let region):
                #expect(!region.fileHandle.isOpen, "the handle gives the descriptor back once written")
                bytes += file.contents[region.readerIndex..<region.endIndex]
            }
        }
        return bytes
    }

    @Test func filePartsGoOutAsRegionsInRequestOrder() throws {
        let handler = PartsHandler()
        let channel = try embedded(handler)
        var frames = wireFrame(apiKey: 1, correlationId: 1)
        var second = wireFrame(apiKey: 1, correlationId: 2)
        frames.writeBuffer(&second)
        try channel.writeInbound(frames)
        let file = try TemporaryFile(contents: (0..<200).map { UInt8($0) })

        handler.pending.removeValue(forKey: 2)!.succeed(partsResponse(correlationId: 2, file: file, offset: 100, length: 50))
        #expect(try channel.readOutbound(as: IOData.self) == nil, "response 2 waits for response 1")
        handler.pending.removeValue(forKey: 1)!.succeed(partsResponse(correlationId: 1, file: file, offset: 10, length: 20))

        var expected: [UInt8] = []
        for (id, range) in [(Int32(1), 10..<30), (Int32(2), 100..<150)] {
            var frame = ByteBuffer()
            frame.writeInteger(Int32(4 + range.count + 3))
            frame.writeInteger(id)
            frame.writeBytes(file.contents[range])
            frame.writeString("end")
            expected += frame.readableBytesView
        }
        #expect(try outboundBytes(channel, file: file) == expected)
        #expect(fcntl(file.descriptor, F_GETFD) >= 0, "the network layer never closes the owner's descriptor")
    }

    @Test func ownerIsReleasedOnlyOnceTheRegionIsWritten() throws {
        let handler = PartsHandler()
        let channel = try embedded(handler)
        try channel.writeInbound(wireFrame(apiKey: 1, correlationId: 7))
        weak var weakFile: TemporaryFile?
        do {
            let file = try TemporaryFile(contents: [1, 2, 3, 4])
            weakFile = file
            handler.pending.removeValue(forKey: 7)!.succeed(partsResponse(correlationId: 7, file: file, offset: 0, length: 4))
        }
        // EmbeddedChannel completes write promises on flush, which the handler does after writing; the outbound
        // queue still holds the region (as the socket's pending writes would) until read.
        while try channel.readOutbound(as: IOData.self) != nil {}
        #expect(weakFile == nil)
    }

    @Test func filePartsOnAListenerWithoutSendfileCloseTheConnection() throws {
        let handler = PartsHandler()
        let channel = try embedded(handler, plaintext: false)
        try channel.writeInbound(wireFrame(apiKey: 1, correlationId: 3))
        let file = try TemporaryFile(contents: [9, 9])
        handler.pending.removeValue(forKey: 3)!.succeed(partsResponse(correlationId: 3, file: file, offset: 0, length: 2))
        #expect(!channel.isActive)
    }

    @Test func connectionContextOffersSendfileOnPlaintextOnly() {
        #expect(ConnectionContext(connectionId: 1, remoteAddress: "", listenerName: "P").supportsFileRegion)
        #expect(!ConnectionContext(connectionId: 1, remoteAddress: "", listenerName: "S", securityProtocol: .ssl)
            .supportsFileRegion)
    }
}

/// Serves every request from one file: correlation id, then `length` bytes at `offset`, then "end".
struct FileServingHandler: KafkaRequestHandler {
    let file: TemporaryFile
    let offset: Int
    let length: Int

    func handle(_ request: KafkaRequestFrame, context: ConnectionContext) async throws -> ByteBuffer? { nil }

    func respond(
        to request: KafkaRequestFrame, context: ConnectionContext, eventLoop: any EventLoop
    ) -> EventLoopFuture<KafkaResponse?> {
        eventLoop.makeSucceededFuture(
            partsResponse(correlationId: request.correlationId, file: file, offset: offset, length: length))
    }
}

@Suite struct FileRegionSocketTests {
    @Test func sendfileOverARealSocketDeliversTheFileBytesInOrder() async throws {
        // Larger than a socket buffer, so sendfile returns short and NIO resumes it across writability changes.
        let size = 4 << 20
        var generator = SystemRandomNumberGenerator()
        let seed = UInt64.random(in: 0...UInt64.max, using: &generator)
        var state = seed
        let contents = (0..<size).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        let file = try TemporaryFile(contents: contents)
        let offset = 12_345, length = size - 20_000
        let server = KafkaServer(
            configuration: .init(listeners: [
                KafkaListener(name: "PLAINTEXT", host: "127.0.0.1", port: 0, securityProtocol: .plaintext)
            ]),
            requestHandler: FileServingHandler(file: file, offset: offset, length: length),
            logger: Logger(label: "test"))
        let port = try #require(try await server.start().first?.port)
        defer { Task { await server.shutdown(gracePeriod: .seconds(1)) } }

        let frames = (1...3).map { wireFrame(apiKey: 1, correlationId: Int32($0)) }
        let responses = try await exchangeFrames(port: port, frames: frames, maxFrameBytes: 8 << 20)
        #expect(responses.count == 3)
        for (index, var frame) in responses.enumerated() {
            #expect(frame.readInteger(as: Int32.self) == Int32(index + 1), "seed \(seed)")
            let body = frame.readBytes(length: length)
            #expect(body.map { $0 == Array(contents[offset..<offset + length]) } == true, "seed \(seed)")
            #expect(frame.readString(length: 3) == "end")
        }
        await server.shutdown(gracePeriod: .seconds(1))
    }
}

/// Sends `frames` in one write and returns the response frames (without size prefixes), one per request.
func exchangeFrames(port: Int, frames: [ByteBuffer], maxFrameBytes: Int) async throws -> [ByteBuffer] {
    let client = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
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
        var responses: [ByteBuffer] = []
        for try await var chunk in inbound {
            received.writeBuffer(&chunk)
            while let frame = try KafkaFrameDecoder.readFrame(from: &received, maxFrameBytes: maxFrameBytes) {
                responses.append(frame)
            }
            if responses.count >= frames.count { break }
        }
        return responses
    }
}

/// Records what the server told the handler about the connection.
final class ContextProbe: KafkaRequestHandler, @unchecked Sendable {  // written before the answer is read
    nonisolated(unsafe) var supportsFileRegion: Bool?
    func handle(_ request: KafkaRequestFrame, context: ConnectionContext) async throws -> ByteBuffer? {
        supportsFileRegion = context.supportsFileRegion
        return responsePayload(correlationId: request.correlationId)
    }
}

@Suite struct SendfileSwitchTests {
    @Test(arguments: [true, false])
    func serverPassesItsSendfileSettingToConnections(sendfile: Bool) async throws {
        let probe = ContextProbe()
        var configuration = KafkaServer.Configuration(
            listeners: [KafkaListener(name: "PLAINTEXT", host: "127.0.0.1", port: 0, securityProtocol: .plaintext)])
        configuration.sendfile = sendfile
        let server = KafkaServer(configuration: configuration, requestHandler: probe, logger: Logger(label: "test"))
        let port = try #require(try await server.start().first?.port)
        _ = try await exchangeFrames(port: port, frames: [wireFrame(correlationId: 1)], maxFrameBytes: 1 << 20)
        await server.shutdown(gracePeriod: .seconds(1))
        #expect(probe.supportsFileRegion == sendfile)
    }
}
