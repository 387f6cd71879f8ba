import KafkaProtocol
import NIOCore
import TernCoordinator

/// OffsetCommit (key 8), versions 0-9 (the schema's range; Kafka 4.0 brokers still parse 0-1).
/// Partitions of topics or partitions this broker does not have answer UNKNOWN_TOPIC_OR_PARTITION and are not
/// stored; the rest go to the coordinator, which checks generation and member (v1+), stores one record per
/// partition and answers once they are in `__consumer_offsets`. v0 commits are simple-consumer commits
/// (generation -1, no member). v1's per-partition `commit_timestamp` is ignored (Kafka stamps the commit time
/// itself since 2.0). v2-v4 `retention_time_ms` other than -1 sets an explicit expiry. v6+ leader epoch, v7+
/// `group_instance_id`. An empty group id is INVALID_GROUP_ID for every partition, as in Kafka.
extension Broker {
    func offsetCommit(_ request: OffsetCommitRequest, _ ctx: RequestContext) -> EventLoopFuture<OffsetCommitResponse?> {
        let version = ctx.apiVersion
        var unknown: Set<PartitionKey> = []
        var topics: [OffsetCommitTopic] = []
        for topic in request.topics {
            let partitionCount = metadataStore.topic(named: topic.name)?.partitionCount ?? 0
            var known: [OffsetCommitPartition] = []
            for p in topic.partitions {
                guard p.partitionIndex >= 0 && Int(p.partitionIndex) < partitionCount else {
                    unknown.insert(PartitionKey(topic.name, p.partitionIndex))
                    continue
                }
                known.append(OffsetCommitPartition(
                    partitionIndex: p.partitionIndex, committedOffset: p.committedOffset,
                    committedLeaderEpoch: version >= 6 ? p.committedLeaderEpoch : -1, committedMetadata: p.committedMetadata))
            }
            if !known.isEmpty { topics.append(OffsetCommitTopic(name: topic.name, partitions: known)) }
        }
        let input = OffsetCommitInput(
            groupId: request.groupId, generationId: version >= 1 ? request.generationIdOrMemberEpoch : -1,
            memberId: version >= 1 ? request.memberId : "", groupInstanceId: version >= 7 ? request.groupInstanceId : nil,
            retentionTimeMs: (2...4).contains(version) ? request.retentionTimeMs : -1, topics: topics)
        let unknownPartitions = unknown
        let answer: @Sendable ([PartitionKey: Int16], Int16?) -> OffsetCommitResponse = { errors, all in
            var response = OffsetCommitResponse()
            response.topics = request.topics.map { topic in
                var t = OffsetCommitResponse.OffsetCommitResponseTopic()
                t.name = topic.name
                t.partitions = topic.partitions.map { p in
                    var r = OffsetCommitResponse.OffsetCommitResponsePartition()
                    r.partitionIndex = p.partitionIndex
                    let key = PartitionKey(topic.name, p.partitionIndex)
                    r.errorCode = unknownPartitions.contains(key)
                        ? ErrorCode.unknownTopicOrPartition.rawValue
                        : all ?? errors[key] ?? CoordinatorErrorCode.unknownServerError
                    return r
                }
                return t
            }
            return response
        }
        if request.groupId.isEmpty {
            return ctx.eventLoop.makeSucceededFuture(answer([:], CoordinatorErrorCode.invalidGroupId))
        }
        if topics.isEmpty { return ctx.eventLoop.makeSucceededFuture(answer([:], nil)) }
        return withGroupCoordinator(ctx, failure: { answer([:], $0) }) { service in
            let result = await service.commitOffsets(input)
            var errors: [PartitionKey: Int16] = [:]
            for topic in result.topics {
                for p in topic.partitions { errors[PartitionKey(topic.name, p.partitionIndex)] = p.errorCode }
            }
            return answer(errors, nil)
        }
    }
}

/// A topic-partition as the group handlers key their per-partition answers.
struct PartitionKey: Hashable, Sendable {
    var topic: String
    var partition: Int32
    init(_ topic: String, _ partition: Int32) {
        self.topic = topic
        self.partition = partition
    }
}
