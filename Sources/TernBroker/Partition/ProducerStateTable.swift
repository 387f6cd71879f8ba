import KafkaProtocol
import NIOCore

/// Idempotent-producer state of one partition: per producer id its epoch and the metadata of its last five
/// batches, so a retried batch is recognised and answered with its original offsets instead of being appended
/// twice (Kafka's `ProducerStateManager`).
///
/// Snapshot format (`producer-state.snapshot` in the partition directory; big-endian):
/// `version int16 (2) | snapshotOffset int64 | count int32 | count x entry | crc32c uint32 of everything before`
/// where an entry is `producerId int64 | epoch int16 | coordinatorEpoch int32 | batchCount int8 | batchCount x
/// (firstSeq int32, lastSeq int32, firstOffset int64, lastOffset int64, timestamp int64)`. Version 1 (no
/// coordinatorEpoch) is still read.
/// After a crash the snapshot may be older than the log: the partition replays batch headers from
/// `snapshotOffset` to the log end, which restores the same table (a lost snapshot costs a longer replay only).
public struct ProducerStateTable: Sendable {
    public static let retainedBatches = 5

    public struct BatchMetadata: Sendable, Equatable {
        public var firstSequence: Int32
        public var lastSequence: Int32
        public var firstOffset: Int64
        public var lastOffset: Int64
        public var timestamp: Int64
    }

    public struct Entry: Sendable, Equatable {
        public var producerEpoch: Int16
        /// Oldest first, at most `retainedBatches`.
        public var batches: [BatchMetadata]
        /// The coordinator epoch of the last transaction marker written for the producer, -1 before any: a
        /// marker from an older coordinator (one that lost its `__transaction_state` partition) is fenced.
        public var coordinatorEpoch: Int32 = -1
        public var lastSequence: Int32 { batches.last?.lastSequence ?? -1 }
    }

    /// What the table says about a batch before it is appended.
    public enum Verdict: Sendable, Equatable {
        case append
        /// A retry of a batch already in the log: answer with its original offsets, append nothing.
        case duplicate(BatchMetadata)
        case reject(ErrorCode)
    }

    public private(set) var entries: [Int64: Entry] = [:]

    public init() {}

    /// Checks a batch of an idempotent or transactional producer (producerId >= 0) against the table.
    public func check(producerId: Int64, producerEpoch: Int16, firstSequence: Int32, lastSequence: Int32) -> Verdict {
        guard producerId >= 0 else { return .append }
        guard let current = entries[producerId] else {
            // Unknown producer (new, or its state expired with the log): any sequence is accepted, as in Kafka.
            return .append
        }
        if producerEpoch < current.producerEpoch { return .reject(.invalidProducerEpoch) }
        if producerEpoch > current.producerEpoch {
            return firstSequence == 0 ? .append : .reject(.outOfOrderSequenceNumber)
        }
        if let dup = current.batches.first(where: { $0.firstSequence == firstSequence && $0.lastSequence == lastSequence }) {
            return .duplicate(dup)
        }
        let last = current.lastSequence
        let inSequence = firstSequence == last &+ 1 || (firstSequence == 0 && last == Int32.max) || last == -1
        return inSequence ? .append : .reject(.outOfOrderSequenceNumber)
    }

    /// Records an appended batch.
    public mutating func record(
        producerId: Int64, producerEpoch: Int16, firstSequence: Int32, lastSequence: Int32,
        firstOffset: Int64, lastOffset: Int64, timestamp: Int64
    ) {
        guard producerId >= 0 else { return }
        let meta = BatchMetadata(
            firstSequence: firstSequence, lastSequence: lastSequence,
            firstOffset: firstOffset, lastOffset: lastOffset, timestamp: timestamp)
        if var entry = entries[producerId], entry.producerEpoch == producerEpoch {
            entry.batches.append(meta)
            if entry.batches.count > Self.retainedBatches { entry.batches.removeFirst() }
            entries[producerId] = entry
        } else if let entry = entries[producerId], entry.producerEpoch > producerEpoch {
            return  // an older epoch never overwrites a newer one (replay of a fenced producer's batches)
        } else {
            entries[producerId] = Entry(
                producerEpoch: producerEpoch, batches: [meta], coordinatorEpoch: entries[producerId]?.coordinatorEpoch ?? -1)
        }
    }

    /// A transaction marker with a newer epoch (fencing, timeout abort) makes it the producer's epoch; its next
    /// batch starts again at sequence 0.
    public mutating func advanceEpoch(producerId: Int64, to epoch: Int16) {
        guard producerId >= 0 else { return }
        if let entry = entries[producerId], entry.producerEpoch >= epoch { return }
        entries[producerId] = Entry(producerEpoch: epoch, batches: [], coordinatorEpoch: entries[producerId]?.coordinatorEpoch ?? -1)
    }

    /// Checks a COMMIT/ABORT marker before it is written (Kafka's ProducerAppendInfo.appendEndTxnMarker): an
    /// older producer epoch is INVALID_PRODUCER_EPOCH, an older coordinator epoch than the last marker's is
    /// TRANSACTION_COORDINATOR_FENCED (a zombie coordinator), and NONE otherwise.
    public func checkMarker(producerId: Int64, producerEpoch: Int16, coordinatorEpoch: Int32) -> ErrorCode {
        guard producerId >= 0, let current = entries[producerId] else { return .none }
        if producerEpoch < current.producerEpoch { return .invalidProducerEpoch }
        if coordinatorEpoch < current.coordinatorEpoch { return .transactionCoordinatorFenced }
        return .none
    }

    /// A marker written (or replayed): the producer takes its epoch, and its coordinator epoch is remembered.
    public mutating func markerWritten(producerId: Int64, producerEpoch: Int16, coordinatorEpoch: Int32) {
        guard producerId >= 0 else { return }
        advanceEpoch(producerId: producerId, to: producerEpoch)
        if var entry = entries[producerId], coordinatorEpoch > entry.coordinatorEpoch {
            entry.coordinatorEpoch = coordinatorEpoch
            entries[producerId] = entry
        }
    }

    /// Records every batch header in `buffer` (replay after a crash, from the snapshot offset on).
    public mutating func replay(batchesIn buffer: ByteBuffer) {
        var index = buffer.readerIndex
        while let header = RecordBatchHeader(peekingAt: index, of: buffer), index + header.totalSize <= buffer.writerIndex {
            let control = header.attributes.isControl ? buffer.getSlice(at: index, length: header.totalSize) : nil
            replay(header, coordinatorEpoch: control.flatMap(Self.markerCoordinatorEpoch))
            index += header.totalSize
        }
    }

    /// The coordinator epoch a stored COMMIT/ABORT control batch carries.
    static func markerCoordinatorEpoch(_ controlBatch: ByteBuffer) -> Int32? {
        var slice = controlBatch
        guard let batch = try? RecordBatch.read(from: &slice, verifyCRC: false),
              let marker = (try? batch.controlRecords())?.first, marker.type == .commit || marker.type == .abort
        else { return nil }
        return marker.coordinatorEpoch
    }

    /// One stored batch's effect on the table: its header is all it takes, but for a marker's coordinator epoch
    /// (from its control record, when the caller read it).
    public mutating func replay(_ header: RecordBatchHeader, coordinatorEpoch: Int32? = nil) {
        if header.producerId >= 0 && header.attributes.isControl {
            markerWritten(producerId: header.producerId, producerEpoch: header.producerEpoch, coordinatorEpoch: coordinatorEpoch ?? -1)
        } else if header.producerId >= 0 {
            record(
                producerId: header.producerId, producerEpoch: header.producerEpoch,
                firstSequence: header.baseSequence, lastSequence: header.lastSequence,
                firstOffset: header.baseOffset, lastOffset: header.lastOffset, timestamp: header.maxTimestamp)
        }
    }

    /// Forgets producers whose last batch is entirely below `logStartOffset` (retention / DeleteRecords).
    public mutating func removeEntries(below logStartOffset: Int64) {
        entries = entries.filter { ($0.value.batches.last?.lastOffset ?? -1) >= logStartOffset }
    }

    // MARK: Snapshot

    public func snapshot(at offset: Int64) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(Int16(2))
        buffer.writeInteger(offset)
        buffer.writeInteger(Int32(entries.count))
        for (pid, entry) in entries.sorted(by: { $0.key < $1.key }) {
            buffer.writeInteger(pid)
            buffer.writeInteger(entry.producerEpoch)
            buffer.writeInteger(entry.coordinatorEpoch)
            buffer.writeInteger(Int8(entry.batches.count))
            for b in entry.batches {
                buffer.writeInteger(b.firstSequence)
                buffer.writeInteger(b.lastSequence)
                buffer.writeInteger(b.firstOffset)
                buffer.writeInteger(b.lastOffset)
                buffer.writeInteger(b.timestamp)
            }
        }
        let crc = CRC32C.checksum(buffer, at: buffer.readerIndex, length: buffer.readableBytes)
        buffer.writeInteger(crc)
        return buffer
    }

    /// Parses a snapshot; nil when it is torn or corrupt (the caller then replays the whole log).
    public static func load(snapshot: ByteBuffer) -> (table: ProducerStateTable, offset: Int64)? {
        var buffer = snapshot
        guard buffer.readableBytes >= 18 else { return nil }
        let bodyLength = buffer.readableBytes - 4
        guard let storedCRC = buffer.getInteger(at: buffer.readerIndex + bodyLength, as: UInt32.self),
              storedCRC == CRC32C.checksum(buffer, at: buffer.readerIndex, length: bodyLength),
              let version = buffer.readInteger(as: Int16.self), version == 1 || version == 2,
              let offset = buffer.readInteger(as: Int64.self),
              let count = buffer.readInteger(as: Int32.self), count >= 0, Int(count) <= bodyLength / 11
        else { return nil }
        var table = ProducerStateTable()
        for _ in 0..<count {
            guard let pid = buffer.readInteger(as: Int64.self), let epoch = buffer.readInteger(as: Int16.self),
                  let coordinatorEpoch = version == 1 ? -1 : buffer.readInteger(as: Int32.self),
                  let n = buffer.readInteger(as: Int8.self), n >= 0, Int(n) <= retainedBatches
            else { return nil }
            var batches: [BatchMetadata] = []
            for _ in 0..<n {
                guard let fs = buffer.readInteger(as: Int32.self), let ls = buffer.readInteger(as: Int32.self),
                      let fo = buffer.readInteger(as: Int64.self), let lo = buffer.readInteger(as: Int64.self),
                      let ts = buffer.readInteger(as: Int64.self)
                else { return nil }
                batches.append(BatchMetadata(firstSequence: fs, lastSequence: ls, firstOffset: fo, lastOffset: lo, timestamp: ts))
            }
            table.entries[pid] = Entry(producerEpoch: epoch, batches: batches, coordinatorEpoch: coordinatorEpoch)
        }
        return (table, offset)
    }
}
