import Dispatch
import TernStorage

/// ISR expansion as soon as a follower catches up (Kafka's maybeExpandIsr on the fetch path), rather than at the
/// next periodic ISR check (every replica.lag.time.max.ms / 2): a new replica of a reassignment, or a follower
/// back after a restart, joins the ISR within one fetch. The ZooKeeper write runs off the event loop, at most one
/// at a time per partition.
extension Broker {
    /// Called by the leader's follower-fetch path after recording the fetch.
    func expandIsrIfCaughtUp(_ partition: Partition, replicaId: Int32) {
        guard zooKeeperStore != nil, partition.isCaughtUpOutsideIsr(replicaId) else { return }
        let tp = partition.topicPartition
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
