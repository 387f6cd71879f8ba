import FoundationEssentials
import KafkaProtocol
import TernCluster
import TernStorage

/// A replica of a partition on one broker.
struct ReplicaRef: Hashable, Sendable {
    var broker: Int32
    var tp: TopicPartition
}

/// Topic deletion as Kafka's ZooKeeper-mode controller does it (TopicDeletionManager):
///   1. DeleteTopics (any broker) writes `/admin/delete_topics/<t>`; the controller, watching its children,
///      takes the topic up: no more elections for it, UpdateMetadata marks its partitions leaderless
///      (leader -2, LeaderDuringDelete) on every broker so clients stop using them;
///   2. StopReplica with delete_partition=true goes to every live replica; each acknowledgement with NONE ticks
///      the replica off;
///   3. a replica on a broker that is down stays pending: when the broker registers again it gets the
///      StopReplica then (and a broker also drops, at start-up, logs of topics that no longer exist);
///   4. once every replica is gone the controller deletes `/brokers/topics/<t>`, `/config/topics/<t>` and the
///      admin znode; the name can be used again at once.
/// A new controller finds the admin znodes and starts over (StopReplica is idempotent).
extension ClusterController {
    var topicsBeingDeleted: Set<String> { Set(deletions.keys) }

    /// On the queue, when active: takes up every topic queued under /admin/delete_topics.
    func handleTopicDeletions() {
        let zk = store.zk
        guard let names: [String] = try? zk.blocking({ zk.children(KafkaZNodes.deleteTopics, watch: false, completion: $0) })
        else { return }
        for name in names where deletions[name] == nil {
            guard let topic = store.topic(named: name) else {
                // Nothing to delete (already gone, or never existed): the request is done.
                logger.info("deletion of unknown topic \(name) requested; removing \(KafkaZNodes.deleteTopic(name))")
                try? zk.blocking { zk.delete(KafkaZNodes.deleteTopic(name), version: -1, completion: $0) }
                continue
            }
            startDeletion(topic)
        }
    }

    private func startDeletion(_ topic: TopicMetadata) {
        var pending: Set<ReplicaRef> = []
        var offline: [ControlledPartition] = []
        for (i, replicas) in topic.assignment.enumerated() {
            let tp = TopicPartition(topic: topic.name, partition: Int32(i))
            for r in replicas { pending.insert(ReplicaRef(broker: r, tp: tp)) }
            var l = store.leadership(of: tp) ?? PartitionLeadership(leader: -1, leaderEpoch: 0, isr: [], controllerEpoch: epoch, zkVersion: 0)
            l.leader = ControlFence.leaderDuringDelete
            offline.append(ControlledPartition(tp: tp, topicId: topic.id, replicas: replicas, leadership: l))
        }
        deletions[topic.name] = pending
        logger.info("deleting topic \(topic.name): \(pending.count) replica(s) to stop")
        sendUpdateMetadata(offline, to: Set(channels.keys))
        sendStopReplicas(for: topic.name, to: nil)
        completeDeletionIfDone(topic.name)
    }

    /// A broker registered again: the replicas it still holds of topics being deleted go now.
    func resumeTopicDeletion(for brokers: Set<Int32>) {
        for name in deletions.keys { sendStopReplicas(for: name, to: brokers) }
    }

    /// StopReplica(delete_partition=true) for every pending replica of `name` on a live broker (or only `only`).
    private func sendStopReplicas(for name: String, to only: Set<Int32>?) {
        guard let pending = deletions[name] else { return }
        let refs = pending.filter { only?.contains($0.broker) ?? true }.sorted { ($0.broker, $0.tp.partition) < ($1.broker, $1.tp.partition) }
        sendStopReplica(refs, delete: true) { [weak self] broker, response in
            self?.stopReplicaAcknowledged(by: broker, response)
        }
    }

    private func stopReplicaAcknowledged(by broker: Int32, _ response: StopReplicaResponse) {
        guard active, response.errorCode == 0 else { return }
        var touched: Set<String> = []
        for e in response.partitionErrors where e.errorCode == 0 {
            let ref = ReplicaRef(broker: broker, tp: TopicPartition(topic: e.topicName, partition: e.partitionIndex))
            if deletions[e.topicName]?.remove(ref) != nil { touched.insert(e.topicName) }
        }
        for name in touched { completeDeletionIfDone(name) }
    }

    private func completeDeletionIfDone(_ name: String) {
        guard let pending = deletions[name] else { return }
        guard pending.isEmpty else {
            let waiting = Set(pending.map(\.broker)).sorted()
            logger.info("deletion of \(name): waiting for \(pending.count) replica(s) on broker(s) \(waiting)")
            return
        }
        do {
            _ = try store.delete(named: name)
            let zk = store.zk
            do {
                try zk.blocking { zk.delete(KafkaZNodes.deleteTopic(name), version: -1, completion: $0) }
            } catch let e as ZooKeeperError where e.isNoNode {}
            deletions[name] = nil
            logger.info("deleted topic \(name)")
        } catch {
            logger.error("deletion of \(name): cannot remove its znodes: \(error); retrying on the next event")
        }
    }
}
