import KafkaProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore
import TernCoordinator
import TernStorage

/// The group coordinator's storage: the partitions of the internal topic `__consumer_offsets`.
///
/// Writing: each `append` becomes one uncompressed v2 record batch (CreateTime, no producer id), appended to the
/// partition as the broker's own write with acks=all semantics (`Broker.appendCommitted`): only on the leader, and
/// it returns once every in-sync replica has it (at once on a single broker), within `offsets.commit.timeout.ms`.
/// Failures become the codes Kafka's `GroupMetadataManager` answers (`CoordinatorAppendErrors`): e.g.
/// NOT_ENOUGH_REPLICAS -> COORDINATOR_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER -> NOT_COORDINATOR.
/// Kafka does not fsync either: after a crash the log recovers to its last valid batch.
///
/// Reading: `load(partition:)` replays a partition from its log start offset to its end, in log order,
/// for `GroupCoordinatorService.load`. Control batches and records of other coordinators (KIP-848 consumer
/// groups) are skipped; a record that does not decode is skipped with a warning rather than failing the load.
final class ConsumerOffsetsLog: CoordinatorLogWriter {
    static let topicName = "__consumer_offsets"

    /// Writes a batch to a partition and returns once it is committed; throws `CommittedAppendFailure`.
    typealias Write = @Sendable (ByteBuffer, Partition) async throws -> Void

    private let replicaManager: ReplicaManager
    private let logger: Logger
    private let topicIds: TopicIdResolver
    private let write: Write
    private let closed = NIOLockedValueBox(false)

    init(replicaManager: ReplicaManager, topicIds: TopicIdResolver, logger: Logger, write: @escaping Write) {
        self.replicaManager = replicaManager
        self.topicIds = topicIds
        self.logger = logger
        self.write = write
    }

    /// After this every append fails with NOT_COORDINATOR (broker shutdown: the logs are about to close).
    func close() { closed.withLockedValue { $0 = true } }

    func append(partition index: Int32, records: [CoordinatorRecord]) async throws {
        guard !records.isEmpty else { return }
        if closed.withLockedValue({ $0 }) { throw CoordinatorAppendError(errorCode: CoordinatorErrorCode.notCoordinator) }
        guard let partition = replicaManager.partition(topic: Self.topicName, index: index) else {
            logger.warning("\(Self.topicName)-\(index) does not exist; coordinator append refused")
            throw CoordinatorAppendError(errorCode: CoordinatorErrorCode.coordinatorNotAvailable)
        }
        let batch = try Self.batch(of: records, now: Broker.nowMs(), topicIds: topicIds)
        let offsetsOnly = records.allSatisfy { if case .offsetCommit = $0 { return true } else { return false } }
        try await commit(batch, to: partition, offsetsOnly: offsetsOnly)
    }

    private func commit(_ batch: ByteBuffer, to partition: Partition, offsetsOnly: Bool) async throws {
        do {
            try await write(batch, partition)
        } catch let failure as CommittedAppendFailure {
            logger.warning("append to \(partition.topicPartition) failed: \(failure)")
            throw CoordinatorAppendError(
                errorCode: offsetsOnly ? CoordinatorAppendErrors.offsetCommit(failure.code) : CoordinatorAppendErrors.groupMetadata(failure.code))
        }
    }

    /// TxnOffsetCommit: the records as one transactional batch of the producer; they count only once the
    /// transaction's COMMIT marker follows them in this partition.
    func appendTransactional(partition index: Int32, records: [CoordinatorRecord], producerId: Int64, producerEpoch: Int16) async throws {
        guard !records.isEmpty else { return }
        if closed.withLockedValue({ $0 }) { throw CoordinatorAppendError(errorCode: CoordinatorErrorCode.notCoordinator) }
        guard let partition = replicaManager.partition(topic: Self.topicName, index: index) else {
            throw CoordinatorAppendError(errorCode: CoordinatorErrorCode.coordinatorNotAvailable)
        }
        let batch = try Self.batch(of: records, now: Broker.nowMs(), topicIds: topicIds, producer: (producerId, producerEpoch))
        try await commit(batch, to: partition, offsetsOnly: true)
    }

    /// One v2 batch holding `records` in order, every record stamped `now`; transactional when `producer` is given.
    static func batch(
        of records: [CoordinatorRecord], now: Int64, topicIds: TopicIdResolver = .none, producer: (id: Int64, epoch: Int16)? = nil
    ) throws -> ByteBuffer {
        var builder = RecordBatchBuilder()
        if let producer {
            // Sequence -1: the broker's own write, not checked against the producer's sequences.
            builder = RecordBatchBuilder(isTransactional: true, producerId: producer.id, producerEpoch: producer.epoch, baseSequence: -1)
        }
        for record in records {
            let (key, value) = try OffsetsRecordCodec.encode(record, topicIds: topicIds)
            builder.append(key: key, value: value, timestamp: now)
        }
        return try builder.build()
    }

    /// A partition's records as the coordinator loads them: committed ones in log order, and the offsets of
    /// transactions still open at the end of the log, by producer id (their marker may come later).
    struct Loaded {
        var records: [CoordinatorRecord] = []
        var openTransactions: [Int64: [CoordinatorRecord]] = [:]
    }

    /// Every coordinator record of a partition, oldest first, and the open transactions' offsets.
    func load(partition index: Int32) throws -> Loaded {
        guard let partition = replicaManager.partition(topic: Self.topicName, index: index) else { return Loaded() }
        return try Self.load(log: partition.log, topicIds: topicIds, logger: logger)
    }

    static func readRecords(of log: Log, topicIds: TopicIdResolver = .none, logger: Logger) throws -> [CoordinatorRecord] {
        try load(log: log, topicIds: topicIds, logger: logger).records
    }

    /// Kafka keeps the offsets of a transaction still open at the end of the log pending, so that its marker,
    /// written later (possibly by a new transaction coordinator after a failover), commits or drops them.
    static func load(log: Log, topicIds: TopicIdResolver = .none, logger: Logger) throws -> Loaded {
        var records: [CoordinatorRecord] = []
        // Transactional offset commits waiting for their marker, by producer id.
        var pendingTransactional: [Int64: [CoordinatorRecord]] = [:]
        var offset = log.logStartOffset
        let end = log.logEndOffset
        while offset < end {
            let data = try log.read(from: offset, maxBytes: 1 << 20, maxOffset: end, minOneBatch: true)
            guard data.records.readableBytes > 0 else { break }
            let batches = try RecordBatch.readAll(data.records)
            var next = offset
            for batch in batches {
                next = max(next, batch.header.nextOffset)
                let producerId = batch.header.producerId
                if batch.header.attributes.isControl {
                    // A transaction's marker: its offsets count only when it committed.
                    let committed = (try? batch.controlRecords())?.first?.type == .commit
                    if let staged = pendingTransactional.removeValue(forKey: producerId), committed { records += staged }
                    continue
                }
                let transactional = batch.header.attributes.isTransactional && producerId >= 0
                for record in batch.records where batch.offset(of: record) >= offset {
                    guard let key = record.key else { continue }
                    do {
                        if let decoded = try OffsetsRecordCodec.decode(key: key, value: record.value, topicIds: topicIds) {
                            if transactional {
                                pendingTransactional[producerId, default: []].append(decoded)
                            } else {
                                records.append(decoded)
                            }
                        }
                    } catch {
                        logger.warning("skipping undecodable record at offset \(batch.offset(of: record)) of \(log.topicPartition): \(error)")
                    }
                }
            }
            // Compaction can leave an empty batch whose next offset is still ahead; never loop in place.
            guard next > offset else { break }
            offset = next
        }
        return Loaded(records: records, openTransactions: pendingTransactional)
    }
}
