import Foundation
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

    static let snapshotFileName = "producer-state.snapshot"

    public init(topicPartition: TopicPartition, log: Log, leaderEpoch: Int32 = 0, logger: Logger) {
        self.topicPartition = topicPartition
        self.log = log
        self._leaderEpoch = leaderEpoch
        loadProducerState(logger: logger)
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

    /// Appends batches written by the broker itself (coordinator records, control markers).
    @discardableResult
    public func appendInternal(_ records: ByteBuffer) throws -> LogAppendInfo {
        try lock.withLock {
            let info = try log.append(batches: records, leaderEpoch: _leaderEpoch)
            advanceHighWatermarkLocked()
            return info
        }
    }

    // MARK: Producer state persistence

    private var snapshotPath: String { (log.dir as NSString).appendingPathComponent(Self.snapshotFileName) }

    /// Writes the producer table (clean shutdown, or periodically), so start-up replays only what came after.
    public func writeProducerSnapshot() {
        let (buffer, path) = lock.withLock { (producers.snapshot(at: log.logEndOffset), snapshotPath) }
        let data = Data(buffer.readableBytesView)
        let tmp = path + ".tmp"
        if FileManager.default.createFile(atPath: tmp, contents: data) {
            _ = rename(tmp, path)
        }
    }

    /// Snapshot (if valid) + replay of the batch headers after it. A missing or corrupt snapshot replays the log.
    private func loadProducerState(logger: Logger) {
        var from = log.logStartOffset
        if let data = FileManager.default.contents(atPath: snapshotPath) {
            if let (table, offset) = ProducerStateTable.load(snapshot: ByteBuffer(bytes: data)), offset <= log.logEndOffset {
                producers = table
                from = max(offset, log.logStartOffset)
            } else {
                logger.warning("producer state snapshot of \(topicPartition) is corrupt or ahead of the log; replaying the log")
            }
        }
        var offset = from
        while offset < log.logEndOffset {
            guard let data = try? log.read(from: offset, maxBytes: 1 << 20, maxOffset: .max, minOneBatch: true),
                  !data.isEmpty else { break }
            producers.replay(batchesIn: data.records)
            var index = data.records.readerIndex
            var next = offset
            while let h = RecordBatchHeader(peekingAt: index, of: data.records) {
                next = h.nextOffset
                index += h.totalSize
            }
            if next <= offset { break }
            offset = next
        }
        producers.removeEntries(below: log.logStartOffset)
    }
}
