import KafkaProtocol
import NIOCore
import TernCoordinator

/// OffsetDelete (key 47), version 0 (KIP-496).
/// Deletes a group's committed offsets for the given partitions. Group-level errors: GROUP_ID_NOT_FOUND,
/// NON_EMPTY_GROUP (a non-consumer group with members), INVALID_GROUP_ID (empty id). Per partition:
/// UNKNOWN_TOPIC_OR_PARTITION when the topic does not exist here (checked by the broker, as Kafka's KafkaApis
/// does), GROUP_SUBSCRIBED_TO_TOPIC when a member still consumes the topic.
extension Broker {
    func offsetDelete(_ request: OffsetDeleteRequest, _ ctx: RequestContext) -> EventLoopFuture<OffsetDeleteResponse?> {
        var unknownTopics: Set<String> = []
        var topics: [OffsetFetchTopic] = []
        for topic in request.topics {
            if metadataStore.topic(named: topic.name) == nil {
                unknownTopics.insert(topic.name)
            } else {
                topics.append(OffsetFetchTopic(name: topic.name, partitionIndexes: topic.partitions.map(\.partitionIndex)))
            }
        }
        let unknown = unknownTopics
        let answer: @Sendable (Int16, [TopicPartitionErrors]) -> OffsetDeleteResponse = { errorCode, results in
            var r = OffsetDeleteResponse()
            r.errorCode = errorCode
            guard errorCode == CoordinatorErrorCode.none else { return r }
            var errors: [PartitionKey: Int16] = [:]
            for t in results {
                for p in t.partitions { errors[PartitionKey(t.name, p.partitionIndex)] = p.errorCode }
            }
            r.topics = request.topics.map { topic in
                var t = OffsetDeleteResponse.OffsetDeleteResponseTopic()
                t.name = topic.name
                t.partitions = topic.partitions.map { p in
                    var partition = OffsetDeleteResponse.OffsetDeleteResponsePartition()
                    partition.partitionIndex = p.partitionIndex
                    partition.errorCode = unknown.contains(topic.name)
                        ? ErrorCode.unknownTopicOrPartition.rawValue
                        : errors[PartitionKey(topic.name, p.partitionIndex)] ?? CoordinatorErrorCode.none
                    return partition
                }
                return t
            }
            return r
        }
        if request.groupId.isEmpty {
            return ctx.eventLoop.makeSucceededFuture(answer(CoordinatorErrorCode.invalidGroupId, []))
        }
        let input = OffsetDeleteInput(groupId: request.groupId, topics: topics)
        return withGroupCoordinator(ctx, failure: { answer($0, []) }) { service in
            let result = await service.deleteOffsets(input)
            return answer(result.errorCode, result.topics)
        }
    }
}
