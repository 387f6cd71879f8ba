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
    public func handle(_ request: KafkaRequestFrame, context: ConnectionContext) async throws -> ByteBuffer? {
        guard let apiKey = ApiKey(rawValue: request.apiKey) else {
            throw RequestRejection(description: "unknown api key \(request.apiKey) (correlation id \(request.correlationId))")
        }
        let version = request.apiVersion
        guard let supported = SupportedApis.versions[apiKey] else {
            throw RequestRejection(description: "unsupported api \(apiKey.name) v\(version)")
        }
        if apiKey == .apiVersions && !supported.contains(version) {
            return unsupportedApiVersionsResponse(correlationId: request.correlationId, allocator: context.allocator)
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
        let ctx = RequestContext(header: header, apiKey: apiKey, apiVersion: version, connection: context)
        metrics.requestReceived(apiKey)
        return try await route(ctx, body: &frame)
    }

    /// Decodes the body as `Req`, runs `serve`, and encodes header + response.
    func serve<Req: KafkaRequestMessage>(
        _: Req.Type, _ ctx: RequestContext, body: inout ByteBuffer,
        _ serve: (Req, RequestContext) async throws -> Req.Response?
    ) async throws -> ByteBuffer? {
        let request: Req
        do {
            request = try Req(from: &body, version: ctx.apiVersion)
        } catch {
            throw RequestRejection(description: "cannot decode \(ctx.apiKey.name) v\(ctx.apiVersion): \(error)")
        }
        guard let response = try await serve(request, ctx) else { return nil }
        return try encode(response, ctx)
    }

    func encode<Resp: KafkaMessage>(_ response: Resp, _ ctx: RequestContext) throws -> ByteBuffer {
        var out = ctx.connection.allocator.buffer(capacity: 128)
        var header = ResponseHeader()
        header.correlationId = ctx.header.correlationId
        try header.write(to: &out, version: ctx.apiKey.responseHeaderVersion(ctx.apiVersion))
        try response.write(to: &out, version: ctx.apiVersion)
        return out
    }

    private func route(_ ctx: RequestContext, body: inout ByteBuffer) async throws -> ByteBuffer? {
        switch ctx.apiKey {
        case .apiVersions: return try await serve(ApiVersionsRequest.self, ctx, body: &body) { r, c in apiVersions(r, c) }
        case .metadata: return try await serve(MetadataRequest.self, ctx, body: &body) { r, c in try await metadata(r, c) }
        case .produce: return try await serve(ProduceRequest.self, ctx, body: &body) { r, c in try await produce(r, c) }
        case .fetch: return try await serve(FetchRequest.self, ctx, body: &body) { r, c in try await fetch(r, c) }
        case .listOffsets: return try await serve(ListOffsetsRequest.self, ctx, body: &body) { r, c in listOffsets(r, c) }
        case .createTopics: return try await serve(CreateTopicsRequest.self, ctx, body: &body) { r, c in createTopics(r, c) }
        case .deleteTopics: return try await serve(DeleteTopicsRequest.self, ctx, body: &body) { r, c in deleteTopics(r, c) }
        case .createPartitions:
            return try await serve(CreatePartitionsRequest.self, ctx, body: &body) { r, c in createPartitions(r, c) }
        case .deleteRecords: return try await serve(DeleteRecordsRequest.self, ctx, body: &body) { r, c in deleteRecords(r, c) }
        case .describeConfigs:
            return try await serve(DescribeConfigsRequest.self, ctx, body: &body) { r, c in describeConfigs(r, c) }
        case .alterConfigs: return try await serve(AlterConfigsRequest.self, ctx, body: &body) { r, c in alterConfigs(r, c) }
        case .incrementalAlterConfigs:
            return try await serve(IncrementalAlterConfigsRequest.self, ctx, body: &body) { r, c in incrementalAlterConfigs(r, c) }
        case .describeCluster:
            return try await serve(DescribeClusterRequest.self, ctx, body: &body) { r, c in describeCluster(r, c) }
        case .describeLogDirs:
            return try await serve(DescribeLogDirsRequest.self, ctx, body: &body) { r, c in describeLogDirs(r, c) }
        case .describeTopicPartitions:
            return try await serve(DescribeTopicPartitionsRequest.self, ctx, body: &body) { r, c in describeTopicPartitions(r, c) }
        case .initProducerId:
            return try await serve(InitProducerIdRequest.self, ctx, body: &body) { r, c in initProducerId(r, c) }
        case .findCoordinator:
            return try await serve(FindCoordinatorRequest.self, ctx, body: &body) { r, c in findCoordinator(r, c) }
        default:
            throw RequestRejection(description: "no handler for \(ctx.apiKey.name)")
        }
    }
}
