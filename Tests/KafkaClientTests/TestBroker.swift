import Foundation
import Logging
import NIOCore
import NIOPosix
import TernBroker
import TernNetwork

@testable import KafkaClient

/// A real broker in this process on 127.0.0.1 and an ephemeral port, wired as `tern server` wires it.
final class TestBroker: @unchecked Sendable {
    let dir: String
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    let broker: Broker
    let server: KafkaServer
    let port: Int

    var bootstrap: String { "127.0.0.1:\(port)" }

    static func start(_ configure: (inout BrokerConfig) -> Void = { _ in }) async throws -> TestBroker {
        let dir = NSTemporaryDirectory() + "tern-client-\(UUID().uuidString)"
        var config = BrokerConfig()
        config.logDirs = [dir]
        config.raw["log.dirs"] = dir
        config.listeners = [KafkaListener(name: "PLAINTEXT", host: "127.0.0.1", port: 0, securityProtocol: .plaintext)]
        config.advertisedListeners = config.listeners
        config.offsetsTopicReplicationFactor = 1
        config.groupInitialRebalanceDelayMs = 0
        configure(&config)
        _ = try MetaProperties.loadOrCreate(logDir: dir, nodeId: config.brokerId)
        return try await TestBroker(dir: dir, config: config)
    }

    private init(dir: String, config: BrokerConfig) async throws {
        self.dir = dir
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        broker = try Broker(config: config, eventLoopGroup: group, logger: logger)
        server = KafkaServer(
            configuration: .init(listeners: config.listeners, maxFrameBytes: config.socketRequestMaxBytes),
            requestHandler: broker, eventLoopGroup: group, logger: logger)
        let bound = try await server.start()
        broker.listenersBound(bound)
        try broker.start()
        port = bound[0].port
    }

    func stop() async {
        await server.shutdown(gracePeriod: .seconds(1))
        broker.shutdown()
        try? await group.shutdownGracefully()
        try? FileManager.default.removeItem(atPath: dir)
    }
}

/// Runs `body` against a fresh broker and stops it afterwards, even when the body throws.
func withBroker(_ body: (TestBroker) async throws -> Void) async throws {
    let b = try await TestBroker.start()
    do {
        try await body(b)
    } catch {
        await b.stop()
        throw error
    }
    await b.stop()
}
