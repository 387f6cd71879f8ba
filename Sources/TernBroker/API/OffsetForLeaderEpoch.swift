import KafkaProtocol

/// OffsetForLeaderEpoch (key 23), versions 0-4 (KIP-101, KIP-320).
/// For each partition: the largest epoch <= the one asked and the offset where it ended (the start of the next
/// epoch, or the log end for the current one), from the leader epoch cache. Consumers use it to detect log
/// truncation after a leader change, followers to truncate before fetching (KIP-101). As in Kafka: a
/// `current_leader_epoch` (v2+) newer than ours answers UNKNOWN_LEADER_EPOCH, an older one FENCED_LEADER_EPOCH; then
/// only the leader answers (NOT_LEADER_OR_FOLLOWER elsewhere, also for a broker without a replica of a known
/// partition); an epoch the cache does not know answers epoch -1 and end offset -1 without an error.
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
                    r.errorCode = fetchErrorForMissingLeader(topic: topic.topic, partition: p.partition).rawValue
                    t.partitions.append(r)
                    continue
                }
                let access = partition.checkAccess(
                    currentLeaderEpoch: ctx.apiVersion >= 2 ? p.currentLeaderEpoch : -1, requireLeader: true)
                if access != .none {
                    r.errorCode = access.rawValue
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
