import KafkaProtocol

/// Fetch in a cluster: only the leader serves a partition. A replica that is not the leader (or a broker that
/// does not host the partition of a known topic) answers NOT_LEADER_OR_FOLLOWER so the client refreshes its
/// metadata; an unknown topic stays UNKNOWN_TOPIC_OR_PARTITION.
extension Broker {
    func fetchErrorForMissingLeader(topic: String, partition: Int32) -> ErrorCode {
        if replicaManager.partition(topic: topic, index: partition) != nil { return .notLeaderOrFollower }
        if let t = metadataStore.topic(named: topic), Int(partition) < t.partitionCount { return .notLeaderOrFollower }
        return .unknownTopicOrPartition
    }
}
