import KafkaProtocol
import TernStorage

/// LeaderAndIsr (key 4), versions 0-7: the controller tells the replicas of partitions their role (ZooKeeper
/// mode; Kafka's ReplicaManager.becomeLeaderOrFollower).
/// - A broker epoch (v2+) older than this broker's registration is refused whole with STALE_BROKER_EPOCH (KIP-380).
/// - A controller epoch below the highest this broker has seen is refused whole with STALE_CONTROLLER_EPOCH.
/// - Per partition: the topic must exist and list this broker among `replicas` (else UNKNOWN_TOPIC_OR_PARTITION);
///   a leader epoch not newer than the one the replica holds is ignored with STALE_CONTROLLER_EPOCH, as Kafka
///   does; otherwise the log is created if missing and the role applied (`applyLeadership`), with
///   `partition_epoch` (the state znode version) kept for the leader's conditional ISR writes.
/// - A broker without `zookeeper.connect` has no controller: the request closes the connection.
extension Broker {
    func leaderAndIsr(_ request: LeaderAndIsrRequest, _ ctx: RequestContext) throws -> LeaderAndIsrResponse {
        guard zooKeeperStore != nil else {
            throw RequestRejection(description: "LeaderAndIsr is only served in a ZooKeeper cluster")
        }
        let states: [(topicId: KafkaUUID, state: LeaderAndIsrRequest.LeaderAndIsrPartitionState)] =
            ctx.apiVersion <= 1
            ? request.ungroupedPartitionStates.map { (KafkaUUID.zero, $0) }
            : request.topicStates.flatMap { t in
                t.partitionStates.map { s in
                    var s = s
                    s.topicName = t.topicName
                    return (t.topicId, s)
                }
            }
        let refusal = admitControllerRequest(
            "LeaderAndIsr", controllerId: request.controllerId, controllerEpoch: request.controllerEpoch, brokerEpoch: request.brokerEpoch)
        var errors: [(KafkaUUID, String, Int32, ErrorCode)] = []
        for (topicId, s) in states {
            let code = refusal == .none ? becomeLeaderOrFollower(s) : refusal
            errors.append((topicId, s.topicName, s.partitionIndex, code))
        }
        var response = LeaderAndIsrResponse()
        response.errorCode = refusal.rawValue
        let entries = errors.map { _, topic, p, code in
            var e = LeaderAndIsrResponse.LeaderAndIsrPartitionError()
            e.topicName = topic
            e.partitionIndex = p
            e.errorCode = code.rawValue
            return e
        }
        if ctx.apiVersion >= 5 {
            var byTopic: [KafkaUUID: [LeaderAndIsrResponse.LeaderAndIsrPartitionError]] = [:]
            var order: [KafkaUUID] = []
            for (e, (id, _, _, _)) in zip(entries, errors) {
                if byTopic[id] == nil { order.append(id) }
                byTopic[id, default: []].append(e)
            }
            response.topics = order.map { id in
                var t = LeaderAndIsrResponse.LeaderAndIsrTopicError()
                t.topicId = id
                t.partitionErrors = byTopic[id]!
                return t
            }
        } else {
            response.partitionErrors = entries
        }
        return response
    }

    private func becomeLeaderOrFollower(_ s: LeaderAndIsrRequest.LeaderAndIsrPartitionState) -> ErrorCode {
        let tp = TopicPartition(topic: s.topicName, partition: s.partitionIndex)
        guard s.replicas.contains(brokerId), let topic = metadataStore.topic(named: tp.topic) else {
            logger.warning("ignoring LeaderAndIsr for \(tp): this broker is not among its replicas \(s.replicas) or the topic is unknown")
            return .unknownTopicOrPartition
        }
        let existing = replicaManager.partition(tp)
        let fence = ControlFence.leaderAndIsrError(requestLeaderEpoch: s.leaderEpoch, current: existing?.clusteredLeaderEpoch)
        guard fence == .none else {
            logger.debug("ignoring LeaderAndIsr for \(tp): leader epoch \(s.leaderEpoch) is not newer than \(existing?.leaderEpoch ?? -1)")
            return fence
        }
        let partition: Partition
        do {
            partition = try existing ?? replicaManager.ensurePartition(tp, topic: topic)
        } catch {
            logger.error("cannot create the log of \(tp): \(error)")
            return .kafkaStorageError
        }
        applyLeadership(partition, PartitionLeadership(
            leader: s.leader, leaderEpoch: s.leaderEpoch, isr: s.isr, controllerEpoch: s.controllerEpoch,
            zkVersion: s.partitionEpoch))
        return .none
    }
}

extension Partition {
    /// The leader epoch of the last role applied; nil before the first one (any epoch is then newer).
    var clusteredLeaderEpoch: Int32? { lock.withLock { _clustered ? _leaderEpoch : nil } }
}
