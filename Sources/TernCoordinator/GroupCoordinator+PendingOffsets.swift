/// Offset commits become visible once they are durable, as in Kafka's `GroupMetadataManager`
/// (`pendingOffsetCommits`): while a commit's records are being written (acks=all, so until every in-sync replica
/// has them) OffsetFetch answers the last durable offset, or UNSTABLE_OFFSET_COMMIT when it asks for stable
/// offsets; a write that fails puts the last durable offset back. The group's `offsets` hold the newest value
/// meanwhile (what the next commit and the snapshots build on); `pendingOffsetWrites` remembers what was durable.
struct PendingOffsetWrite: Sendable, Equatable {
    /// Commits of this partition still being written.
    var inFlight: Int
    /// The offset as last made durable (nil: none).
    var durable: OffsetCommitRecordValue?
}

extension GroupCoordinator {
    func beginOffsetWrite(groupId: String, _ tp: TopicPartition, durable: OffsetCommitRecordValue?) {
        if var pending = pendingOffsetWrites[groupId]?[tp] {
            pending.inFlight += 1
            pendingOffsetWrites[groupId]![tp] = pending
        } else {
            pendingOffsetWrites[groupId, default: [:]][tp] = PendingOffsetWrite(inFlight: 1, durable: durable)
        }
    }

    /// The append of `records` finished (`succeeded`: every in-sync replica has them). Called by the driver for
    /// every append, in append order per partition; records other than offset commits are ignored.
    public func appendCompleted(_ records: [CoordinatorRecord], succeeded: Bool) {
        for case .offsetCommit(let key, let value) in records {
            let tp = TopicPartition(topic: key.topic, partition: key.partition)
            guard var pending = pendingOffsetWrites[key.groupId]?[tp] else { continue }
            pending.inFlight -= 1
            if succeeded { pending.durable = value }
            if pending.inFlight > 0 {
                pendingOffsetWrites[key.groupId]![tp] = pending
                continue
            }
            pendingOffsetWrites[key.groupId]![tp] = nil
            if pendingOffsetWrites[key.groupId]!.isEmpty { pendingOffsetWrites[key.groupId] = nil }
            if !succeeded { restoreDurable(groupId: key.groupId, tp, pending.durable) }
        }
    }

    private func restoreDurable(groupId: String, _ tp: TopicPartition, _ value: OffsetCommitRecordValue?) {
        if let group = groups[groupId] {
            group.offsets[tp] = value
        } else if let group = consumerGroups[groupId] {
            group.offsets[tp] = value
        }
    }

    /// True while a commit of the partition is being written.
    public func hasPendingOffsetWrite(groupId: String, topicPartition: TopicPartition) -> Bool {
        pendingOffsetWrites[groupId]?[topicPartition] != nil
    }
}
