import Foundation
import KafkaProtocol
import Logging
import NIOCore
import Testing
import TernStorage

@testable import TernBroker

/// The last stable offset and the aborted-transactions index of a partition, live and rebuilt from the log.
@Suite struct TransactionStateTests {
    @Test func lastStableOffsetIsTheFirstOffsetOfTheOldestOpenTransaction() {
        var s = TransactionState()
        #expect(s.lastStableOffset(highWatermark: 10) == 10)
        s.appended(producerId: 1, isTransactional: true, firstOffset: 3)
        s.appended(producerId: 2, isTransactional: true, firstOffset: 5)
        s.appended(producerId: 1, isTransactional: true, firstOffset: 7)  // same transaction, first offset stays
        s.appended(producerId: 3, isTransactional: false, firstOffset: 8)
        #expect(s.lastStableOffset(highWatermark: 10) == 3)
        s.ended(producerId: 1, commit: true, markerOffset: 9)
        #expect(s.lastStableOffset(highWatermark: 10) == 5)
        s.ended(producerId: 2, commit: false, markerOffset: 10)
        #expect(s.lastStableOffset(highWatermark: 11) == 11)
        #expect(s.aborted == [.init(producerId: 2, firstOffset: 5, lastOffset: 10)])
        #expect(s.abortedTransactions(from: 0, to: 5).isEmpty)
        #expect(s.abortedTransactions(from: 10, to: 20).count == 1)
        #expect(s.abortedTransactions(from: 11, to: 20).isEmpty)
    }

    private func batch(pid: Int64, transactional: Bool, count: Int, baseOffset: Int64) -> ByteBuffer {
        var b = RecordBatchBuilder(baseOffset: baseOffset, isTransactional: transactional, producerId: pid, producerEpoch: 0, baseSequence: 0)
        for i in 0..<count { b.append(key: nil, value: ByteBuffer(string: "v\(i)"), timestamp: 0) }
        return try! b.build()
    }

    @Test func partitionTracksLsoAndRebuildsItFromTheLog() throws {
        let fixture = try PartitionFixture()
        defer { fixture.remove() }
        let partition = fixture.partition
        func append(_ records: ByteBuffer) throws {
            let headers = try RecordBatchValidator.validate(records, options: .init())
            _ = try partition.appendAsLeader(records, headers: headers)
        }
        try append(batch(pid: -1, transactional: false, count: 2, baseOffset: 0))  // 0-1
        try append(batch(pid: 7, transactional: true, count: 3, baseOffset: 0))  // 2-4
        try append(batch(pid: -1, transactional: false, count: 1, baseOffset: 0))  // 5
        #expect(partition.lastStableOffset == 2)
        try partition.writeTransactionMarker(producerId: 7, producerEpoch: 0, commit: false, coordinatorEpoch: 0, timestamp: 0)  // 6
        #expect(partition.lastStableOffset == 7)
        #expect(partition.abortedTransactions(from: 0, to: 7).map(\.firstOffset) == [2])
        try append(batch(pid: 8, transactional: true, count: 1, baseOffset: 0))  // 7, left open
        #expect(partition.lastStableOffset == 7)

        // A new Partition over the same log rebuilds both from the stored batches.
        let reopened = fixture.reopened()
        #expect(reopened.lastStableOffset == 7)
        #expect(reopened.abortedTransactions(from: 0, to: 8) == [.init(producerId: 7, firstOffset: 2, lastOffset: 6)])
        // The marker's epoch is the producer's now: an older epoch is refused.
        var old = RecordBatchBuilder(isTransactional: true, producerId: 7, producerEpoch: 0, baseSequence: 3)
        old.append(key: nil, value: ByteBuffer(string: "x"), timestamp: 0)
        try partition.writeTransactionMarker(producerId: 7, producerEpoch: 1, commit: false, coordinatorEpoch: 0, timestamp: 0)
        let stale = try old.build()
        #expect(throws: Partition.AppendFailure.self) {
            _ = try partition.appendAsLeader(stale, headers: try RecordBatchValidator.validate(stale, options: .init()))
        }
        try fixture.manager.shutdown()
    }

    /// A marker from a coordinator that lost its `__transaction_state` partition (an older coordinator epoch) is
    /// refused with TRANSACTION_COORDINATOR_FENCED, also after the partition is rebuilt from its log.
    @Test func markerOfAnOlderCoordinatorEpochIsFenced() throws {
        let fixture = try PartitionFixture()
        defer { fixture.remove() }
        let (log, partition) = (fixture.log, fixture.partition)
        let records = batch(pid: 7, transactional: true, count: 1, baseOffset: 0)
        _ = try partition.appendAsLeader(records, headers: try RecordBatchValidator.validate(records, options: .init()))
        try partition.writeTransactionMarker(producerId: 7, producerEpoch: 0, commit: true, coordinatorEpoch: 3, timestamp: 0)
        func fencedCode(_ p: Partition, coordinatorEpoch: Int32) -> ErrorCode? {
            do {
                try p.writeTransactionMarker(producerId: 7, producerEpoch: 0, commit: false, coordinatorEpoch: coordinatorEpoch, timestamp: 0)
                return nil
            } catch Partition.AppendFailure.rejected(let code, _) {
                return code
            } catch {
                return .unknownServerError
            }
        }
        let end = log.logEndOffset
        #expect(fencedCode(partition, coordinatorEpoch: 2) == .transactionCoordinatorFenced)
        #expect(log.logEndOffset == end, "nothing written")
        let reopened = fixture.reopened()
        #expect(fencedCode(reopened, coordinatorEpoch: 2) == .transactionCoordinatorFenced, "rebuilt from the stored marker")
        #expect(fencedCode(reopened, coordinatorEpoch: 3) == nil, "the same coordinator epoch writes")
        #expect(fencedCode(reopened, coordinatorEpoch: 4) == nil)
        #expect(fencedCode(reopened, coordinatorEpoch: 3) == .transactionCoordinatorFenced)
        try fixture.manager.shutdown()
    }
}

/// A partition over a fresh log in a temporary directory.
private struct PartitionFixture {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tern-txn-\(UUID().uuidString)").path
    let logger = Logger(label: "test")
    let tp = TopicPartition(topic: "t", partition: 0)
    let manager: LogManager
    let log: Log
    let partition: Partition

    init() throws {
        manager = LogManager(logDirs: [dir], logger: logger)
        _ = try manager.startup()
        log = try manager.getOrCreateLog(tp)
        partition = Partition(topicPartition: tp, log: log, logger: logger)
    }

    /// A new Partition over the same log, rebuilding its state from the stored batches.
    func reopened() -> Partition { Partition(topicPartition: tp, log: log, logger: logger) }

    func remove() { try? FileManager.default.removeItem(atPath: dir) }
}
