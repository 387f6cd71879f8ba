import Foundation
import KafkaProtocol
import NIOCore
import Testing
import TernNetwork

@testable import TernBroker
@testable import TernStorage

/// The bytes a client receives for `response`: file parts read back from their files.
func joined(_ response: KafkaResponse) throws -> ByteBuffer {
    var out = ByteBuffer()
    for part in response.parts {
        switch part {
        case .bytes(var bytes): out.writeBuffer(&bytes)
        case .file(let slice):
            let file = try #require(slice.owner as? SegmentFile)
            var bytes = try file.read(at: slice.offset, length: slice.length)
            out.writeBuffer(&bytes)
        }
    }
    return out
}

/// Every field of a fetch response away from its default somewhere, so the hand-mirrored encoder is checked on
/// each of them.
private func sampleResponse(records: [ByteBuffer]) -> FetchResponse {
    var response = FetchResponse()
    response.throttleTimeMs = 5
    response.sessionId = 77
    var node = FetchResponse.NodeEndpoint()
    node.nodeId = 1
    node.host = "broker-1"
    node.port = 9092
    node.rack = "r1"
    response.nodeEndpoints = [node]
    for (t, name) in ["alpha", "beta"].enumerated() {
        var topic = FetchResponse.FetchableTopicResponse()
        topic.topic = name
        topic.topicId = KafkaUUID(mostSignificantBits: 1, leastSignificantBits: UInt64(t + 1))
        for index in 0..<3 {
            var p = FetchResponse.PartitionData()
            p.partitionIndex = Int32(index)
            p.highWatermark = 100 + Int64(index)
            p.lastStableOffset = 90
            p.logStartOffset = 3
            p.records = records[(t * 3 + index) % records.count]
            switch index {
            case 0:
                p.abortedTransactions = nil
            case 1:
                var aborted = FetchResponse.AbortedTransaction()
                aborted.producerId = 42
                aborted.firstOffset = 7
                p.abortedTransactions = [aborted]
                p.divergingEpoch.epoch = 3
                p.divergingEpoch.endOffset = 50
                p.snapshotId.endOffset = 12
            default:
                p.errorCode = 1
                p.currentLeader.leaderId = 1
                p.currentLeader.leaderEpoch = 4
                p.preferredReadReplica = 2
            }
            topic.partitions.append(p)
        }
        response.responses.append(topic)
    }
    return response
}

@Suite struct FetchEncoderTests {
    /// The generated encoder's bytes: response header, then the message.
    private func generated(_ response: FetchResponse, version: Int16) throws -> ByteBuffer {
        var out = ByteBuffer()
        var header = ResponseHeader()
        header.correlationId = 31
        try header.write(to: &out, version: ApiKey.fetch.responseHeaderVersion(version))
        try response.write(to: &out, version: version)
        return out
    }

    @Test(arguments: Int16(4)...Int16(17))
    func matchesTheGeneratedEncoderByteForByte(version: Int16) throws {
        let dir = NSTemporaryDirectory() + "tern-fetch-encoder-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = try SegmentFile(path: dir + "/00000000000000000000.log", create: true)
        let contents = ByteBuffer(bytes: (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try file.write(contents, at: 0)

        // Records in files (several lengths, one empty), in memory, and null, mixed in one response.
        let ranges: [(Int64, Int)?] = [(0, 100), nil, (100, 1), (101, 199), nil, (5, 0)]
        let records = ranges.enumerated().map { i, range -> ByteBuffer in
            guard let (position, length) = range else { return ByteBuffer(bytes: [9, 9, 9, UInt8(i)]) }
            return contents.getSlice(at: Int(position), length: length)!
        }
        var expected = sampleResponse(records: records)
        expected.responses[1].partitions[1].records = nil

        var result = FetchResult(response: expected, fileRecords: [])
        for (t, topic) in expected.responses.enumerated() {
            result.fileRecords.append(topic.partitions.indices.map { p in
                guard let (position, length) = ranges[t * 3 + p], expected.responses[t].partitions[p].records != nil
                else { return nil }
                result.response.responses[t].partitions[p].records = ByteBuffer()  // must not be what is sent
                return FetchFileRecords(file: file, position: position, length: length)
            })
        }
        let encoded = try FetchResponseEncoder.encode(
            result, correlationId: 31, headerVersion: ApiKey.fetch.responseHeaderVersion(version), version: version,
            allocator: ByteBufferAllocator())
        let want = try generated(expected, version: version)
        #expect(encoded.byteCount == want.readableBytes)
        #expect(encoded.hasFileParts)
        #expect(try joined(encoded) == want, "FetchResponse v\(version)")
    }

    @Test func withoutFileRecordsItIsTheGeneratedEncoding() throws {
        let response = sampleResponse(records: [ByteBuffer(bytes: [1, 2, 3])])
        for version in Int16(4)...Int16(17) {
            let encoded = try FetchResponseEncoder.encode(
                FetchResult(response: response, fileRecords: []), correlationId: 31,
                headerVersion: ApiKey.fetch.responseHeaderVersion(version), version: version,
                allocator: ByteBufferAllocator())
            #expect(!encoded.hasFileParts)
            #expect(try joined(encoded) == generated(response, version: version), "FetchResponse v\(version)")
        }
    }
}

/// Fetch through `Broker.respond`, the connection's path: records leave as file parts, and the bytes a client gets
/// decode as the same response the one-buffer path gives.
@Suite(.serialized) struct FetchZeroCopyTests {
    private func batch(_ values: [String]) throws -> ByteBuffer {
        var builder = RecordBatchBuilder()
        // Now, not a fixed old time: a segment whose first timestamp is older than segment.ms rolls on every append.
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        for value in values { builder.append(key: nil, value: ByteBuffer(string: value), timestamp: now) }
        return try builder.build()
    }

    private func produce(_ fixture: GroupFixture, topic: String, partition: Int32, _ batch: ByteBuffer) async throws {
        var request = ProduceRequest()
        request.acks = -1
        request.timeoutMs = 5000
        var data = ProduceRequest.TopicProduceData()
        data.name = topic
        var p = ProduceRequest.PartitionProduceData()
        p.index = partition
        p.records = batch
        data.partitionData = [p]
        request.topicData = [data]
        let response = try await fixture.send(request, 8)
        #expect(response.responses.first?.partitionResponses.first?.errorCode == 0)
    }

    private func fetchFrame(_ request: FetchRequest, version: Int16, correlationId: Int32) throws -> KafkaRequestFrame {
        var header = RequestHeader()
        header.requestApiKey = ApiKey.fetch.rawValue
        header.requestApiVersion = version
        header.correlationId = correlationId
        header.clientId = "zero-copy-tests"
        var frame = ByteBuffer()
        try header.write(to: &frame, version: ApiKey.fetch.requestHeaderVersion(version))
        try request.write(to: &frame, version: version)
        return KafkaRequestFrame(apiKey: ApiKey.fetch.rawValue, apiVersion: version, correlationId: correlationId, frame: frame)
    }

    private func fetchRequest(_ topic: TopicMetadata, version: Int16, partitionMaxBytes: [Int32]) -> FetchRequest {
        var request = FetchRequest()
        request.maxWaitMs = 0
        request.sessionEpoch = -1  // no session: full responses every time
        var t = FetchRequest.FetchTopic()
        t.topic = topic.name
        t.topicId = topic.id
        t.partitions = partitionMaxBytes.enumerated().map { index, maxBytes in
            var p = FetchRequest.FetchPartition()
            p.partition = Int32(index)
            p.partitionMaxBytes = maxBytes
            return p
        }
        request.topics = [t]
        return request
    }

    private func respond(_ fixture: GroupFixture, _ frame: KafkaRequestFrame, plaintext: Bool = true) async throws -> KafkaResponse {
        let context = ConnectionContext(
            connectionId: 1, remoteAddress: "127.0.0.1:50000", listenerName: "PLAINTEXT",
            supportsFileRegion: plaintext)
        return try #require(try await fixture.broker.respond(to: frame, context: context, eventLoop: fixture.group.next()).get())
    }

    @Test func recordsLeaveAsFilePartsAndDecodeLikeTheBufferPath() async throws {
        let fixture = try await GroupFixture()
        let topic = try fixture.createTopic("zero-copy", partitions: 2)
        for i in 0..<3 { try await produce(fixture, topic: topic.name, partition: 0, try batch(["a\(i)", "b\(i)"])) }
        try await produce(fixture, topic: topic.name, partition: 1, try batch(["only"]))
        for version: Int16 in [4, 11, 12, 13, 17] {
            let request = fetchRequest(topic, version: version, partitionMaxBytes: [1 << 20, 1 << 20])
            let parts = try await respond(fixture, try fetchFrame(request, version: version, correlationId: 5))
            #expect(parts.parts.filter { if case .file = $0 { true } else { false } }.count == 2, "v\(version)")
            let copied = try #require(try await fixture.broker.handle(
                try fetchFrame(request, version: version, correlationId: 5),
                context: ConnectionContext(connectionId: 1, remoteAddress: "x", listenerName: "PLAINTEXT"),
                eventLoop: fixture.group.next()).get())
            #expect(try joined(parts) == copied, "v\(version)")
            let withoutSendfile = try await respond(
                fixture, try fetchFrame(request, version: version, correlationId: 5), plaintext: false)
            #expect(!withoutSendfile.hasFileParts)
            #expect(try joined(withoutSendfile) == copied, "v\(version)")
        }
    }

    @Test func firstBatchWholeTrailingBatchMayBePartial() async throws {
        let fixture = try await GroupFixture()
        let topic = try fixture.createTopic("zero-copy-limits", partitions: 2)
        let first = try batch(["x", "y"])
        for _ in 0..<3 { try await produce(fixture, topic: topic.name, partition: 0, first) }
        try await produce(fixture, topic: topic.name, partition: 1, try batch(["z"]))
        let size = first.readableBytes
        // Partition 0: below one batch, yet the first batch comes whole (minOneBatch); then with room for one and a
        // half: one whole batch and half of the next, as sendfile sends it. Partition 1 gets a limit below its
        // batch and is not the first with data, so it answers no records rather than a cut batch.
        for (limit0, expected0) in [(Int32(10), size), (Int32(size + size / 2), size + size / 2)] {
            let request = fetchRequest(topic, version: 12, partitionMaxBytes: [limit0, 10])
            let answer = try await respond(fixture, try fetchFrame(request, version: 12, correlationId: 9))
            var out = try joined(answer)
            _ = try ResponseHeader(from: &out, version: ApiKey.fetch.responseHeaderVersion(12))
            let response = try FetchResponse(from: &out, version: 12)
            let partitions = try #require(response.responses.first?.partitions)
            #expect(partitions[0].records?.readableBytes == expected0)
            #expect(partitions[0].records?.getInteger(at: 8, as: Int32.self) == Int32(size - 12), "first batch whole")
            #expect(partitions[1].records?.readableBytes == 0)
        }
    }
}
