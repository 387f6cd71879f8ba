import KafkaProtocol
import TernStorage

/// StopReplica (key 5), versions 0-4: the controller tells a broker to stop replicating partitions (ZooKeeper
/// mode; Kafka's ReplicaManager.stopReplicas). With `delete_partition` the replica's log is deleted too (topic
/// deletion, a replica moved away); without it the replica stops fetching and serving but keeps its log.
/// - A broker epoch (v1+) older than this broker's registration: STALE_BROKER_EPOCH for the whole request (KIP-380).
/// - A controller epoch below the highest seen: STALE_CONTROLLER_EPOCH for the whole request.
/// - v3+ carries a leader epoch per partition: -1 (none) and -2 (the topic is being deleted) always apply, an
///   epoch at least the replica's applies, an older one is FENCED_LEADER_EPOCH.
/// - A `__consumer_offsets` / `__transaction_state` partition it led is unloaded from the group / transaction
///   coordinator (its keys answer NOT_COORDINATOR), as a LeaderAndIsr making it a follower does.
/// - A partition this broker does not host answers NONE (the log is deleted all the same if it is on disk).
extension Broker {
    func stopReplica(_ request: StopReplicaRequest, _ ctx: RequestContext) throws -> StopReplicaResponse {
        guard zooKeeperStore != nil else {
            throw RequestRejection(description: "StopReplica is only served in a ZooKeeper cluster")
        }
        var targets: [(tp: TopicPartition, leaderEpoch: Int32, delete: Bool)] = []
        switch ctx.apiVersion {
        case 0:
            targets = request.ungroupedPartitions.map {
                (TopicPartition(topic: $0.topicName, partition: $0.partitionIndex), -1, request.deletePartitions)
            }
        case 1, 2:
            targets = request.topics.flatMap { t in
                t.partitionIndexes.map { (TopicPartition(topic: t.name, partition: $0), -1, request.deletePartitions) }
            }
        default:
            targets = request.topicStates.flatMap { t in
                t.partitionStates.map {
                    (TopicPartition(topic: t.topicName, partition: $0.partitionIndex), $0.leaderEpoch, $0.deletePartition)
                }
            }
        }
        var response = StopReplicaResponse()
        let refusal = admitControllerRequest(
            "StopReplica", controllerId: request.controllerId, controllerEpoch: request.controllerEpoch, brokerEpoch: request.brokerEpoch)
        response.errorCode = refusal.rawValue
        response.partitionErrors = targets.map { target in
            var e = StopReplicaResponse.StopReplicaPartitionError()
            e.topicName = target.tp.topic
            e.partitionIndex = target.tp.partition
            let code = refusal == .none ? stopReplica(target.tp, leaderEpoch: target.leaderEpoch, delete: target.delete) : refusal
            e.errorCode = code.rawValue
            return e
        }
        return response
    }

    private func stopReplica(_ tp: TopicPartition, leaderEpoch: Int32, delete: Bool) -> ErrorCode {
        let partition = replicaManager.partition(tp)
        if let partition, let current = partition.clusteredLeaderEpoch,
           !ControlFence.stopReplicaAdmits(requestLeaderEpoch: leaderEpoch, current: current) {
            return .fencedLeaderEpoch
        }
        if let partition {
            // No leader, no fetching (the replica fetcher only follows partitions whose leader it serves), and no
            // epoch held: Kafka drops a stopped partition, so a later LeaderAndIsr applies whatever its epoch.
            partition.setRole(leader: -1, leaderEpoch: -1, localBrokerId: brokerId)
            // A coordinator partition this broker led is unloaded from its coordinator. Kafka resigns on a deleting
            // StopReplica only (a reassignment moving the replica away gets no LeaderAndIsr); here a stopped replica
            // leads nothing either way, so the coordinator follows the role as for any other change.
            coordinatorPartitionRoleChanged(partition)
        }
        if delete {
            do {
                try replicaManager.deletePartition(tp)
                logger.info("\(tp): replica stopped and its log deleted (StopReplica)")
            } catch {
                logger.error("\(tp): cannot delete the log: \(error)")
                return .kafkaStorageError
            }
        } else if partition != nil {
            logger.info("\(tp): replica stopped (StopReplica)")
        }
        purgatory.notify(.init(topic: tp.topic, partition: tp.partition))
        return .none
    }
}

extension ControlFence {
    /// Kafka's LeaderAndIsr.NoEpoch / EpochDuringDelete sentinels.
    static let noEpoch: Int32 = -1
    static let epochDuringDelete: Int32 = -2

    static func stopReplicaAdmits(requestLeaderEpoch: Int32, current: Int32) -> Bool {
        requestLeaderEpoch == noEpoch || requestLeaderEpoch == epochDuringDelete || requestLeaderEpoch >= current
    }
}
