import Logging
import NIOCore
import NIOPosix

/// Accepts Kafka connections on one or more listeners and hands every request to a `KafkaRequestHandler`.
///
/// Each accepted channel gets, in order: the security handlers of its listener (empty for PLAINTEXT; TLS and SASL
/// slot in here later), `KafkaFrameDecoder` and `KafkaConnectionHandler`. Sockets use TCP_NODELAY (Kafka responses
/// are small and latency-bound) and SO_REUSEADDR (a restarted broker can bind again at once).
///
/// `shutdown()` closes the listeners first, then lets every connection answer the requests it already received,
/// and force-closes what is still open after the grace period.
public actor KafkaServer {
    public struct Configuration: Sendable {
        public var listeners: [KafkaListener]
        /// `socket.request.max.bytes`.
        public var maxFrameBytes: Int
        /// Requests admitted per connection before reads stop.
        public var maxInFlightRequestsPerConnection: Int
        /// Pending-connection queue length passed to listen(2).
        public var backlog: Int32
        /// Whether PLAINTEXT connections may send file parts of responses (fetched records) with sendfile.
        /// Off, records are read into memory and written like any response: on loopback in a VM that costs less
        /// kernel time than sendfile (see the zero-copy commit for figures); over a real NIC sendfile saves a copy.
        public var sendfile = true
        /// `socket.send.buffer.bytes` / `socket.receive.buffer.bytes`: SO_SNDBUF / SO_RCVBUF of accepted
        /// connections; -1 (or 0) leaves the kernel's default and its autotuning.
        public var sendBufferBytes = -1
        public var receiveBufferBytes = -1

        public init(
            listeners: [KafkaListener],
            maxFrameBytes: Int = KafkaFrameDecoder.defaultMaxFrameBytes,
            maxInFlightRequestsPerConnection: Int = KafkaConnectionHandler.defaultMaxInFlightRequests,
            backlog: Int32 = 256
        ) {
            self.listeners = listeners
            self.maxFrameBytes = maxFrameBytes
            self.maxInFlightRequestsPerConnection = maxInFlightRequestsPerConnection
            self.backlog = backlog
        }
    }

    private enum State {
        case idle
        case starting
        case running([(listener: KafkaListener, channel: any Channel)])
        case stopping
        case stopped
    }

    public nonisolated let configuration: Configuration
    private let requestHandler: any KafkaRequestHandler
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let metrics: NetworkMetrics
    private let connections = ConnectionRegistry()
    private var state = State.idle

    public init(
        configuration: Configuration,
        requestHandler: any KafkaRequestHandler,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "tern.network")
    ) {
        self.configuration = configuration
        self.requestHandler = requestHandler
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.metrics = NetworkMetrics()
    }

    /// Binds every listener and returns them with their bound ports (a configured port 0 becomes the real one).
    /// If one listener cannot start, the ones already bound are closed again and the error names the listener.
    @discardableResult
    public func start() async throws -> [KafkaListener] {
        guard case .idle = state else { throw KafkaServerError.alreadyStarted }
        if let unsupported = configuration.listeners.first(where: { !$0.securityProtocol.isImplemented }) {
            throw KafkaServerError.unsupportedSecurityProtocol(listener: unsupported)
        }
        state = .starting
        var bound: [(listener: KafkaListener, channel: any Channel)] = []
        for listener in configuration.listeners {
            do {
                let channel = try await bind(listener)
                var actual = listener
                actual.port = channel.localAddress?.port ?? listener.port
                bound.append((actual, channel))
                logger.info("listening on \(actual)")
            } catch {
                for (_, channel) in bound { try? await channel.close() }
                state = .idle
                throw KafkaServerError.bindFailed(listener: listener, reason: "\(error)")
            }
        }
        state = .running(bound)
        return bound.map(\.listener)
    }

    /// The listeners with their bound ports; empty unless running.
    public var boundListeners: [KafkaListener] {
        if case .running(let bound) = state { return bound.map(\.listener) }
        return []
    }

    /// Number of open client connections.
    public nonisolated var connectionCount: Int { connections.count }

    /// Stops accepting, lets open connections finish the requests they sent, closes them. Idempotent.
    public func shutdown(gracePeriod: Duration = .seconds(30)) async {
        guard case .running(let bound) = state else {
            if case .idle = state { state = .stopped }
            return
        }
        state = .stopping
        for (_, channel) in bound { try? await channel.close() }
        let open = connections.startDraining()
        logger.info("shutting down: draining \(open.count) connection(s)")
        for channel in open {
            channel.pipeline.fireUserInboundEventTriggered(KafkaConnectionHandler.Drain())
        }
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for channel in open { try? await channel.closeFuture.get() }
                return true
            }
            group.addTask {
                try? await Task.sleep(for: gracePeriod)
                return false
            }
            let drained = await group.next() ?? true
            if !drained {
                self.logger.warning("shutdown: connections still busy after \(gracePeriod); closing them")
                for channel in open { channel.close(promise: nil) }
            }
            group.cancelAll()
        }
        state = .stopped
        logger.info("network shut down")
    }

    private func bind(_ listener: KafkaListener) async throws -> any Channel {
        let host = listener.host.isEmpty ? "0.0.0.0" : listener.host
        let connections = self.connections
        let requestHandler = self.requestHandler
        let metrics = self.metrics
        let logger = self.logger
        let maxFrameBytes = configuration.maxFrameBytes
        let maxInFlight = configuration.maxInFlightRequestsPerConnection
        let sendfile = configuration.sendfile && listener.securityProtocol == .plaintext
        let sendBufferBytes = configuration.sendBufferBytes, receiveBufferBytes = configuration.receiveBufferBytes
        var bootstrap = ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.backlog, value: configuration.backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        if receiveBufferBytes > 0 {
            // On the listening socket, so accepted sockets inherit it before the handshake picks a window scale.
            bootstrap = bootstrap.serverChannelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBufferBytes))
        }
        return try await bootstrap
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if sendBufferBytes > 0 {
                        try channel.syncOptions?.setOption(.socketOption(.so_sndbuf), value: SocketOptionValue(sendBufferBytes))
                    }
                    guard let connectionId = connections.register(channel) else {
                        channel.close(promise: nil)  // shutting down: refuse quietly, like a closed listener
                        return
                    }
                    channel.closeFuture.whenComplete { _ in connections.unregister(connectionId) }
                    let connection = ConnectionContext(
                        connectionId: connectionId,
                        remoteAddress: channel.remoteAddress.map(KafkaConnectionHandler.describe) ?? "unknown",
                        listenerName: listener.name,
                        securityProtocol: listener.securityProtocol,
                        allocator: channel.allocator,
                        supportsFileRegion: sendfile
                    )
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandlers(Self.securityHandlers(for: listener))
                    try pipeline.addHandler(ByteToMessageHandler(KafkaFrameDecoder(maxFrameBytes: maxFrameBytes)))
                    try pipeline.addHandler(
                        KafkaConnectionHandler(
                            requestHandler: requestHandler,
                            connection: connection,
                            maxInFlightRequests: maxInFlight,
                            metrics: metrics,
                            logger: logger
                        )
                    )
                }
            }
            .bind(host: host, port: listener.port)
            .get()
    }

    /// The slot where TLS (SSL, SASL_SSL) and SASL authentication (SASL_*) handlers will go. `start()` refuses
    /// listeners whose protocol is not implemented, so only PLAINTEXT reaches here today.
    private static func securityHandlers(for listener: KafkaListener) -> [any ChannelHandler] {
        switch listener.securityProtocol {
        case .plaintext, .ssl, .saslPlaintext, .saslSSL: return []
        }
    }
}

public enum KafkaServerError: Error, CustomStringConvertible {
    case alreadyStarted
    case unsupportedSecurityProtocol(listener: KafkaListener)
    case bindFailed(listener: KafkaListener, reason: String)

    public var description: String {
        switch self {
        case .alreadyStarted:
            return "the Kafka server was already started"
        case .unsupportedSecurityProtocol(let listener):
            return "listener \(listener) uses security protocol \(listener.securityProtocol), which Tern does not "
                + "implement yet (only PLAINTEXT is supported)"
        case .bindFailed(let listener, let reason):
            return "cannot listen on \(listener): \(reason)"
        }
    }
}
