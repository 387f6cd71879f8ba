import KafkaProtocol
import NIOCore

/// ApiVersions (key 18), versions 0-4.
/// Answers the version ranges Tern implements and has tested (`SupportedApis`), never the whole spec: clients pick
/// the highest common version. A request at a version above 4 is answered in a v0-encoded body with
/// UNSUPPORTED_VERSION and the ranges, so the client can retry with a version it finds there (KIP-511).
/// The response header is always v0, even for flexible versions.
extension Broker {
    func apiVersions(_ request: ApiVersionsRequest, _ ctx: RequestContext) -> ApiVersionsResponse {
        var response = ApiVersionsResponse()
        response.errorCode = ErrorCode.none.rawValue
        response.apiKeys = SupportedApis.apiVersionList()
        return response
    }

    /// The v0 UNSUPPORTED_VERSION answer, built without decoding the request (its version is unknown to us).
    func unsupportedApiVersionsResponse(correlationId: Int32, allocator: ByteBufferAllocator) -> ByteBuffer {
        var response = ApiVersionsResponse()
        response.errorCode = ErrorCode.unsupportedVersion.rawValue
        response.apiKeys = SupportedApis.apiVersionList()
        var out = allocator.buffer(capacity: 512)
        out.writeInteger(correlationId)
        // v0 encoding of this schema cannot fail.
        try? response.write(to: &out, version: 0)
        return out
    }
}

/// The API versions this broker serves. Each range is implemented and covered by tests; widen it only with both.
public enum SupportedApis {
    public static let versions: [ApiKey: ClosedRange<Int16>] = [
        .produce: 0...11,
        .fetch: 4...17,
        .listOffsets: 1...10,
        .metadata: 0...12,
        .apiVersions: 0...4,
        .createTopics: 2...7,
        .deleteTopics: 1...6,
        .describeCluster: 0...1,
        .initProducerId: 0...5,
        .offsetForLeaderEpoch: 0...4,
        .deleteRecords: 0...2,
        .describeConfigs: 1...4,
        .alterConfigs: 0...2,
        .describeLogDirs: 1...4,
        .createPartitions: 0...3,
        .incrementalAlterConfigs: 0...1,
        .describeTopicPartitions: 0...0,
        // Cluster controller (Sources/TernBroker/Cluster).
        .controlledShutdown: 0...3,
        .leaderAndIsr: 0...7,
        .stopReplica: 0...4,
        .updateMetadata: 0...8,
        .electLeaders: 0...2,
        .alterPartitionReassignments: 0...0,
        .listPartitionReassignments: 0...0,
        // Group coordinator (Sources/TernBroker/Group).
        .offsetCommit: 0...9,
        .offsetFetch: 0...9,
        .findCoordinator: 0...6,
        .joinGroup: 0...9,
        .heartbeat: 0...4,
        .leaveGroup: 0...5,
        .syncGroup: 0...5,
        .describeGroups: 0...5,
        .listGroups: 0...5,
        .deleteGroups: 0...2,
        .offsetDelete: 0...0,
        .consumerGroupHeartbeat: 0...1,
        .consumerGroupDescribe: 0...0,
        // Transaction coordinator (Sources/TernBroker/Txn).
        .addPartitionsToTxn: 0...5,
        .addOffsetsToTxn: 0...4,
        .endTxn: 0...4,
        .txnOffsetCommit: 0...4,
        .writeTxnMarkers: 0...1,
    ]

    static func apiVersionList() -> [ApiVersionsResponse.ApiVersion] {
        versions.keys.sorted { $0.rawValue < $1.rawValue }.map { key in
            var v = ApiVersionsResponse.ApiVersion()
            v.apiKey = key.rawValue
            v.minVersion = versions[key]!.lowerBound
            v.maxVersion = versions[key]!.upperBound
            return v
        }
    }
}
