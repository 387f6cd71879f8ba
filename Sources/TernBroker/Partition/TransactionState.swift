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
/// Not persisted: the partition rebuilds this by replaying batch headers (and control records) from the log start
/// at open (`replay(batchesIn:)`), so a crash loses nothing; the price is a scan of the log at start-up.
/// Kafka's persisted `.txnindex` files are not written.
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
            if header.attributes.isControl {
                var slice = buffer.getSlice(at: index, length: header.totalSize)!
                if let batch = try? RecordBatch.read(from: &slice, verifyCRC: false),
                   let marker = (try? batch.controlRecords())?.first,
                   marker.type == .commit || marker.type == .abort {
                    ended(producerId: header.producerId, commit: marker.type == .commit, markerOffset: header.baseOffset)
                }
            } else {
                appended(producerId: header.producerId, isTransactional: header.attributes.isTransactional, firstOffset: header.baseOffset)
            }
            index += header.totalSize
        }
    }
}
