import KafkaProtocol
import NIOCore
import Testing

@testable import TernBroker

/// The idempotent producer's sequence rules, as Kafka's ProducerStateManager applies them.
@Suite struct ProducerStateTableTests {
    private func record(_ t: inout ProducerStateTable, pid: Int64 = 7, epoch: Int16 = 0, seq: Int32, count: Int32 = 1, offset: Int64) {
        t.record(producerId: pid, producerEpoch: epoch, firstSequence: seq, lastSequence: seq &+ (count - 1),
                 firstOffset: offset, lastOffset: offset + Int64(count) - 1, timestamp: 0)
    }

    @Test func unknownProducerAcceptsAnySequence() {
        let t = ProducerStateTable()
        #expect(t.check(producerId: 7, producerEpoch: 0, firstSequence: 42, lastSequence: 42) == .append)
    }

    @Test func nextSequenceAppendsAndAGapIsOutOfOrder() {
        var t = ProducerStateTable()
        record(&t, seq: 0, count: 5, offset: 0)
        #expect(t.check(producerId: 7, producerEpoch: 0, firstSequence: 5, lastSequence: 9) == .append)
        #expect(t.check(producerId: 7, producerEpoch: 0, firstSequence: 7, lastSequence: 9) == .reject(.outOfOrderSequenceNumber))
    }

    @Test func retryOfOneOfTheLastFiveBatchesIsADuplicateWithItsOriginalOffsets() {
        var t = ProducerStateTable()
        for i in 0..<6 { record(&t, seq: Int32(i * 2), count: 2, offset: Int64(100 + i * 2)) }
        // Batch 0 fell out of the window of five; batch 1 (seq 2-3) is still there.
        guard case .duplicate(let meta) = t.check(producerId: 7, producerEpoch: 0, firstSequence: 2, lastSequence: 3) else {
            Issue.record("expected a duplicate")
            return
        }
        #expect(meta.firstOffset == 102 && meta.lastOffset == 103)
        #expect(t.check(producerId: 7, producerEpoch: 0, firstSequence: 0, lastSequence: 1) == .reject(.outOfOrderSequenceNumber))
    }

    @Test func epochRules() {
        var t = ProducerStateTable()
        record(&t, epoch: 3, seq: 0, count: 1, offset: 0)
        #expect(t.check(producerId: 7, producerEpoch: 2, firstSequence: 1, lastSequence: 1) == .reject(.invalidProducerEpoch))
        #expect(t.check(producerId: 7, producerEpoch: 4, firstSequence: 0, lastSequence: 0) == .append)
        #expect(t.check(producerId: 7, producerEpoch: 4, firstSequence: 3, lastSequence: 3) == .reject(.outOfOrderSequenceNumber))
    }

    @Test func sequenceWrapsAfterIntMax() {
        var t = ProducerStateTable()
        record(&t, seq: Int32.max, count: 1, offset: 0)
        #expect(t.check(producerId: 7, producerEpoch: 0, firstSequence: 0, lastSequence: 0) == .append)
    }

    @Test func snapshotRoundTripsAndACorruptOneIsRefused() throws {
        var t = ProducerStateTable()
        record(&t, pid: 1, seq: 0, count: 3, offset: 0)
        record(&t, pid: 2, epoch: 5, seq: 10, count: 1, offset: 3)
        let snapshot = t.snapshot(at: 4)
        let loaded = try #require(ProducerStateTable.load(snapshot: snapshot))
        #expect(loaded.offset == 4)
        #expect(loaded.table.entries == t.entries)
        var corrupt = snapshot
        corrupt.setInteger(UInt8(0xff), at: 12)
        #expect(ProducerStateTable.load(snapshot: corrupt) == nil)
        #expect(ProducerStateTable.load(snapshot: ByteBuffer(bytes: [0, 1, 2])) == nil)
    }

    /// ProducerStateManager's marker rules: an older producer epoch is INVALID_PRODUCER_EPOCH, an older coordinator
    /// epoch than the last marker's is TRANSACTION_COORDINATOR_FENCED; the coordinator epoch survives epoch bumps.
    @Test func markerFromAnOlderCoordinatorEpochIsFenced() {
        var t = ProducerStateTable()
        #expect(t.checkMarker(producerId: 7, producerEpoch: 0, coordinatorEpoch: 0) == .none, "unknown producer")
        t.markerWritten(producerId: 7, producerEpoch: 0, coordinatorEpoch: 5)
        #expect(t.entries[7]?.coordinatorEpoch == 5)
        #expect(t.checkMarker(producerId: 7, producerEpoch: 0, coordinatorEpoch: 4) == .transactionCoordinatorFenced)
        #expect(t.checkMarker(producerId: 7, producerEpoch: 0, coordinatorEpoch: 5) == .none)
        #expect(t.checkMarker(producerId: 7, producerEpoch: 1, coordinatorEpoch: 6) == .none)
        t.markerWritten(producerId: 7, producerEpoch: 2, coordinatorEpoch: 6)
        #expect(t.checkMarker(producerId: 7, producerEpoch: 1, coordinatorEpoch: 9) == .invalidProducerEpoch)
        record(&t, pid: 7, epoch: 3, seq: 0, count: 1, offset: 10)  // a new epoch's batch keeps the coordinator epoch
        #expect(t.entries[7]?.coordinatorEpoch == 6)
        #expect(t.checkMarker(producerId: 7, producerEpoch: 3, coordinatorEpoch: 5) == .transactionCoordinatorFenced)
        #expect(t.checkMarker(producerId: 8, producerEpoch: 0, coordinatorEpoch: 0) == .none, "per producer")
    }

    @Test func coordinatorEpochSurvivesSnapshotAndReplay() throws {
        var t = ProducerStateTable()
        record(&t, pid: 1, seq: 0, count: 1, offset: 0)
        t.markerWritten(producerId: 1, producerEpoch: 0, coordinatorEpoch: 12)
        let loaded = try #require(ProducerStateTable.load(snapshot: t.snapshot(at: 2)))
        #expect(loaded.table.entries[1]?.coordinatorEpoch == 12)
        #expect(loaded.table.entries == t.entries)

        // A version 1 snapshot (before coordinator epochs) still loads, with none known.
        var v1 = ByteBuffer()
        v1.writeInteger(Int16(1)); v1.writeInteger(Int64(3)); v1.writeInteger(Int32(1))
        v1.writeInteger(Int64(4)); v1.writeInteger(Int16(2)); v1.writeInteger(Int8(0))
        v1.writeInteger(CRC32C.checksum(v1, at: v1.readerIndex, length: v1.readableBytes))
        let old = try #require(ProducerStateTable.load(snapshot: v1))
        #expect(old.offset == 3)
        #expect(old.table.entries[4] == .init(producerEpoch: 2, batches: [], coordinatorEpoch: -1))

        // Replaying a stored COMMIT marker restores its coordinator epoch.
        let marker = RecordBatchBuilder.transactionMarker(
            ControlRecord(type: .commit, coordinatorEpoch: 9), producerId: 5, producerEpoch: 1, timestamp: 0)
        var replayed = ProducerStateTable()
        replayed.replay(batchesIn: marker)
        #expect(replayed.entries[5]?.producerEpoch == 1)
        #expect(replayed.entries[5]?.coordinatorEpoch == 9)
    }

    @Test func replayOfBatchHeadersRebuildsTheTable() throws {
        var buffer = ByteBuffer()
        for i in 0..<3 {
            var builder = RecordBatchBuilder(baseOffset: Int64(i * 2), producerId: 9, producerEpoch: 1, baseSequence: Int32(i * 2))
            builder.append(key: nil, value: ByteBuffer(string: "a"), timestamp: 1)
            builder.append(key: nil, value: ByteBuffer(string: "b"), timestamp: 1)
            var batch = try builder.build()
            buffer.writeBuffer(&batch)
        }
        var t = ProducerStateTable()
        t.replay(batchesIn: buffer)
        #expect(t.entries[9]?.producerEpoch == 1)
        #expect(t.entries[9]?.batches.map(\.firstOffset) == [0, 2, 4])
        #expect(t.check(producerId: 9, producerEpoch: 1, firstSequence: 6, lastSequence: 7) == .append)
        t.removeEntries(below: 100)
        #expect(t.entries.isEmpty)
    }
}

@Suite struct TransactionStateSnapshotTests {
    @Test func snapshotRoundTripsAndCorruptionIsRefused() throws {
        var state = TransactionState()
        state.appended(producerId: 1, isTransactional: true, firstOffset: 10)
        state.appended(producerId: 2, isTransactional: true, firstOffset: 12)
        state.ended(producerId: 2, commit: false, markerOffset: 15)
        let snapshot = state.snapshot(at: 16)
        let (loaded, offset) = try #require(TransactionState.load(snapshot: snapshot))
        #expect(offset == 16)
        #expect(loaded.ongoing == [1: 10])
        #expect(loaded.aborted == [TransactionState.AbortedTransaction(producerId: 2, firstOffset: 12, lastOffset: 15)])
        #expect(loaded.lastStableOffset(highWatermark: 100) == 10)
        var corrupt = snapshot
        corrupt.setInteger(UInt8(0x55), at: 20)
        #expect(TransactionState.load(snapshot: corrupt) == nil)
    }
}
