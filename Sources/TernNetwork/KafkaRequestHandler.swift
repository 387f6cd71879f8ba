import NIOCore

/// What the broker implements to answer requests. One value serves every connection, concurrently.
public protocol KafkaRequestHandler: Sendable {
    /// Returns the full response payload (response header + body, WITHOUT the 4-byte size prefix), or nil when no
    /// response must be sent (acks=0 produce). Throwing closes the connection with a log line.
    func handle(_ request: KafkaRequestFrame, context: ConnectionContext) async throws -> ByteBuffer?

    /// The path the connection handler actually calls. The default runs the async `handle` in a task; a handler
    /// that can answer without suspending (ApiVersions, Metadata from a snapshot, ...) may override this and return
    /// an already-completed future, which saves a task and two thread hops per request. The returned future may be
    /// on any event loop; `eventLoop` is the connection's own.
    func handle(
        _ request: KafkaRequestFrame,
        context: ConnectionContext,
        eventLoop: any EventLoop
    ) -> EventLoopFuture<ByteBuffer?>

    /// What the connection handler calls: the response as parts, so a handler can send file ranges (fetched
    /// records) with sendfile. The default wraps `handle(_:context:eventLoop:)` in a one-part response; override
    /// it to return `.file` parts, and only when `context.supportsFileRegion`.
    func respond(
        to request: KafkaRequestFrame,
        context: ConnectionContext,
        eventLoop: any EventLoop
    ) -> EventLoopFuture<KafkaResponse?>
}

extension KafkaRequestHandler {
    public func handle(
        _ request: KafkaRequestFrame,
        context: ConnectionContext,
        eventLoop: any EventLoop
    ) -> EventLoopFuture<ByteBuffer?> {
        eventLoop.makeFutureWithTask { try await self.handle(request, context: context) }
    }

    public func respond(
        to request: KafkaRequestFrame,
        context: ConnectionContext,
        eventLoop: any EventLoop
    ) -> EventLoopFuture<KafkaResponse?> {
        handle(request, context: context, eventLoop: eventLoop).map { payload in payload.map { KafkaResponse($0) } }
    }
}

/// What a request handler knows about the connection a request came in on.
public struct ConnectionContext: Sendable {
    /// Unique per server process, increasing.
    public var connectionId: UInt64
    /// `host:port` of the peer (`[v6]:port` for IPv6), for logs and quotas.
    public var remoteAddress: String
    /// The listener's name as configured (`PLAINTEXT`, `INTERNAL`, ...).
    public var listenerName: String
    /// The listener's security protocol.
    public var securityProtocol: ListenerSecurityProtocol
    /// Authenticated principal; `User:ANONYMOUS` until SASL/TLS client auth exist, like Kafka on PLAINTEXT.
    public var principal: String
    /// The channel's allocator, for building responses.
    public var allocator: ByteBufferAllocator
    /// Whether responses may carry `.file` parts (sendfile). True where bytes reach the socket as written
    /// (PLAINTEXT); false where a handler must transform them (TLS), like Kafka's `TransportLayer.transferFrom`.
    public var supportsFileRegion: Bool

    public init(
        connectionId: UInt64,
        remoteAddress: String,
        listenerName: String,
        securityProtocol: ListenerSecurityProtocol = .plaintext,
        principal: String = "User:ANONYMOUS",
        allocator: ByteBufferAllocator = ByteBufferAllocator(),
        supportsFileRegion: Bool? = nil
    ) {
        self.connectionId = connectionId
        self.remoteAddress = remoteAddress
        self.listenerName = listenerName
        self.securityProtocol = securityProtocol
        self.principal = principal
        self.allocator = allocator
        self.supportsFileRegion = supportsFileRegion ?? (securityProtocol == .plaintext)
    }
}
