import FoundationEssentials
import TernCluster
import TernStorage

/// Partition reassignment state in ZooKeeper, Kafka's layout: the topic znode carries the full replica set of
/// each partition plus `adding_replicas` / `removing_replicas` for those being moved, and
/// `/admin/reassign_partitions` holds moves requested through ZooKeeper until they complete.
extension ZooKeeperMetadataStore {
    /// Called by every read of a topic znode, so the cache follows the data watch. False (and nothing cached)
    /// when the read is older than what the cache holds.
    func cacheReplicaChanges(of topic: String, _ node: TopicZNode, zxid: Int64) -> Bool {
        state.withLockedValue { s in
            if let known = s.topicSnapshots[topic], zxid < known.zxid { return false }
            s.topicSnapshots[topic] = (zxid, node.topicId, node.assignment ?? [])
            if let assignment = node.assignment { s.topics[topic]?.assignment = assignment }
            for key in s.replicaChanges.keys where key.topic == topic { s.replicaChanges[key] = nil }
            for p in Set(node.addingReplicas.keys).union(node.removingReplicas.keys) {
                guard let index = Int32(p), node.partitions[p] != nil else { continue }
                let adding = node.addingReplicas[p] ?? []
                let removing = node.removingReplicas[p] ?? []
                if adding.isEmpty && removing.isEmpty { continue }
                s.replicaChanges[TopicPartition(topic: topic, partition: index)] = (adding, removing)
            }
            return true
        }
    }

    /// The topic znode for `topic`, with the reassignment fields of its partitions still being moved.
    func topicZNode(_ topic: TopicMetadata) -> TopicZNode {
        var node = TopicZNode(assignment: topic.assignment, topicId: topic.topicId)
        state.withLockedValue { s in
            for (tp, change) in s.replicaChanges where tp.topic == topic.name && Int(tp.partition) < topic.partitionCount {
                if !change.adding.isEmpty { node.addingReplicas[String(tp.partition)] = change.adding }
                if !change.removing.isEmpty { node.removingReplicas[String(tp.partition)] = change.removing }
            }
        }
        return node
    }

    /// A partition's replica set with its reassignment state; nil for an unknown partition. RS, AR and RR come
    /// from one znode version (a watch's reload may briefly put an older assignment in the topic cache).
    func replicaSet(of tp: TopicPartition) -> PartitionReplicaSet? {
        guard let topic = topic(named: tp.topic), tp.partition >= 0, Int(tp.partition) < topic.partitionCount else { return nil }
        let (snap, change) = state.withLockedValue { ($0.topicSnapshots[tp.topic], $0.replicaChanges[tp]) }
        let p = Int(tp.partition)
        // The snapshot of a deleted topic of the same name does not count.
        guard let snapshot = snap.flatMap({ $0.topicId == topic.topicId ? $0.assignment : nil }), p < snapshot.count else {
            return PartitionReplicaSet(replicas: topic.assignment[p])  // a partition newer than the snapshot: not moving
        }
        return PartitionReplicaSet(
            replicas: snapshot[p], addingReplicas: change?.adding ?? [], removingReplicas: change?.removing ?? [])
    }

    /// Every partition being reassigned.
    func partitionsBeingReassigned() -> [TopicPartition: PartitionReplicaSet] {
        let keys = state.withLockedValue { Array($0.replicaChanges.keys) }
        var out: [TopicPartition: PartitionReplicaSet] = [:]
        for tp in keys {
            if let set = replicaSet(of: tp), set.isBeingReassigned { out[tp] = set }
        }
        return out
    }

    /// Writes new replica sets for some partitions of `topic` to its znode (RS in `partitions`, AR and RR next
    /// to it): read, changed for those partitions only, written back conditionally on the version read (retried
    /// when someone else wrote in between), so no other partition's state is lost to a stale cache. The cache
    /// takes the result at once (the controller tells the brokers with LeaderAndIsr, UpdateMetadata and
    /// StopReplica).
    func writeReplicaSets(_ topic: String, _ sets: [Int32: PartitionReplicaSet]) throws {
        let path = KafkaZNodes.topic(topic)
        while true {
            let (data, stat) = try zk.blocking { zk.get(path, watch: false, completion: $0) }
            guard var node = ZNodeJSON.decode(TopicZNode.self, data) else {
                throw BrokerError.metadata("\(path) is not a topic assignment Tern understands")
            }
            for (p, set) in sets {
                let key = String(p)
                guard node.partitions[key] != nil else { throw BrokerError.metadata("\(path) has no partition \(p)") }
                node.partitions[key] = set.replicas
                node.addingReplicas[key] = set.addingReplicas.isEmpty ? nil : set.addingReplicas
                node.removingReplicas[key] = set.removingReplicas.isEmpty ? nil : set.removingReplicas
            }
            let written: ZNodeStat
            do {
                written = try zk.blocking { zk.set(path, data: ZNodeJSON.encode(node), version: stat.version, completion: $0) }
            } catch let e as ZooKeeperError where e.isBadVersion {
                continue
            }
            _ = cacheReplicaChanges(of: topic, node, zxid: written.mzxid)  // the topic cache too, in one step
            return
        }
    }

    // MARK: /admin/reassign_partitions

    func watchReassignPartitions() {
        _ = try? zk.blocking { zk.exists(KafkaZNodes.reassignPartitions, watch: true, completion: $0) }
    }

    /// The moves listed in `/admin/reassign_partitions`; nil when there is no such node. A node that does not
    /// parse is reported as empty, so the controller deletes it (as Kafka does with an invalid node).
    func reassignPartitionsRequest() -> [ReassignPartitionsZNode.Entry]? {
        guard let (data, _) = try? zk.blocking({ zk.get(KafkaZNodes.reassignPartitions, watch: false, completion: $0) }) else { return nil }
        guard let node = ZNodeJSON.decode(ReassignPartitionsZNode.self, data) else {
            logger.warning("\(KafkaZNodes.reassignPartitions) is not valid reassignment JSON; deleting it")
            return []
        }
        return node.partitions
    }

    /// Removes partitions from `/admin/reassign_partitions` (completed, rejected, or superseded by the API),
    /// deleting the node when none remain. Conditional on the node's version, retried when it changed.
    func removeFromReassignPartitions(_ done: Set<TopicPartition>) {
        while true {
            guard let (data, stat) = try? zk.blocking({ zk.get(KafkaZNodes.reassignPartitions, watch: false, completion: $0) }) else { return }
            let entries = ZNodeJSON.decode(ReassignPartitionsZNode.self, data)?.partitions ?? []
            let remaining = entries.filter { !done.contains(TopicPartition(topic: $0.topic, partition: $0.partition)) }
            if remaining.count == entries.count && !entries.isEmpty { return }
            do {
                if remaining.isEmpty {
                    try zk.blocking { zk.delete(KafkaZNodes.reassignPartitions, version: stat.version, completion: $0) }
                } else {
                    let node = ZNodeJSON.encode(ReassignPartitionsZNode(partitions: remaining))
                    _ = try zk.blocking { zk.set(KafkaZNodes.reassignPartitions, data: node, version: stat.version, completion: $0) }
                }
                return
            } catch let e as ZooKeeperError where e.isBadVersion {
                continue
            } catch {
                logger.warning("cannot update \(KafkaZNodes.reassignPartitions): \(error)")
                return
            }
        }
    }
}
