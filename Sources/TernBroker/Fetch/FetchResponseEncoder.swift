import KafkaProtocol
import NIOCore
import TernNetwork
import TernStorage

/// One partition's records still in their segment file, to be sent with sendfile. `length` may end in a partial
/// batch (clients skip it, as with Kafka's zero-copy fetch); the first batch is always whole.
struct FetchFileRecords: Sendable {
    let file: SegmentFile
    let position: Int64
    let length: Int

    var slice: FileSlice {
        FileSlice(fileDescriptor: file.fileDescriptor, offset: position, length: length, owner: file)
    }
}

/// A Fetch answer before encoding: the generated message, plus for each partition (parallel to
/// `response.responses[i].partitions[j]`) the file range its records come from, or nil when `records` holds them.
struct FetchResult: Sendable {
    var response = FetchResponse()
    var fileRecords: [[FetchFileRecords?]] = []
}

/// Encodes a `FetchResponse` exactly as the generated `FetchResponse.write` does (same fields, same order, same
/// versions), except that a partition's records held in a file become a `.file` part of the response behind
/// their real length prefix, so the connection sends them with sendfile instead of copying them into the
/// response buffer. `FetchEncoderTests` compares the bytes with the generated encoder for versions 4-17; when the
/// schema changes, regenerate and let that test point at what to mirror here.
enum FetchResponseEncoder {
    static func encode(
        _ result: FetchResult, correlationId: Int32, headerVersion: Int16, version: Int16,
        allocator: ByteBufferAllocator
    ) throws -> KafkaResponse {
        let response = result.response
        guard version >= FetchResponse.lowestSupportedVersion && version <= FetchResponse.highestSupportedVersion else {
            throw KafkaProtocolError("FetchResponse: unsupported version \(version)")
        }
        let flexible = version >= 12
        var parts = KafkaResponse()
        var out = allocator.buffer(capacity: 256)
        var header = ResponseHeader()
        header.correlationId = correlationId
        try header.write(to: &out, version: headerVersion)
        if version >= 1 { out.writeInteger(response.throttleTimeMs) }
        if version >= 7 {
            out.writeInteger(response.errorCode)
            out.writeInteger(response.sessionId)
        }
        out.writeKafkaArrayCount(response.responses.count, compact: flexible)
        for (t, topic) in response.responses.enumerated() {
            if version <= 12 {
                try out.writeKafkaString(
                    topic.topic, compact: flexible, field: "FetchResponse.FetchableTopicResponse.topic", version: version)
            }
            if version >= 13 { out.writeKafkaUUID(topic.topicId) }
            out.writeKafkaArrayCount(topic.partitions.count, compact: flexible)
            for (p, partition) in topic.partitions.enumerated() {
                try writeFields(before: partition, to: &out, version: version)
                let file = t < result.fileRecords.count && p < result.fileRecords[t].count ? result.fileRecords[t][p] : nil
                if let file {
                    out.writeKafkaLength(file.length, compact: flexible, classicWidth: 4)
                    parts.append(out)
                    parts.append(file.slice)
                    out = allocator.buffer(capacity: 64)
                } else {
                    try out.writeKafkaNullableBytes(
                        partition.records, compact: flexible, nullable: true,
                        field: "FetchResponse.PartitionData.records", version: version)
                }
                if flexible { try writeTaggedFields(of: partition, to: &out, version: version) }
            }
            if flexible { out.writeUnsignedVarint(0) }  // no tagged fields
        }
        if flexible {
            let writeNodeEndpoints = version >= 16 && !response.nodeEndpoints.isEmpty
            out.writeUnsignedVarint(writeNodeEndpoints ? 1 : 0)
            if writeNodeEndpoints {
                var tagged = ByteBuffer()
                tagged.writeKafkaArrayCount(response.nodeEndpoints.count, compact: true)
                for endpoint in response.nodeEndpoints { try endpoint.write(to: &tagged, version: version) }
                out.writeKafkaTaggedField(tag: 0, data: tagged)
            }
        }
        parts.append(out)
        return parts
    }

    /// The partition's fields that precede `records`.
    private static func writeFields(
        before partition: FetchResponse.PartitionData, to out: inout ByteBuffer, version: Int16
    ) throws {
        let flexible = version >= 12
        out.writeInteger(partition.partitionIndex)
        out.writeInteger(partition.errorCode)
        out.writeInteger(partition.highWatermark)
        if version >= 4 { out.writeInteger(partition.lastStableOffset) }
        if version >= 5 { out.writeInteger(partition.logStartOffset) }
        if version >= 4 {
            if let aborted = partition.abortedTransactions {
                out.writeKafkaArrayCount(aborted.count, compact: flexible)
                for transaction in aborted { try transaction.write(to: &out, version: version) }
            } else {
                try out.writeKafkaNull(
                    compact: flexible, classicWidth: 4, nullable: true,
                    field: "FetchResponse.PartitionData.abortedTransactions", version: version)
            }
        }
        if version >= 11 { out.writeInteger(partition.preferredReadReplica) }
    }

    /// The partition's tagged fields (flexible versions), which follow `records`.
    private static func writeTaggedFields(
        of partition: FetchResponse.PartitionData, to out: inout ByteBuffer, version: Int16
    ) throws {
        let divergingEpoch = partition.divergingEpoch != FetchResponse.EpochEndOffset()
        let currentLeader = partition.currentLeader != FetchResponse.LeaderIdAndEpoch()
        let snapshotId = partition.snapshotId != FetchResponse.SnapshotId()
        out.writeUnsignedVarint(UInt32((divergingEpoch ? 1 : 0) + (currentLeader ? 1 : 0) + (snapshotId ? 1 : 0)))
        if divergingEpoch {
            var tagged = ByteBuffer()
            try partition.divergingEpoch.write(to: &tagged, version: version)
            out.writeKafkaTaggedField(tag: 0, data: tagged)
        }
        if currentLeader {
            var tagged = ByteBuffer()
            try partition.currentLeader.write(to: &tagged, version: version)
            out.writeKafkaTaggedField(tag: 1, data: tagged)
        }
        if snapshotId {
            var tagged = ByteBuffer()
            try partition.snapshotId.write(to: &tagged, version: version)
            out.writeKafkaTaggedField(tag: 2, data: tagged)
        }
    }
}
