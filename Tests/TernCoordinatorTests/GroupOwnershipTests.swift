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

/// Offset commits are answered to OffsetFetch only once durable (Kafka's pendingOffsetCommits).
@Suite struct PendingOffsetCommitTests {
    private func fetch(_ gc: GroupCoordinator, stable: Bool) -> OffsetFetchPartition {
        gc.fetchOffsets(OffsetFetchInput(
            groups: [OffsetFetchGroup(groupId: "g", topics: [OffsetFetchTopic(name: "t", partitionIndexes: [0])])], requireStable: stable), now: 0)
            .groups[0].topics[0].partitions[0]
    }

    private func commit(_ gc: GroupCoordinator, _ offset: Int64) -> [CoordinatorRecord] {
        let (result, actions) = gc.commitOffsets(commitInput("g", [("t", 0, offset)]), now: 1)
        #expect(codes(result) == [0])
        return actions.flatMap { action -> [CoordinatorRecord] in if case .append(_, let r) = action { return r } else { return [] } }
    }

    @Test func inFlightCommitIsHiddenUntilDurable() {
        let gc = GroupCoordinator()
        gc.appendCompleted(commit(gc, 5), succeeded: true)
        let second = commit(gc, 9)
        #expect(fetch(gc, stable: false).committedOffset == 5)
        #expect(fetch(gc, stable: true).errorCode == CoordinatorErrorCode.unstableOffsetCommit)
        gc.appendCompleted(second, succeeded: true)
        #expect(fetch(gc, stable: true).committedOffset == 9)
    }

    @Test func failedWriteRestoresTheLastDurableOffset() {
        let gc = GroupCoordinator()
        gc.appendCompleted(commit(gc, 5), succeeded: true)
        let a = commit(gc, 7)
        let b = commit(gc, 9)
        gc.appendCompleted(a, succeeded: true)
        #expect(fetch(gc, stable: false).committedOffset == 7)  // b still in flight: a is the durable one
        gc.appendCompleted(b, succeeded: false)
        #expect(fetch(gc, stable: true).committedOffset == 7)
        #expect(gc.snapshot(of: "g")?.offsets[TopicPartition(topic: "t", partition: 0)]?.offset == 7)
    }

    @Test func failedFirstCommitLeavesNoOffset() {
        let gc = GroupCoordinator()
        gc.appendCompleted(commit(gc, 3), succeeded: false)
        #expect(fetch(gc, stable: true).committedOffset == -1)
    }
}
