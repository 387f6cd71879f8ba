import KafkaProtocol
import NIOCore
import TernCoordinator

/// TxnOffsetCommit (key 28), versions 0-4.
/// Offsets a transactional producer commits for a consumer group (`send_offsets_to_transaction`): written to
/// `__consumer_offsets` at once as the producer's transactional batch, visible to OffsetFetch only when the
/// transaction commits (its COMMIT marker reaches the group's partition), dropped on abort.
/// The producer must be the transactional id's current one (PRODUCER_FENCED, INVALID_PRODUCER_EPOCH below v3;
/// INVALID_PRODUCER_ID_MAPPING for another producer id). v3+ carry the consumer's generation and member id
/// (KIP-447): a generation >= 0 is checked like an OffsetCommit's (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID).
/// Unknown topics or partitions answer UNKNOWN_TOPIC_OR_PARTITION and are not stored.
extension Broker {
    func txnOffsetCommit(_ request: TxnOffsetCommitRequest, _ ctx: RequestContext) -> EventLoopFuture<TxnOffsetCommitResponse?> {
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
                    committedLeaderEpoch: version >= 2 ? p.committedLeaderEpoch : -1, committedMetadata: p.committedMetadata))
            }
            if !known.isEmpty { topics.append(OffsetCommitTopic(name: topic.name, partitions: known)) }
        }
        let unknownPartitions = unknown
        let answer: @Sendable ([PartitionKey: Int16], Int16?) -> TxnOffsetCommitResponse = { errors, all in
            var response = TxnOffsetCommitResponse()
            response.topics = request.topics.map { topic in
                var t = TxnOffsetCommitResponse.TxnOffsetCommitResponseTopic()
                t.name = topic.name
                t.partitions = topic.partitions.map { p in
                    var r = TxnOffsetCommitResponse.TxnOffsetCommitResponsePartition()
                    r.partitionIndex = p.partitionIndex
                    let key = PartitionKey(topic.name, p.partitionIndex)
                    let code = unknownPartitions.contains(key)
                        ? ErrorCode.unknownTopicOrPartition.rawValue
                        : all ?? errors[key] ?? CoordinatorErrorCode.unknownServerError
                    r.errorCode = Broker.fencedCode(code, newCodeFrom: 3, requestVersion: version)
                    return r
                }
                return t
            }
            return response
        }
        if request.groupId.isEmpty { return ctx.eventLoop.makeSucceededFuture(answer([:], CoordinatorErrorCode.invalidGroupId)) }
        guard case .ready(let txnService) = transactions.availability() else {
            return ctx.eventLoop.makeSucceededFuture(answer([:], CoordinatorErrorCode.coordinatorNotAvailable))
        }
        if topics.isEmpty { return ctx.eventLoop.makeSucceededFuture(answer([:], nil)) }
        let input = GroupCoordinator.TxnOffsetCommitInput(
            groupId: request.groupId, producerId: request.producerId, producerEpoch: request.producerEpoch,
            generationId: version >= 3 ? request.generationId : -1, memberId: version >= 3 ? request.memberId : "",
            groupInstanceId: version >= 3 ? request.groupInstanceId : nil, topics: topics)
        return withGroupCoordinator(ctx, failure: { answer([:], $0) }) { service in
            let current = await txnService.isCurrent(
                transactionalId: request.transactionalId, producerId: request.producerId, producerEpoch: request.producerEpoch)
            // In a cluster another broker may coordinate the transactional id: only the one that does can judge.
            let elsewhere = current == CoordinatorErrorCode.notCoordinator || current == CoordinatorErrorCode.coordinatorLoadInProgress
            if current != 0 && !elsewhere { return answer([:], current) }
            let result = await service.commitTransactionalOffsets(input)
            var errors: [PartitionKey: Int16] = [:]
            for topic in result.topics {
                for p in topic.partitions { errors[PartitionKey(topic.name, p.partitionIndex)] = p.errorCode }
            }
            return answer(errors, nil)
        }
    }
}
