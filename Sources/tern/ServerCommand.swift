import ArgumentParser
import Logging
import NIOCore
import NIOPosix
import TernBroker
import TernNetwork

/// `tern server [PATH] [--override key=value]...`, like `kafka-server-start.sh server.properties --override k=v`.
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Start a broker.",
        discussion: """
            Reads a Kafka server.properties file (or uses built-in defaults: one broker, \
            PLAINTEXT://127.0.0.1:9092, log.dirs=./data), applies --override pairs, and serves until \
            SIGTERM or SIGINT, on which it stops accepting, finishes in-flight requests and exits 0.
            """
    )

    @Argument(help: "Path to a server.properties file. Without one, built-in defaults are used.")
    var path: String?

    @Option(name: .customLong("override"), help: ArgumentHelp("Set a property after the file is read.", valueName: "key=value"))
    var overrides: [String] = []

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardOutput(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "tern")

        let config: BrokerConfig
        do {
            config = try BrokerConfig.load(path: path, overrides: overrides)
        } catch {
            logger.critical("invalid configuration: \(error)")
            throw ExitCode(1)
        }
        for warning in config.warnings { logger.warning("\(warning)") }
        let meta: MetaProperties
        do {
            meta = try MetaProperties.loadOrCreate(logDir: config.logDirs[0], nodeId: config.brokerId)
        } catch {
            logger.critical("cannot prepare log directory \(config.logDirs[0]): \(error)")
            throw ExitCode(1)
        }
        logger.info("cluster.id=\(meta.clusterId) broker.id=\(config.brokerId) log.dirs=\(config.logDirs.joined(separator: ","))")

        let signals = ShutdownSignals()  // before start, so an early SIGTERM is not lost
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let broker: Broker
        do {
            broker = try makeBroker(config: config, group: group)
        } catch {
            logger.critical("cannot start the broker: \(error)")
            try? await group.shutdownGracefully()
            throw ExitCode(1)
        }
        let handler = broker
        var network = KafkaServer.Configuration(listeners: config.listeners, maxFrameBytes: config.socketRequestMaxBytes)
        network.sendBufferBytes = config.socketSendBufferBytes
        network.receiveBufferBytes = config.socketReceiveBufferBytes
        let server = KafkaServer(
            configuration: network,
            requestHandler: handler,
            eventLoopGroup: group,
            logger: Logger(label: "tern.network")
        )
        let bound: [KafkaListener]
        do {
            bound = try await server.start()
        } catch {
            logger.critical("\(error)")
            try? await group.shutdownGracefully()
            throw ExitCode(1)
        }
        let advertised = config.advertised(boundListeners: bound)
        broker.listenersBound(bound)
        do {
            try broker.start()
        } catch {
            logger.critical("cannot start the coordinators: \(error)")
            await server.shutdown(gracePeriod: .seconds(1))
            broker.shutdown()
            try? await group.shutdownGracefully()
            throw ExitCode(1)
        }
        logger.info("advertised listeners: \(advertised.map(\.description).joined(separator: ","))")
        logger.info(
            "Tern started (broker.id=\(config.brokerId)) listening on \(bound.map(\.description).joined(separator: ","))"
        )

        let signal = await signals.next()
        logger.info("received \(signal), shutting down")
        // In a cluster, hand leadership to the other replicas while clients can still be told where it went.
        await broker.controlledShutdown()
        await server.shutdown(gracePeriod: .seconds(30))
        broker.shutdown()
        try? await group.shutdownGracefully()
        logger.info("Tern stopped (broker.id=\(config.brokerId))")
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
