import TernStorage

/// Broker side of partition reassignment: replicas come and go with the topic znode's assignment. A partition
/// added to this broker gets its log and follows the leader (`adoptTopic`); one this broker no longer appears
/// in is stopped and its log deleted, as Kafka's StopReplica(delete_partitions=true) does. The controller
/// writes the new assignment only after leadership and ISR have left the removed replicas, so nothing is
/// deleted here that the partition still needs. Running this at start-up also drops logs of partitions moved
/// away while this broker was down.
extension Broker {
    func stopUnassignedReplicas(of topic: TopicMetadata) {
        for (p, replicas) in topic.assignment.enumerated() where !replicas.contains(brokerId) {
            let tp = TopicPartition(topic: topic.name, partition: Int32(p))
            do {
                guard try replicaManager.removePartition(tp) else { continue }
                logger.info("\(tp): no longer a replica (replicas \(replicas)); stopped and deleted its log")
            } catch {
                logger.error("\(tp): cannot delete the log of a replica moved away: \(error)")
            }
            purgatory.notify(.init(topic: tp.topic, partition: tp.partition))
        }
    }
}

extension Broker {
    /// The live brokers with their racks, for replica placement; this broker alone without ZooKeeper.
    func placementBrokers() -> [ReplicaAssignment.Broker] {
        guard let live = metadataStore.liveBrokers() else { return [.init(id: brokerId, rack: config.brokerRack)] }
        return live.values.map { ReplicaAssignment.Broker(id: $0.id, rack: $0.rack) }.sorted { $0.id < $1.id }
    }
}
