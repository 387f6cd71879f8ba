#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import FoundationEssentials
import KafkaProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore
import TernStorage

/// One partition replica on this broker: its log plus the state Kafka keeps beside it (leader epoch, the
/// idempotent-producer table). Appends are serialised by the partition lock so the producer-sequence check and
/// the append are one step. On a single broker the leader's log end offset is the high watermark; in a cluster
/// the high watermark is the minimum log end offset over the ISR (Partition+Replication.swift).
public final class Partition: @unchecked Sendable {  // mutable state is guarded by `lock`
    public let topicPartition: TopicPartition
    public let log: Log
    let lock = NIOLock()
    var producers = ProducerStateTable()
    var transactions = TransactionState()
    var _leaderEpoch: Int32
    /// Alone (no ZooKeeper) a broker leads every partition; in a cluster the controller's state znode decides.
    var _isLeader = true
    var _leader: Int32 = -1
    /// Cluster state (see Partition+Replication.swift): set once the controller has given this replica a role.
    var _clustered = false
    var _isr: [Int32] = []
    var _isrZkVersion: Int32 = 0
    var _localBrokerId: Int32 = -1
    /// Leader only: each follower's log end offset (its last fetch offset) and when it last caught up.
    var _followers: [Int32: FollowerState] = [:]
    /// Follower only: the log may hold batches the new leader does not have; truncate before fetching.
    var _needsTruncation = false
    /// Leader only: the log end offset when this replica became leader of `_leaderEpoch` (Partition+Epochs.swift).
    var _leaderEpochStartOffset: Int64 = 0

    static let snapshotFileName = "producer-state.snapshot"

    public init(topicPartition: TopicPartition, log: Log, leaderEpoch: Int32 = 0, logger: Logger) {
        self.topicPartition = topicPartition
        self.log = log
        self._leaderEpoch = leaderEpoch
        let producersFrom = loadProducerSnapshot(logger: logger)
        let transactionsFrom = loadTransactionSnapshot()
        replayLog(producersFrom: producersFrom, transactionsFrom: transactionsFrom)
        producers.removeEntries(below: log.logStartOffset)
    }

    public var leaderEpoch: Int32 { lock.withLock { _leaderEpoch } }
    public var isLeader: Bool { lock.withLock { _isLeader } }
    /// The leader's broker id as last learnt (-1 unknown); followers fetch from it.
    public var leaderId: Int32 { lock.withLock { _leader } }

    /// The outcome of a leader append, for the produce response.
    public struct AppendResult: Sendable {
        public var baseOffset: Int64
        public var logAppendTime: Int64
        public var logStartOffset: Int64
    }

    public enum AppendFailure: Error {
        case rejected(ErrorCode, String)
    }

    /// Validated batches from a producer: sequence check, offset assignment, append.
    /// A retried batch that is already in the log answers with its original offset and appends nothing.
    public func appendAsLeader(_ records: ByteBuffer, headers: [RecordBatchHeader]) throws -> AppendResult {
        try lock.withLock {
            var duplicate: ProducerStateTable.BatchMetadata?
            for header in headers where header.producerId >= 0 {
                switch producers.check(
                    producerId: header.producerId, producerEpoch: header.producerEpoch,
                    firstSequence: header.baseSequence, lastSequence: header.lastSequence)
                {
                case .append: break
                case .duplicate(let meta): duplicate = meta
                case .reject(let code):
                    throw AppendFailure.rejected(
                        code, "producer \(header.producerId) epoch \(header.producerEpoch) sequence \(header.baseSequence) rejected on \(topicPartition)")
                }
            }
            if let duplicate, headers.count == 1 {
                return AppendResult(baseOffset: duplicate.firstOffset, logAppendTime: -1, logStartOffset: log.logStartOffset)
            }
            let info = try log.append(batches: records, leaderEpoch: _leaderEpoch)
            var offset = info.firstOffset
            for header in headers {
                let last = offset + Int64(header.lastOffsetDelta)
                transactions.appended(
                    producerId: header.producerId, isTransactional: header.attributes.isTransactional, firstOffset: offset)
                if header.producerId >= 0 {
                    producers.record(
                        producerId: header.producerId, producerEpoch: header.producerEpoch,
                        firstSequence: header.baseSequence, lastSequence: header.lastSequence,
                        firstOffset: offset, lastOffset: last, timestamp: header.maxTimestamp)
                }
                offset = last + 1
            }
            // Alone, everything appended is committed; in a cluster the ISR minimum decides.
            advanceHighWatermarkLocked()
            return AppendResult(baseOffset: info.firstOffset, logAppendTime: info.logAppendTime, logStartOffset: info.logStartOffset)
        }
    }

    /// Appends batches written by the broker itself (coordinator records, control markers). With `requireLeader`
    /// a replica that is not (or no longer) the leader refuses with NOT_LEADER_OR_FOLLOWER, checked under the lock.
    @discardableResult
    public func appendInternal(_ records: ByteBuffer, requireLeader: Bool = false) throws -> LogAppendInfo {
        try lock.withLock {
            if requireLeader && !_isLeader {
                throw AppendFailure.rejected(.notLeaderOrFollower, "\(topicPartition): this broker is not the leader")
            }
            let info = try log.append(batches: records, leaderEpoch: _leaderEpoch)
            // Transactional batches written by the broker (TxnOffsetCommit) open their producer's transaction.
            var index = records.readerIndex
            var offset = info.firstOffset
            while let h = RecordBatchHeader(peekingAt: index, of: records) {
                if !h.attributes.isControl {
                    transactions.appended(producerId: h.producerId, isTransactional: h.attributes.isTransactional, firstOffset: offset)
                }
                offset += Int64(h.lastOffsetDelta) + 1
                index += h.totalSize
            }
            advanceHighWatermarkLocked()
            return info
        }
    }

    // MARK: Transactions

    /// The first offset a read_committed consumer may not see: the first offset of the oldest open transaction,
    /// or the high watermark when none is open.
    public var lastStableOffset: Int64 {
        lock.withLock { transactions.lastStableOffset(highWatermark: log.highWatermark) }
    }

    /// Aborted transactions overlapping [from, to), oldest first, for read_committed fetches.
    public func abortedTransactions(from: Int64, to: Int64) -> [TransactionState.AbortedTransaction] {
        lock.withLock {
            transactions.removeEntries(below: log.logStartOffset)
            return transactions.abortedTransactions(from: from, to: to)
        }
    }

    /// Writes a COMMIT or ABORT marker for `producerId` (Kafka's WriteTxnMarkers, done in-process by the
    /// transaction coordinator): a control batch carrying the producer id and epoch, which ends the producer's open
    /// transaction here. A marker with a newer epoch (a fenced or timed-out producer) moves the producer's epoch
    /// forward, so batches of the old epoch are refused afterwards (INVALID_PRODUCER_EPOCH). A marker from an older
    /// coordinator epoch than the producer's last one is TRANSACTION_COORDINATOR_FENCED (ProducerStateManager).
    @discardableResult
    public func writeTransactionMarker(
        producerId: Int64, producerEpoch: Int16, commit: Bool, coordinatorEpoch: Int32, timestamp: Int64
    ) throws -> Int64 {
        try lock.withLock {
            // Only the leader writes markers; followers copy them (WriteTxnMarkers goes to the leader).
            if !_isLeader { throw AppendFailure.rejected(.notLeaderOrFollower, "\(topicPartition): this broker is not the leader") }
            switch producers.checkMarker(producerId: producerId, producerEpoch: producerEpoch, coordinatorEpoch: coordinatorEpoch) {
            case .none: break
            case .invalidProducerEpoch:
                let current = producers.entries[producerId]?.producerEpoch ?? -1
                throw AppendFailure.rejected(.invalidProducerEpoch, "marker epoch \(producerEpoch) below \(current) on \(topicPartition)")
            case let code:
                let current = producers.entries[producerId]?.coordinatorEpoch ?? -1
                throw AppendFailure.rejected(code, "marker of coordinator epoch \(coordinatorEpoch) below \(current) for producer \(producerId) on \(topicPartition)")
            }
            let marker = ControlRecord(type: commit ? .commit : .abort, coordinatorEpoch: coordinatorEpoch)
            let batch = RecordBatchBuilder.transactionMarker(
                marker, producerId: producerId, producerEpoch: producerEpoch, timestamp: timestamp)
            let info = try log.append(batches: batch, leaderEpoch: _leaderEpoch)
            producers.markerWritten(producerId: producerId, producerEpoch: producerEpoch, coordinatorEpoch: coordinatorEpoch)
            transactions.ended(producerId: producerId, commit: commit, markerOffset: info.firstOffset)
            advanceHighWatermarkLocked()
            return info.firstOffset
        }
    }

    static let transactionSnapshotFileName = "transaction-state.snapshot"

    private var transactionSnapshotPath: String {
        log.dir + "/" + Self.transactionSnapshotFileName
    }

    /// Loads the transaction snapshot of the last clean shutdown; returns the offset the log replay starts from.
    /// An older snapshot stays valid after a crash: the replay covers everything after its offset.
    private func loadTransactionSnapshot() -> Int64 {
        if let data = FileManager.default.contents(atPath: transactionSnapshotPath),
           let (state, at) = TransactionState.load(snapshot: ByteBuffer(bytes: data)),
           at <= log.logEndOffset, at >= log.logStartOffset {
            transactions = state
            return at
        }
        return log.logStartOffset
    }

    /// One pass over the stored batches from the earlier of the two snapshot offsets, feeding each table only the
    /// batches after its own snapshot (a replayed batch must not be counted twice). Headers only, as Kafka's
    /// rebuild: only a control batch's marker record is read.
    private func replayLog(producersFrom: Int64, transactionsFrom: Int64) {
        try? log.forEachBatch(from: min(producersFrom, transactionsFrom), wantsBytes: { $0.attributes.isControl }) { header, bytes in
            if header.lastOffset >= producersFrom {
                producers.replay(header, coordinatorEpoch: bytes.flatMap(ProducerStateTable.markerCoordinatorEpoch))
            }
            if header.lastOffset >= transactionsFrom { transactions.replay(header, batch: bytes) }
        }
    }

    // MARK: Producer state persistence

    private var snapshotPath: String { log.dir + "/" + Self.snapshotFileName }

    /// Writes the producer table and the transaction state (clean shutdown), so start-up replays only what came
    /// after them.
    public func writeProducerSnapshot() {
        let (producerBuffer, transactionBuffer) = lock.withLock {
            (producers.snapshot(at: log.logEndOffset), transactions.snapshot(at: log.logEndOffset))
        }
        for (buffer, path) in [(producerBuffer, snapshotPath), (transactionBuffer, transactionSnapshotPath)] {
            let tmp = path + ".tmp"
            if FileManager.default.createFile(atPath: tmp, contents: Data(buffer.readableBytesView)) {
                _ = rename(tmp, path)
            }
        }
    }

    /// Loads the producer snapshot (if valid); returns the offset the log replay starts from.
    private func loadProducerSnapshot(logger: Logger) -> Int64 {
        guard let data = FileManager.default.contents(atPath: snapshotPath) else { return log.logStartOffset }
        if let (table, offset) = ProducerStateTable.load(snapshot: ByteBuffer(bytes: data)), offset <= log.logEndOffset {
            producers = table
            return max(offset, log.logStartOffset)
        }
        logger.warning("producer state snapshot of \(topicPartition) is corrupt or ahead of the log; replaying the log")
        return log.logStartOffset
    }
}
