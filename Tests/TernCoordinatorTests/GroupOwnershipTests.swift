import Testing

@testable import TernCoordinator

/// A cluster's group coordinator serves the `__consumer_offsets` partitions its broker leads; offsets of a
/// transaction still open when a partition moves stay pending on the new coordinator until the marker arrives.
@Suite struct GroupOwnershipTests {
    private func config() -> GroupCoordinatorConfig {
        var c = GroupCoordinatorConfig()
        c.offsetsTopicNumPartitions = 5
        return c
    }

    private func staged(_ group: String, offset: Int64) -> CoordinatorRecord {
        .offsetCommit(
            key: OffsetCommitRecordKey(groupId: group, topic: "t", partition: 0),
            value: OffsetCommitRecordValue(offset: offset, leaderEpoch: -1, metadata: "", commitTimestamp: 1, expireTimestamp: nil))
    }

    @Test func openTransactionOffsetsCommitWhenTheMarkerArrivesAfterTheMove() {
        let gc = GroupCoordinator(config: config(), ownedPartitions: [])
        let p = gc.partition(for: "g")
        #expect(gc.coordinatorError(for: "g") == CoordinatorErrorCode.notCoordinator)
        gc.beginLoading(partition: p)
        #expect(gc.coordinatorError(for: "g") == CoordinatorErrorCode.coordinatorLoadInProgress)
        _ = gc.load(partition: p, records: [staged("g", offset: 10)], openTransactions: [7: [staged("g", offset: 42)]], now: 5)
        #expect(gc.coordinatorError(for: "g") == nil)
        let tp = TopicPartition(topic: "t", partition: 0)
        #expect(gc.hasPendingTransactionalOffset(groupId: "g", topicPartition: tp))
        #expect(gc.snapshot(of: "g")?.offsets[tp]?.offset == 10)
        gc.completeTransaction(producerId: 7, offsetsPartition: p, commit: true, now: 6)
        #expect(gc.snapshot(of: "g")?.offsets[tp]?.offset == 42)
        #expect(!gc.hasPendingTransactionalOffset(groupId: "g", topicPartition: tp))
    }

    @Test func unloadDropsThePartitionsGroupsAndPendingOffsets() {
        let gc = GroupCoordinator(config: config(), ownedPartitions: [])
        let p = gc.partition(for: "g")
        _ = gc.load(partition: p, records: [staged("g", offset: 10)], openTransactions: [7: [staged("g", offset: 42)]], now: 5)
        _ = gc.unload(partition: p)
        let tp = TopicPartition(topic: "t", partition: 0)
        #expect(gc.snapshot(of: "g") == nil)
        #expect(!gc.hasPendingTransactionalOffset(groupId: "g", topicPartition: tp))
        #expect(gc.coordinatorError(for: "g") == CoordinatorErrorCode.notCoordinator)
    }
}
