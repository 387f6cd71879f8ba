import Dispatch
import TernStorage

/// A reassignment's new replica joins the ISR on the fetch that catches it up (Kafka's maybeExpandIsr on the
/// fetch path), rather than at the next periodic ISR check (every replica.lag.time.max.ms / 2), so a move does
/// not wait up to 15 s by default. Other followers keep the periodic check: a broker in controlled shutdown
/// still fetches until it stops, and Kafka keeps such a broker out of the ISR (KIP-841; in ZooKeeper mode by
/// stopping its replicas), which this broker cannot tell. The ZooKeeper write runs off the event loop, at most
/// one at a time per partition.
extension Broker {
    /// Called by the leader's follower-fetch path after recording the fetch.
    func expandIsrIfCaughtUp(_ partition: Partition, replicaId: Int32) {
        let tp = partition.topicPartition
        guard let store = zooKeeperStore, partition.isCaughtUpOutsideIsr(replicaId),
              store.replicaSet(of: tp)?.addingReplicas.contains(replicaId) == true else { return }
        let first = clusterRuntime.pendingIsrExpansions.withLockedValue { $0.insert(tp).inserted }
        guard first else { return }
        DispatchQueue.global().async { [weak self] in
            guard let self else { return }
            defer { _ = self.clusterRuntime.pendingIsrExpansions.withLockedValue { $0.remove(tp) } }
            self.writeExpandedIsr(partition)
        }
    }

    private func writeExpandedIsr(_ partition: Partition) {
        let lagMax = config.raw["replica.lag.time.max.ms"].flatMap { Int64($0) } ?? 30000
        maintainIsr(lagMaxMs: lagMax, only: partition, growOnly: true)  // shrinking stays with the periodic check
    }
}

extension Partition {
    /// Leader: `replicaId` is not in the ISR but has fetched up to the high watermark.
    func isCaughtUpOutsideIsr(_ replicaId: Int32) -> Bool {
        lock.withLock {
            guard _isLeader, _clustered, !_isr.contains(replicaId), let f = _followers[replicaId] else { return false }
            return f.logEndOffset >= log.highWatermark
        }
    }
}
