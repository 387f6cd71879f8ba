import NIOCore
import Testing

@testable import KafkaProtocol

/// Byte-exact checks of the flexible encodings: compact lengths, tagged fields, header quirks.
@Suite struct GeneratedFlexibleTests {
    @Test func requestHeaderV2KeepsClassicClientId() throws {
        var header = RequestHeader()
        header.requestApiKey = 18
        header.requestApiVersion = 3
        header.correlationId = 7
        header.clientId = "ab"
        var buffer = ByteBuffer()
        try header.write(to: &buffer, version: 2)
        // int16 key, int16 version, int32 correlation, int16 length "ab", empty tagged fields.
        #expect(Array(buffer.readableBytesView) == [0, 18, 0, 3, 0, 0, 0, 7, 0, 2, 0x61, 0x62, 0])
        header.clientId = nil
        buffer.clear()
        try header.write(to: &buffer, version: 2)
        #expect(Array(buffer.readableBytesView) == [0, 18, 0, 3, 0, 0, 0, 7, 0xFF, 0xFF, 0])
        #expect(try RequestHeader(from: &buffer, version: 2) == header)
    }

    @Test func compactStringsAndArraysUseLengthPlusOne() throws {
        var request = MetadataRequest()
        var topic = MetadataRequest.MetadataRequestTopic()
        topic.name = "t"
        request.topics = [topic]
        var buffer = ByteBuffer()
        try request.write(to: &buffer, version: 9)
        // topics: count+1 = 2; name: length+1 = 2, "t", tagged 0; allowAutoTopicCreation true;
        // includeTopicAuthorizedOperations false; tagged 0. (v9 has includeClusterAuthorizedOperations.)
        #expect(Array(buffer.readableBytesView) == [2, 2, 0x74, 0, 1, 0, 0, 0])
        request.topics = nil
        buffer.clear()
        try request.write(to: &buffer, version: 9)
        #expect(buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) == 0)  // null array
        #expect(try MetadataRequest(from: &buffer, version: 9) == request)
    }

    @Test func taggedFieldsAreWrittenOnlyWhenNotDefault() throws {
        var response = ApiVersionsResponse()
        var buffer = ByteBuffer()
        try response.write(to: &buffer, version: 3)
        // errorCode, apiKeys (empty), throttleTimeMs, no tagged fields.
        #expect(Array(buffer.readableBytesView) == [0, 0, 1, 0, 0, 0, 0, 0])
        response.zkMigrationReady = true
        buffer.clear()
        try response.write(to: &buffer, version: 3)
        // One tagged field: tag 3, size 1, value 1.
        #expect(Array(buffer.readableBytesView) == [0, 0, 1, 0, 0, 0, 0, 1, 3, 1, 1])
        #expect(try ApiVersionsResponse(from: &buffer, version: 3) == response)
    }

    @Test func unknownTaggedFieldsAreSkipped() throws {
        // ApiVersionsRequest v3 with clientSoftwareName "a", version "b" and an unknown tag 9 of 2 bytes.
        var buffer = ByteBuffer(bytes: [2, 0x61, 2, 0x62, 1, 9, 2, 0xEE, 0xEE])
        let request = try ApiVersionsRequest(from: &buffer, version: 3)
        #expect(request.clientSoftwareName == "a")
        #expect(request.clientSoftwareVersion == "b")
        #expect(buffer.readableBytes == 0)
    }

    @Test func taggedStructFieldRoundTrips() throws {
        var partition = FetchResponse.PartitionData()
        partition.partitionIndex = 1
        partition.currentLeader.leaderId = 5
        partition.currentLeader.leaderEpoch = 9
        var buffer = ByteBuffer()
        try partition.write(to: &buffer, version: 12)
        #expect(try FetchResponse.PartitionData(from: &buffer, version: 12) == partition)
        // Before v12 the tagged field does not exist: it is dropped, and decodes as the default.
        buffer.clear()
        try partition.write(to: &buffer, version: 11)
        let old = try FetchResponse.PartitionData(from: &buffer, version: 11)
        #expect(old.currentLeader == FetchResponse.LeaderIdAndEpoch())
    }

    @Test func nullInNonNullableVersionThrowsOnWrite() throws {
        var request = ProduceRequest()
        var partition = ProduceRequest.PartitionProduceData()
        partition.records = nil
        var topic = ProduceRequest.TopicProduceData()
        topic.partitionData = [partition]
        request.topicData = [topic]
        var buffer = ByteBuffer()
        try request.write(to: &buffer, version: 9)  // records are nullable in every version
        var header = RequestHeader()
        header.clientId = nil
        buffer.clear()
        try header.write(to: &buffer, version: 1)
        var join = JoinGroupRequest()
        join.groupInstanceId = "static"
        buffer.clear()
        try join.write(to: &buffer, version: 5)
        #expect(try JoinGroupRequest(from: &buffer, version: 5).groupInstanceId == "static")
    }

    @Test func negativeLengthOnNonNullableFieldThrows() {
        // JoinGroupRequest v0: groupId int16 length -1 where groupId is not nullable.
        var buffer = ByteBuffer(bytes: [0xFF, 0xFF])
        #expect(throws: KafkaProtocolError.self) { try JoinGroupRequest(from: &buffer, version: 0) }
    }

    @Test func forgedArrayCountThrowsBeforeAllocating() {
        // ProduceRequest v3: null transactional id, acks, timeout, then 2^31-1 topics in 0 bytes.
        var buffer = ByteBuffer(bytes: [0xFF, 0xFF, 0, 1, 0, 0, 0, 10, 0x7F, 0xFF, 0xFF, 0xFF])
        #expect(throws: KafkaProtocolError.self) { try ProduceRequest(from: &buffer, version: 3) }
    }

    @Test func apiKeyFacts() {
        #expect(ApiKey.allCases.count == 88)
        #expect(ApiKey.produce.rawValue == 0 && ApiKey.metadata.rawValue == 3)
        #expect(ApiKey.produce.name == "Produce")
        #expect(ApiKey.produce.validVersions == 0...11)
        #expect(ApiKey.apiVersions.responseHeaderVersion(3) == 0)
        #expect(ApiKey.apiVersions.requestHeaderVersion(3) == 2)
        #expect(ApiKey.metadata.requestHeaderVersion(8) == 1)
        #expect(ApiKey.metadata.requestHeaderVersion(9) == 2)
        #expect(ApiKey.metadata.responseHeaderVersion(9) == 1)
        #expect(ApiKey.controlledShutdown.requestHeaderVersion(0) == 0)
        #expect(ApiKey.controlledShutdown.requestHeaderVersion(1) == 1)
        #expect(ObjectIdentifier(ApiKey.fetch.requestType) == ObjectIdentifier(FetchRequest.self))
        #expect(ObjectIdentifier(ApiKey.fetch.responseType) == ObjectIdentifier(FetchResponse.self))
        for key in ApiKey.allCases {
            #expect(key.requestType.apiKey == key)
            #expect(key.responseType.apiKey == key)
            #expect(key.requestType.lowestSupportedVersion == key.validVersions.lowerBound)
        }
    }
}
