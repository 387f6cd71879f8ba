import FoundationEssentials
import KafkaProtocol
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// One TCP connection to one broker: size-prefixed frames, correlation ids, requests pipelined and answered in
/// order, and the API versions both sides speak (from the ApiVersions handshake done by `connect`).
public final class KafkaConnection: Sendable {
    public let host: String
    public let port: Int
    public let clientId: String
    /// The version ranges the broker advertised, by API key.
    public let brokerVersions: [Int16: ClosedRange<Int16>]
    private let channel: any Channel
    private let correlationIds = NIOLockedValueBox<Int32>(0)

    public var address: String { "\(host):\(port)" }

    private init(host: String, port: Int, clientId: String, channel: any Channel, versions: [Int16: ClosedRange<Int16>]) {
        self.host = host
        self.port = port
        self.clientId = clientId
        self.channel = channel
        self.brokerVersions = versions
    }

    /// Connects and negotiates API versions. Errors name the address: "cannot connect to 127.0.0.1:9092: connection refused".
    public static func connect(
        host: String, port: Int, clientId: String = "tern",
        connectTimeout: Duration = .seconds(10), requestTimeout: Duration = .seconds(30),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> KafkaConnection {
        let address = "\(host):\(port)"
        let timeout = TimeAmount(requestTimeout)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: eventLoopGroup)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(TimeAmount(connectTimeout))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers(
                            ByteToMessageHandler(KafkaResponseFrameDecoder(maxFrameBytes: 1 << 30)),
                            KafkaClientHandler(address: address, requestTimeout: timeout))
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            throw KafkaClientError(.connectionFailed, "cannot connect to \(address): \(describeConnectError(error))")
        }
        let bare = KafkaConnection(host: host, port: port, clientId: clientId, channel: channel, versions: [:])
        do {
            let versions = try await bare.negotiateVersions()
            return KafkaConnection(host: host, port: port, clientId: clientId, channel: channel, versions: versions)
        } catch {
            try? await channel.close()
            throw error
        }
    }

    /// ApiVersions at the newest version we know; a broker that does not know it answers UNSUPPORTED_VERSION in
    /// a v0 body with its ranges, and we ask again at the highest version it listed (KIP-511).
    private func negotiateVersions() async throws -> [Int16: ClosedRange<Int16>] {
        var request = ApiVersionsRequest()
        request.clientSoftwareName = "tern-swift"
        request.clientSoftwareVersion = "0.1"
        var version = ApiVersionsRequest.highestSupportedVersion
        for _ in 0..<2 {
            let body = try await sendRaw(request, version: version)
            var peek = body
            let code = peek.readInteger(as: Int16.self) ?? 0
            if code == ErrorCode.unsupportedVersion.rawValue {
                var v0 = body
                let answer = try ApiVersionsResponse(from: &v0, version: 0)
                guard let theirs = answer.apiKeys.first(where: { $0.apiKey == ApiKey.apiVersions.rawValue }),
                      theirs.maxVersion < version, theirs.maxVersion >= 0
                else { break }
                version = theirs.maxVersion
                continue
            }
            var buffer = body
            let response: ApiVersionsResponse
            do { response = try ApiVersionsResponse(from: &buffer, version: version) } catch {
                throw KafkaClientError(.protocolViolation, "cannot decode ApiVersions v\(version) from \(address): \(error)")
            }
            try check(response.errorCode, "ApiVersions to \(address)")
            var table: [Int16: ClosedRange<Int16>] = [:]
            for key in response.apiKeys where key.minVersion <= key.maxVersion {
                table[key.apiKey] = key.minVersion...key.maxVersion
            }
            return table
        }
        throw KafkaClientError(.unsupportedVersion, "\(address) supports no ApiVersions version this client knows")
    }

    /// The highest version of `key` both sides support, capped by what this client implements.
    public func version(for key: ApiKey, clientRange: ClosedRange<Int16>) throws(KafkaClientError) -> Int16 {
        guard let theirs = brokerVersions[key.rawValue] else {
            throw KafkaClientError(.unsupportedVersion, "broker \(address) does not support \(key.name)")
        }
        let high = min(theirs.upperBound, clientRange.upperBound)
        guard high >= max(theirs.lowerBound, clientRange.lowerBound) else {
            throw KafkaClientError(.unsupportedVersion,
                "broker \(address) supports \(key.name) v\(theirs.lowerBound)-\(theirs.upperBound), client v\(clientRange.lowerBound)-\(clientRange.upperBound)")
        }
        return high
    }

    /// Whether the broker supports `key` at all.
    public func supports(_ key: ApiKey) -> Bool { brokerVersions[key.rawValue] != nil }

    /// Sends `request` at the negotiated version (or `version`) and decodes its response.
    public func send<R: KafkaRequestMessage>(_ request: R, version: Int16? = nil) async throws -> R.Response {
        let v = try version ?? self.version(for: R.apiKey, clientRange: ClientApiVersions.range(R.self))
        var body = try await sendRaw(request, version: v)
        do {
            return try R.Response(from: &body, version: v)
        } catch {
            throw KafkaClientError(.protocolViolation, "cannot decode \(R.apiKey.name) v\(v) response from \(address): \(error)")
        }
    }

    /// Sends a request the broker does not answer (Produce with acks=0); returns once it is written.
    public func sendWithoutResponse<R: KafkaRequestMessage>(_ request: R, version: Int16? = nil) async throws {
        let v = try version ?? self.version(for: R.apiKey, clientRange: ClientApiVersions.range(R.self))
        let (frame, id) = try encode(request, version: v)
        try await write(OutboundKafkaRequest(correlationId: id, apiKey: R.apiKey, frame: frame, response: nil))
    }

    /// Writes `request` now, before returning, so requests issued one after another from one thread or actor
    /// reach the socket in that order (the idempotent producer's sequence numbers depend on it). `expectResponse`
    /// false is for acks=0 Produce: the future completes once the bytes are written, with nil.
    public func sendOrdered<R: KafkaRequestMessage>(_ request: R, expectResponse: Bool = true) -> EventLoopFuture<R.Response?> {
        let eventLoop = channel.eventLoop
        let v: Int16
        let frame: ByteBuffer
        let id: Int32
        do {
            v = try version(for: R.apiKey, clientRange: ClientApiVersions.range(R.self))
            (frame, id) = try encode(request, version: v)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        let address = self.address
        let promise = expectResponse ? eventLoop.makePromise(of: ByteBuffer.self) : nil
        let written = channel.writeAndFlush(OutboundKafkaRequest(correlationId: id, apiKey: R.apiKey, frame: frame, response: promise))
        guard let promise else {
            return written.map { nil }.flatMapErrorThrowing { error in
                throw KafkaClientError(.connectionClosed, "cannot send \(R.apiKey.name) to \(address): \(error)")
            }
        }
        written.whenFailure { error in
            promise.fail(error as? KafkaClientError ?? KafkaClientError(.connectionClosed, "cannot send \(R.apiKey.name) to \(address): \(error)"))
        }
        return promise.futureResult.flatMapThrowing { response in
            var body = response
            do {
                _ = try ResponseHeader(from: &body, version: R.apiKey.responseHeaderVersion(v))
                return try R.Response(from: &body, version: v)
            } catch {
                throw KafkaClientError(.protocolViolation, "cannot decode \(R.apiKey.name) v\(v) response from \(address): \(error)")
            }
        }
    }

    /// Sends and returns the response body after its header.
    private func sendRaw<R: KafkaRequestMessage>(_ request: R, version: Int16) async throws -> ByteBuffer {
        let (frame, id) = try encode(request, version: version)
        let promise = channel.eventLoop.makePromise(of: ByteBuffer.self)
        try await write(OutboundKafkaRequest(correlationId: id, apiKey: R.apiKey, frame: frame, response: promise))
        var response = try await promise.futureResult.get()
        do {
            _ = try ResponseHeader(from: &response, version: R.apiKey.responseHeaderVersion(version))
        } catch {
            throw KafkaClientError(.protocolViolation, "bad \(R.apiKey.name) response header from \(address): \(error)")
        }
        return response
    }

    private func write(_ request: OutboundKafkaRequest) async throws {
        do {
            try await channel.writeAndFlush(request)
        } catch let error as KafkaClientError {
            request.response?.fail(error)
            throw error
        } catch {
            let wrapped = KafkaClientError(.connectionClosed, "cannot send \(request.apiKey.name) to \(address): \(error)")
            request.response?.fail(wrapped)
            throw wrapped
        }
    }

    private func encode<R: KafkaRequestMessage>(_ request: R, version: Int16) throws -> (ByteBuffer, Int32) {
        let id = correlationIds.withLockedValue { value -> Int32 in
            value = value == Int32.max ? 0 : value + 1
            return value
        }
        var header = RequestHeader()
        header.requestApiKey = R.apiKey.rawValue
        header.requestApiVersion = version
        header.correlationId = id
        header.clientId = clientId
        var frame = channel.allocator.buffer(capacity: 256)
        frame.writeInteger(Int32(0))
        try header.write(to: &frame, version: R.apiKey.requestHeaderVersion(version))
        try request.write(to: &frame, version: version)
        frame.setInteger(Int32(frame.readableBytes - 4), at: 0)
        return (frame, id)
    }

    public var isActive: Bool { channel.isActive }

    public func close() async {
        try? await channel.close()
    }
}

/// The highest version of each API this client implements (it fills every field those versions carry).
/// Fetch stops at 12: from 13 topics are named by id, which this client does not track yet.
enum ClientApiVersions {
    static let caps: [ApiKey: Int16] = [.fetch: 12]

    static func range<R: KafkaRequestMessage>(_ type: R.Type) -> ClosedRange<Int16> {
        R.lowestSupportedVersion...min(R.highestSupportedVersion, caps[R.apiKey] ?? R.highestSupportedVersion)
    }
}

/// "connection refused" rather than NIO's type dump.
func describeConnectError(_ error: any Error) -> String {
    if let e = error as? NIOConnectionError {
        if let first = e.connectionErrors.first { return describeConnectError(first.error) }
        if e.dnsAError != nil || e.dnsAAAAError != nil { return "unknown host \(e.host)" }
        return "no address for \(e.host)"
    }
    if let e = error as? IOError {
        return String(cString: strerror(e.errnoCode)).lowercased()
    }
    if error is ChannelError, case .connectTimeout = error as! ChannelError { return "connection timed out" }
    return "\(error)"
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
