import KafkaProtocol

/// OffsetForLeaderEpoch (key 23), versions 0-4 (KIP-101, KIP-320).
/// For each partition: the largest epoch <= the one asked and the offset where it ended (the start of the next
/// epoch, or the log end for the current one), from the leader epoch cache. Consumers use it to detect log
/// truncation after a leader change. A `current_leader_epoch` newer than ours answers UNKNOWN_LEADER_EPOCH, an
/// older one FENCED_LEADER_EPOCH, as Kafka does.
extension Broker {
    func offsetForLeaderEpoch(_ request: OffsetForLeaderEpochRequest, _ ctx: RequestContext) throws -> OffsetForLeaderEpochResponse {
        var response = OffsetForLeaderEpochResponse()
        for topic in request.topics {
            var t = OffsetForLeaderEpochResponse.OffsetForLeaderTopicResult()
            t.topic = topic.topic
            for p in topic.partitions {
                var r = OffsetForLeaderEpochResponse.EpochEndOffset()
                r.partition = p.partition
                guard let partition = replicaManager.partition(topic: topic.topic, index: p.partition) else {
                    r.errorCode = ErrorCode.unknownTopicOrPartition.rawValue
                    t.partitions.append(r)
                    continue
                }
                let current = partition.leaderEpoch
                if p.currentLeaderEpoch >= 0 && p.currentLeaderEpoch > current {
                    r.errorCode = ErrorCode.unknownLeaderEpoch.rawValue
                } else if p.currentLeaderEpoch >= 0 && p.currentLeaderEpoch < current {
                    r.errorCode = ErrorCode.fencedLeaderEpoch.rawValue
                } else {
                    let found = partition.log.endOffset(forLeaderEpoch: p.leaderEpoch)
                    r.leaderEpoch = found.epoch
                    r.endOffset = found.endOffset
                }
                t.partitions.append(r)
            }
            response.topics.append(t)
        }
        return response
    }
}
