import Testing

@testable import TernCoordinator

/// The transaction state machine: answers and actions of each request, fencing, timeouts, and replay.
@Suite struct TransactionCoordinatorTests {
    private final class Ids {
        var next: Int64 = 1000
        func allocate() -> Int64? {
            defer { next += 1 }
            return next
        }
    }

    private func machine(_ ids: Ids = Ids()) -> TransactionCoordinator {
        TransactionCoordinator(allocateProducerId: { ids.allocate() })
    }

    private let tp0 = TopicPartition(topic: "t", partition: 0)
    private let tp1 = TopicPartition(topic: "t", partition: 1)

    private func records(_ actions: [TransactionAction]) -> [TransactionRecord] {
        actions.compactMap { if case .append(_, let r) = $0 { return r } else { return nil } }
    }

    private func markers(_ actions: [TransactionAction]) -> [TransactionMarkers] {
        actions.compactMap { if case .writeMarkers(let m) = $0 { return m } else { return nil } }
    }

    @Test func initAllocatesThenBumpsTheEpoch() {
        let m = machine()
        let (first, a1) = m.initProducerId(transactionalId: "x", transactionTimeoutMs: 60000, now: 1)
        #expect(first == .init(errorCode: 0, producerId: 1000, producerEpoch: 0))
        #expect(records(a1).map(\.value?.state) == [.empty])
        #expect(records(a1).first.map { $0.transactionalId } == "x")
        let (second, _) = m.initProducerId(transactionalId: "x", transactionTimeoutMs: 60000, now: 2)
        #expect(second == .init(errorCode: 0, producerId: 1000, producerEpoch: 1))
    }

    @Test func timeoutAboveTheMaximumIsRefused() {
        let m = machine()
        let (r, actions) = m.initProducerId(transactionalId: "x", transactionTimeoutMs: 900_001, now: 1)
        #expect(r.errorCode == TransactionErrorCode.invalidTransactionTimeout)
        #expect(actions.isEmpty)
    }

    @Test func commitWritesPrepareMarkersThenComplete() {
        let m = machine()
        _ = m.initProducerId(transactionalId: "x", transactionTimeoutMs: 60000, now: 1)
        let (code, add) = m.addPartitions(transactionalId: "x", producerId: 1000, producerEpoch: 0, partitions: [tp0, tp1], now: 10)
        #expect(code == 0)
        #expect(records(add).map(\.value?.state) == [.ongoing])
        #expect(add.contains(.scheduleTimeout(transactionalId: "x", deadlineMs: 60010)))
        // Adding a partition already in the transaction writes nothing.
        #expect(m.addPartitions(transactionalId: "x", producerId: 1000, producerEpoch: 0, partitions: [tp0], now: 11).1.isEmpty)
        let (end, actions) = m.endTransaction(transactionalId: "x", producerId: 1000, producerEpoch: 0, commit: true, now: 20)
        #expect(end == 0)
        #expect(records(actions).map(\.value?.state) == [.prepareCommit])
        let written = markers(actions)
        #expect(written == [TransactionMarkers(transactionalId: "x", producerId: 1000, producerEpoch: 0, commit: true, coordinatorEpoch: 0, partitions: [tp0, tp1])])
        // Another request while the markers are being written.
        #expect(m.addPartitions(transactionalId: "x", producerId: 1000, producerEpoch: 0, partitions: [tp0], now: 21).0 == TransactionErrorCode.concurrentTransactions)
        let done = m.markersWritten(written[0], now: 22)
        #expect(records(done).map(\.value?.state) == [.completeCommit])
        #expect(m.transactions["x"]?.partitions.isEmpty == true)
        // A retried EndTxn(commit) answers NONE; an abort now is INVALID_TXN_STATE.
        #expect(m.endTransaction(transactionalId: "x", producerId: 1000, producerEpoch: 0, commit: true, now: 23).0 == 0)
        #expect(m.endTransaction(transactionalId: "x", producerId: 1000, producerEpoch: 0, commit: false, now: 23).0 == TransactionErrorCode.invalidTxnState)
    }

    @Test func endWithoutATransactionIsInvalidTxnState() {
        let m = machine()
        _ = m.initProducerId(transactionalId: "x", transactionTimeoutMs: 60000, now: 1)
        #expect(m.endTransaction(transactionalId: "x", producerId: 1000, producerEpoch: 0, commit: true, now: 2).0 == TransactionErrorCode.invalidTxnState)
        #expect(m.endTransaction(transactionalId: "y", producerId: 1000, producerEpoch: 0, commit: true, now: 2).0 == TransactionErrorCode.invalidProducerIdMapping)
    }

    @Test func aNewProducerFencesTheOldOneAndAbortsItsTransaction() {
        let m = machine()
        _ = m.initProducerId(transactionalId: "x", transactionTimeoutMs: 60000, now: 1)
        _ = m.addPartitions(transactionalId: "x", producerId: 1000, producerEpoch: 0, partitions: [tp0], now: 2)
        let (r, actions) = m.initProducerId(transactionalId: "x", transactionTimeoutMs: 60000, now: 3)
        #expect(r.errorCode == TransactionErrorCode.concurrentTransactions)
        #expect(records(actions).map(\.value?.state) == [.prepareAbort])
        let abort = markers(actions)
        #expect(abort.map(\.producerEpoch) == [1])
        #expect(abort.map(\.commit) == [false])
        _ = m.markersWritten(abort[0], now: 4)
        let (retry, _) = m.initProducerId(transactionalId: "x", transactionTimeoutMs: 60000, now: 5)
        #expect(retry == .init(errorCode: 0, producerId: 1000, producerEpoch: 2))
        // The old producer is fenced.
        #expect(m.addPartitions(transactionalId: "x", producerId: 1000, producerEpoch: 0, partitions: [tp0], now: 6).0 == TransactionErrorCode.producerFenced)
        #expect(m.endTransaction(transactionalId: "x", producerId: 1000, producerEpoch: 0, commit: true, now: 6).0 == TransactionErrorCode.producerFenced)
    }

    @Test func kip360RetryWithTheCurrentEpochBumpsAndAStaleOneIsFenced() {
        let m = machine()
        _ = m.initProducerId(transactionalId: "x", transactionTimeoutMs: 60000, now: 1)
        _ = m.initProducerId(transactionalId: "x", transactionTimeoutMs: 60000, now: 2)  // epoch 1
        #expect(m.initProducerId(transactionalId: "x", transactionTimeoutMs: 60000, expectedProducerId: 1000, expectedEpoch: 1, now: 3).0
                == .init(errorCode: 0, producerId: 1000, producerEpoch: 2))
        #expect(m.initProducerId(transactionalId: "x", transactionTimeoutMs: 60000, expectedProducerId: 999, expectedEpoch: 2, now: 4).0.errorCode
                == TransactionErrorCode.producerFenced)
    }

    @Test func epochExhaustionMovesToANewProducerId() {
        let m = machine()
        _ = m.load(records: [TransactionRecord(transactionalId: "x", value: TransactionMetadata(
            transactionalId: "x", producerId: 5, producerEpoch: Int16.max - 1, transactionTimeoutMs: 60000, state: .completeCommit,
            transactionLastUpdateTimestampMs: 0))], now: 0)
        let (r, _) = m.initProducerId(transactionalId: "x", transactionTimeoutMs: 60000, now: 1)
        #expect(r == .init(errorCode: 0, producerId: 1000, producerEpoch: 0))
        #expect(m.transactions["x"]?.previousProducerId == 5)
    }

    @Test func timeoutFencesAndAborts() {
        let m = machine()
        _ = m.initProducerId(transactionalId: "x", transactionTimeoutMs: 1000, now: 0)
        _ = m.addPartitions(transactionalId: "x", producerId: 1000, producerEpoch: 0, partitions: [tp0], now: 100)
        // Early wake-ups re-arm the timer.
        #expect(m.timeoutExpired(transactionalId: "x", now: 500) == [.scheduleTimeout(transactionalId: "x", deadlineMs: 1100)])
        let actions = m.timeoutExpired(transactionalId: "x", now: 1100)
        #expect(markers(actions).map { ($0.commit, $0.producerEpoch) }.first! == (false, 1))
        #expect(m.transactions["x"]?.state == .prepareAbort)
    }

    @Test func addOffsetsAddsTheGroupsOffsetsPartition() {
        let m = machine()
        _ = m.initProducerId(transactionalId: "x", transactionTimeoutMs: 60000, now: 0)
        #expect(m.addOffsets(transactionalId: "x", producerId: 1000, producerEpoch: 0, groupId: "g", now: 1).0 == 0)
        let expected = GroupPartitioner.partition(for: "g", numPartitions: 50)
        #expect(m.transactions["x"]?.partitions == [TopicPartition(topic: "__consumer_offsets", partition: expected)])
    }

    @Test func replayRebuildsTheSameStateAndFinishesPreparedTransactions() {
        let ids = Ids()
        let m = machine(ids)
        var log: [TransactionRecord] = []
        log += records(m.initProducerId(transactionalId: "a", transactionTimeoutMs: 60000, now: 0).1)
        log += records(m.initProducerId(transactionalId: "b", transactionTimeoutMs: 60000, now: 0).1)
        log += records(m.initProducerId(transactionalId: "c", transactionTimeoutMs: 60000, now: 0).1)
        log += records(m.addPartitions(transactionalId: "a", producerId: 1000, producerEpoch: 0, partitions: [tp0], now: 1).1)
        log += records(m.addPartitions(transactionalId: "b", producerId: 1001, producerEpoch: 0, partitions: [tp1], now: 1).1)
        // b's EndTxn stored PrepareCommit, then the broker died before its markers.
        log += records(m.endTransaction(transactionalId: "b", producerId: 1001, producerEpoch: 0, commit: true, now: 2).1)
        let replayed = machine(ids)
        let actions = replayed.load(records: log, now: 3)
        #expect(replayed.transactions == m.transactions)
        #expect(markers(actions).map(\.transactionalId) == ["b"])
        #expect(actions.contains(.scheduleTimeout(transactionalId: "a", deadlineMs: 60001)))
        // A tombstone removes the id.
        let gone = machine(ids)
        _ = gone.load(records: log + [TransactionRecord(transactionalId: "c", value: nil)], now: 3)
        #expect(gone.transactions["c"] == nil && gone.transactions["a"] != nil)
    }
}
