import KafkaProtocol
import NIOCore

/// The transactions of one partition, as a read_committed consumer needs them (Kafka keeps the same in
/// `ProducerStateManager.ongoingTxns` and the per-segment `TransactionIndex`).
///
/// - Ongoing: producer id -> offset of its first transactional batch not yet ended by a marker. The last stable
///   offset (LSO) is the smallest of these, capped by the high watermark: read_committed fetches stop there.
/// - Aborted: (producer id, first offset, last offset = the ABORT marker's offset), oldest first. A read_committed
///   fetch returns those overlapping the fetched range so the client drops the aborted batches itself.
///
/// Persisted as a snapshot on clean shutdown (see `snapshot(at:)`); at open the partition loads it and replays the
/// batch headers (and control records) after its offset (`replay(batchesIn:)`), or the whole log when there is no
/// valid snapshot, so a crash loses nothing. Kafka's `.txnindex` files are not written.
public struct TransactionState: Sendable {
    public struct AbortedTransaction: Sendable, Equatable {
        public var producerId: Int64
        public var firstOffset: Int64
        public var lastOffset: Int64
    }

    public private(set) var ongoing: [Int64: Int64] = [:]
    public private(set) var aborted: [AbortedTransaction] = []

    public init() {}

    /// The first offset no read_committed consumer may see yet.
    public func lastStableOffset(highWatermark: Int64) -> Int64 {
        min(ongoing.values.min() ?? highWatermark, highWatermark)
    }

    /// A data batch appended at `firstOffset`: a transactional one opens its producer's transaction if none is open.
    public mutating func appended(producerId: Int64, isTransactional: Bool, firstOffset: Int64) {
        guard isTransactional, producerId >= 0, ongoing[producerId] == nil else { return }
        ongoing[producerId] = firstOffset
    }

    /// A COMMIT or ABORT marker for `producerId` written at `markerOffset` ends its open transaction.
    public mutating func ended(producerId: Int64, commit: Bool, markerOffset: Int64) {
        guard let first = ongoing.removeValue(forKey: producerId) else { return }
        if !commit {
            aborted.append(AbortedTransaction(producerId: producerId, firstOffset: first, lastOffset: markerOffset))
        }
    }

    /// Aborted transactions overlapping [from, to): their last offset >= from and first offset < to.
    public func abortedTransactions(from: Int64, to: Int64) -> [AbortedTransaction] {
        aborted.filter { $0.lastOffset >= from && $0.firstOffset < to }
    }

    /// Retention / DeleteRecords: forget aborted transactions wholly below the log start.
    public mutating func removeEntries(below logStartOffset: Int64) {
        aborted.removeAll { $0.lastOffset < logStartOffset }
    }

    /// Rebuilds from stored batches (log order). Control batches are uncompressed with one marker record.
    public mutating func replay(batchesIn buffer: ByteBuffer) {
        var index = buffer.readerIndex
        while let header = RecordBatchHeader(peekingAt: index, of: buffer), index + header.totalSize <= buffer.writerIndex {
            replay(header, batch: header.attributes.isControl ? buffer.getSlice(at: index, length: header.totalSize) : nil)
            index += header.totalSize
        }
    }

    /// One stored batch: its header, and its bytes when it is a control batch (the marker says commit or abort).
    public mutating func replay(_ header: RecordBatchHeader, batch: ByteBuffer?) {
        if header.attributes.isControl {
            if var slice = batch, let batch = try? RecordBatch.read(from: &slice, verifyCRC: false),
               let marker = (try? batch.controlRecords())?.first,
               marker.type == .commit || marker.type == .abort {
                ended(producerId: header.producerId, commit: marker.type == .commit, markerOffset: header.baseOffset)
            }
        } else {
            appended(producerId: header.producerId, isTransactional: header.attributes.isTransactional, firstOffset: header.baseOffset)
        }
    }
}

extension TransactionState {
    /// Snapshot written beside the producer snapshot (`transaction-state.snapshot`), so a start after a clean
    /// shutdown replays nothing and one after a crash replays only the tail after the snapshot offset.
    /// Format (big-endian): `version int16 (1) | offset int64 | ongoingCount int32 | (producerId int64, firstOffset
    /// int64)... | abortedCount int32 | (producerId, firstOffset, lastOffset int64)... | crc32c uint32`.
    func snapshot(at offset: Int64) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(Int16(1))
        buffer.writeInteger(offset)
        buffer.writeInteger(Int32(ongoing.count))
        for (pid, first) in ongoing.sorted(by: { $0.key < $1.key }) {
            buffer.writeInteger(pid)
            buffer.writeInteger(first)
        }
        buffer.writeInteger(Int32(aborted.count))
        for a in aborted {
            buffer.writeInteger(a.producerId)
            buffer.writeInteger(a.firstOffset)
            buffer.writeInteger(a.lastOffset)
        }
        buffer.writeInteger(CRC32C.checksum(buffer, at: buffer.readerIndex, length: buffer.readableBytes))
        return buffer
    }

    /// nil when torn or corrupt (the caller replays the whole log instead).
    static func load(snapshot: ByteBuffer) -> (state: TransactionState, offset: Int64)? {
        var buffer = snapshot
        guard buffer.readableBytes >= 22 else { return nil }
        let bodyLength = buffer.readableBytes - 4
        guard let stored = buffer.getInteger(at: buffer.readerIndex + bodyLength, as: UInt32.self),
              stored == CRC32C.checksum(buffer, at: buffer.readerIndex, length: bodyLength),
              buffer.readInteger(as: Int16.self) == 1, let offset = buffer.readInteger(as: Int64.self),
              let ongoingCount = buffer.readInteger(as: Int32.self), ongoingCount >= 0,
              Int(ongoingCount) * 16 <= buffer.readableBytes
        else { return nil }
        var state = TransactionState()
        for _ in 0..<ongoingCount {
            guard let pid = buffer.readInteger(as: Int64.self), let first = buffer.readInteger(as: Int64.self) else { return nil }
            state.ongoing[pid] = first
        }
        guard let abortedCount = buffer.readInteger(as: Int32.self), abortedCount >= 0,
              Int(abortedCount) * 24 <= buffer.readableBytes else { return nil }
        for _ in 0..<abortedCount {
            guard let pid = buffer.readInteger(as: Int64.self), let first = buffer.readInteger(as: Int64.self),
                  let last = buffer.readInteger(as: Int64.self) else { return nil }
            state.aborted.append(AbortedTransaction(producerId: pid, firstOffset: first, lastOffset: last))
        }
        return (state, offset)
    }
}
