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
