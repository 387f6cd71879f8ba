import KafkaProtocol
import Logging
import NIOCore
import TernNetwork

/// Everything a handler needs to know about the request it serves.
public struct RequestContext: Sendable {
    public var header: RequestHeader
    public var apiKey: ApiKey
    public var apiVersion: Int16
    public var connection: ConnectionContext
    /// The connection's event loop: handlers that wait (long-poll fetch, join group) complete their future here.
    public var eventLoop: any EventLoop
    public var clientId: String { header.clientId ?? "" }
}

/// Why a request could not be served; the connection is closed with this reason logged, as Kafka does.
struct RequestRejection: Error, CustomStringConvertible {
    let description: String
}

extension Broker {
    /// The single entry point of every request: version check, header and body decoding, authorization (one place,
    /// ready for ACLs), the API's handler, response encoding. Unknown APIs, unsupported versions (other than
    /// ApiVersions) and undecodable requests close the connection, which is what Kafka does.
    ///
    /// Handlers run synchronously in arrival order on the connection's event loop up to their first wait, so
    /// pipelined produce requests of one connection are appended in the order they were sent (idempotent
    /// producers with 5 in flight depend on it); only waits (acks, long polls, rebalances) complete later.
    public func handle(
        _ request: KafkaRequestFrame, context: ConnectionContext, eventLoop: any EventLoop
    ) -> EventLoopFuture<ByteBuffer?> {
        do {
            return try dispatch(request, context: context, eventLoop: eventLoop)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }

    /// The connection's entry point: like `handle`, but Fetch answers in parts so its records can go out with
    /// sendfile; every other API is its one-buffer response.
    public func respond(
        to request: KafkaRequestFrame, context: ConnectionContext, eventLoop: any EventLoop
    ) -> EventLoopFuture<KafkaResponse?> {
        do {
            switch try prepare(request, context: context, eventLoop: eventLoop) {
            case .answered(let response):
                return eventLoop.makeSucceededFuture(KafkaResponse(response))
            case .ready(let ctx, var body):
                if ctx.apiKey == .fetch { return try serveFetch(ctx, body: &body) }
                return try route(ctx, body: &body).map { payload in payload.map { KafkaResponse($0) } }
            }
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }

    public func handle(_ request: KafkaRequestFrame, context: ConnectionContext) async throws -> ByteBuffer? {
        try await handle(request, context: context, eventLoop: eventLoopGroup.any()).get()
    }

    private func dispatch(
        _ request: KafkaRequestFrame, context: ConnectionContext, eventLoop: any EventLoop
    ) throws -> EventLoopFuture<ByteBuffer?> {
        switch try prepare(request, context: context, eventLoop: eventLoop) {
        case .answered(let response): return eventLoop.makeSucceededFuture(response)
        case .ready(let ctx, var body): return try route(ctx, body: &body)
        }
    }

    private enum Prepared {
        /// Answered without a handler (ApiVersions at a version we do not support).
        case answered(ByteBuffer)
        /// Header decoded and authorized; `body` is what the API's handler decodes.
        case ready(RequestContext, body: ByteBuffer)
    }

    private func prepare(
        _ request: KafkaRequestFrame, context: ConnectionContext, eventLoop: any EventLoop
    ) throws -> Prepared {
        guard let apiKey = ApiKey(rawValue: request.apiKey) else {
            throw RequestRejection(description: "unknown api key \(request.apiKey) (correlation id \(request.correlationId))")
        }
        let version = request.apiVersion
        guard let supported = SupportedApis.versions[apiKey] else {
            throw RequestRejection(description: "unsupported api \(apiKey.name) (key \(apiKey.rawValue)) v\(version)")
        }
        if apiKey == .apiVersions && !supported.contains(version) {
            return .answered(
                unsupportedApiVersionsResponse(correlationId: request.correlationId, allocator: context.allocator))
        }
        guard supported.contains(version) else {
            throw RequestRejection(
                description: "unsupported version \(version) of \(apiKey.name) (supported \(supported.lowerBound)-\(supported.upperBound))")
        }
        var frame = request.frame
        let header: RequestHeader
        do {
            header = try RequestHeader(from: &frame, version: apiKey.requestHeaderVersion(version))
        } catch {
            throw RequestRejection(description: "cannot decode the header of \(apiKey.name) v\(version): \(error)")
        }
        let ctx = RequestContext(header: header, apiKey: apiKey, apiVersion: version, connection: context, eventLoop: eventLoop)
        try authorizer.authorize(ctx)
        return .ready(ctx, body: frame)
    }

    /// Decodes the body as `Req`, runs `serve` (which may complete later), and encodes header + response.
    func serve<Req: KafkaRequestMessage>(
        _: Req.Type, _ ctx: RequestContext, body: inout ByteBuffer,
        _ serve: (Req, RequestContext) throws -> EventLoopFuture<Req.Response?>
    ) throws -> EventLoopFuture<ByteBuffer?> {
        let request = try decode(Req.self, ctx, body: &body)
        return try serve(request, ctx).flatMapThrowing { response in
            guard let response else { return nil }
            return try self.encode(response, ctx)
        }
    }

    /// The same for handlers that always answer at once.
    func serveNow<Req: KafkaRequestMessage>(
        _: Req.Type, _ ctx: RequestContext, body: inout ByteBuffer,
        _ serve: (Req, RequestContext) throws -> Req.Response
    ) throws -> EventLoopFuture<ByteBuffer?> {
        let request = try decode(Req.self, ctx, body: &body)
        return ctx.eventLoop.makeSucceededFuture(try encode(try serve(request, ctx), ctx))
    }

    func decode<Req: KafkaRequestMessage>(_: Req.Type, _ ctx: RequestContext, body: inout ByteBuffer) throws -> Req {
        do {
            return try Req(from: &body, version: ctx.apiVersion)
        } catch {
            throw RequestRejection(description: "cannot decode \(ctx.apiKey.name) v\(ctx.apiVersion): \(error)")
        }
    }

    func encode<Resp: KafkaMessage>(_ response: Resp, _ ctx: RequestContext) throws -> ByteBuffer {
        var out = ctx.connection.allocator.buffer(capacity: 256)
        var header = ResponseHeader()
        header.correlationId = ctx.header.correlationId
        try header.write(to: &out, version: ctx.apiKey.responseHeaderVersion(ctx.apiVersion))
        try response.write(to: &out, version: ctx.apiVersion)
        return out
    }

    private func route(_ ctx: RequestContext, body b: inout ByteBuffer) throws -> EventLoopFuture<ByteBuffer?> {
        switch ctx.apiKey {
        case .apiVersions: return try serveNow(ApiVersionsRequest.self, ctx, body: &b, apiVersions)
        case .metadata: return try serveNow(MetadataRequest.self, ctx, body: &b, metadata)
        case .produce: return try serve(ProduceRequest.self, ctx, body: &b, produce)
        case .fetch: return try serve(FetchRequest.self, ctx, body: &b, fetch)
        case .listOffsets: return try serveNow(ListOffsetsRequest.self, ctx, body: &b, listOffsets)
        case .createTopics: return try serveNow(CreateTopicsRequest.self, ctx, body: &b, createTopics)
        case .deleteTopics: return try serve(DeleteTopicsRequest.self, ctx, body: &b, deleteTopics)
        case .describeCluster: return try serveNow(DescribeClusterRequest.self, ctx, body: &b, describeCluster)
        case .initProducerId: return try serve(InitProducerIdRequest.self, ctx, body: &b, initProducerId)
        case .offsetForLeaderEpoch:
            return try serveNow(OffsetForLeaderEpochRequest.self, ctx, body: &b, offsetForLeaderEpoch)
        case .createPartitions: return try serveNow(CreatePartitionsRequest.self, ctx, body: &b, createPartitions)
        case .deleteRecords: return try serve(DeleteRecordsRequest.self, ctx, body: &b, deleteRecordsAcrossReplicas)
        case .describeConfigs: return try serveNow(DescribeConfigsRequest.self, ctx, body: &b, describeConfigs)
        case .alterConfigs: return try serveNow(AlterConfigsRequest.self, ctx, body: &b, alterConfigs)
        case .incrementalAlterConfigs:
            return try serveNow(IncrementalAlterConfigsRequest.self, ctx, body: &b, incrementalAlterConfigs)
        case .describeLogDirs: return try serveNow(DescribeLogDirsRequest.self, ctx, body: &b, describeLogDirs)
        case .describeTopicPartitions:
            return try serveNow(DescribeTopicPartitionsRequest.self, ctx, body: &b, describeTopicPartitions)
        case .electLeaders: return try serveNow(ElectLeadersRequest.self, ctx, body: &b, electLeaders)
        case .alterPartitionReassignments:
            return try serveNow(AlterPartitionReassignmentsRequest.self, ctx, body: &b, alterPartitionReassignments)
        case .listPartitionReassignments:
            return try serveNow(ListPartitionReassignmentsRequest.self, ctx, body: &b, listPartitionReassignments)
        case .controlledShutdown:
            return try serveNow(ControlledShutdownRequest.self, ctx, body: &b, controlledShutdown)
        case .leaderAndIsr: return try serveNow(LeaderAndIsrRequest.self, ctx, body: &b, leaderAndIsr)
        case .stopReplica: return try serveNow(StopReplicaRequest.self, ctx, body: &b, stopReplica)
        case .updateMetadata: return try serveNow(UpdateMetadataRequest.self, ctx, body: &b, updateMetadata)
        default:
            return try routeCoordinatorApis(ctx, body: &b)
        }
    }
}

/// The one place where authorization is decided. Everything is allowed until ACLs arrive (security issue);
/// a denial then becomes the API's *_AUTHORIZATION_FAILED code.
public struct Authorizer: Sendable {
    public init() {}
    func authorize(_ ctx: RequestContext) throws {}
}
