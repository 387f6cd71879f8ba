import KafkaProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore
import TernCoordinator
import TernStorage

/// The transaction coordinator's storage and marker channel.
///
/// `__transaction_state` (`transaction.state.log.num.partitions` partitions, compacted): records as Apache Kafka
/// writes them. Key: int16 version 0 + `TransactionLogKey` v0 (the transactional id). Value: int16 version 0 +
/// `TransactionLogValue` v0 (producer id, epoch, timeout, state byte, partitions by topic, timestamps); a null value
/// is a tombstone. Each append is one uncompressed batch written with `Partition.appendInternal`.
///
/// Each append is committed with acks=all semantics (`Broker.appendCommitted`, bounded by `request.timeout.ms`);
/// failures become the codes Kafka's `TransactionStateManager` answers (`CoordinatorAppendErrors.transactionLog`).
///
/// Markers (Kafka's WriteTxnMarkers) go through `markers`: `Broker.writeTransactionMarkers` writes one control batch
/// per partition of the transaction, in-process where this broker leads the partition and with a WriteTxnMarkers
/// request to the leader otherwise (Broker+TxnMarkers.swift).
final class TransactionStateLog: TransactionCoordinatorEnvironment {
    static let topicName = "__transaction_state"
    static let keyVersion: Int16 = 0
    static let valueVersion: Int16 = 0

    private let replicaManager: ReplicaManager
    private let logger: Logger
    private let write: ConsumerOffsetsLog.Write
    private let markers: @Sendable (TransactionMarkers) async throws -> Void
    private let closed = NIOLockedValueBox(false)

    init(
        replicaManager: ReplicaManager, logger: Logger, write: @escaping ConsumerOffsetsLog.Write,
        markers: @escaping @Sendable (TransactionMarkers) async throws -> Void
    ) {
        self.replicaManager = replicaManager
        self.logger = logger
        self.write = write
        self.markers = markers
    }

    func close() { closed.withLockedValue { $0 = true } }

    func append(partition index: Int32, records: [TransactionRecord]) async throws {
        guard !records.isEmpty else { return }
        if closed.withLockedValue({ $0 }) { throw CoordinatorAppendError(errorCode: CoordinatorErrorCode.notCoordinator) }
        guard let partition = replicaManager.partition(topic: Self.topicName, index: index) else {
            throw CoordinatorAppendError(errorCode: CoordinatorErrorCode.coordinatorNotAvailable)
        }
        var builder = RecordBatchBuilder()
        let now = Broker.nowMs()
        for record in records {
            let (key, value) = try Self.encode(record)
            builder.append(key: key, value: value, timestamp: now)
        }
        do {
            try await write(try builder.build(), partition)
        } catch let failure as CommittedAppendFailure {
            logger.warning("append to \(partition.topicPartition) failed: \(failure)")
            throw CoordinatorAppendError(errorCode: CoordinatorAppendErrors.transactionLog(failure.code))
        }
    }

    func writeMarkers(_ markers: TransactionMarkers) async throws {
        if closed.withLockedValue({ $0 }) { throw CoordinatorAppendError(errorCode: CoordinatorErrorCode.notCoordinator) }
        try await self.markers(markers)
    }

    // MARK: Codec

    static func encode(_ record: TransactionRecord) throws -> (key: ByteBuffer, value: ByteBuffer?) {
        var key = ByteBuffer()
        key.writeInteger(keyVersion)
        var k = TransactionLogKey()
        k.transactionalId = record.transactionalId
        try k.write(to: &key, version: keyVersion)
        guard let txn = record.value else { return (key, nil) }
        var v = TransactionLogValue()
        v.producerId = txn.producerId
        v.previousProducerId = txn.previousProducerId
        v.producerEpoch = txn.producerEpoch
        v.transactionTimeoutMs = txn.transactionTimeoutMs
        v.transactionStatus = txn.state.rawValue
        var byTopic: [String: [Int32]] = [:]
        for tp in txn.partitions.sorted() { byTopic[tp.topic, default: []].append(tp.partition) }
        v.transactionPartitions = byTopic.keys.sorted().map { topic in
            var p = TransactionLogValue.PartitionsSchema()
            p.topic = topic
            p.partitionIds = byTopic[topic]!
            return p
        }
        v.transactionLastUpdateTimestampMs = txn.transactionLastUpdateTimestampMs
        v.transactionStartTimestampMs = txn.transactionStartTimestampMs
        var value = ByteBuffer()
        value.writeInteger(valueVersion)
        try v.write(to: &value, version: valueVersion)
        return (key, value)
    }

    struct DecodeError: Error, CustomStringConvertible { var description: String }

    static func decode(key: ByteBuffer, value: ByteBuffer?) throws -> TransactionRecord {
        var key = key
        guard let keyVersion = key.readInteger(as: Int16.self), keyVersion == 0 else {
            throw DecodeError(description: "unknown __transaction_state key version")
        }
        let k = try TransactionLogKey(from: &key, version: 0)
        guard var value else { return TransactionRecord(transactionalId: k.transactionalId, value: nil) }
        guard let version = value.readInteger(as: Int16.self), (0...1).contains(version) else {
            throw DecodeError(description: "unknown __transaction_state value version")
        }
        let v = try TransactionLogValue(from: &value, version: version)
        guard let state = TransactionStatus(rawValue: v.transactionStatus) else {
            throw DecodeError(description: "unknown transaction state \(v.transactionStatus)")
        }
        var partitions: Set<TernCoordinator.TopicPartition> = []
        for t in v.transactionPartitions ?? [] {
            for p in t.partitionIds { partitions.insert(TernCoordinator.TopicPartition(topic: t.topic, partition: p)) }
        }
        return TransactionRecord(transactionalId: k.transactionalId, value: TransactionMetadata(
            transactionalId: k.transactionalId, producerId: v.producerId, previousProducerId: v.previousProducerId,
            producerEpoch: v.producerEpoch, transactionTimeoutMs: v.transactionTimeoutMs, state: state, partitions: partitions,
            transactionStartTimestampMs: v.transactionStartTimestampMs, transactionLastUpdateTimestampMs: v.transactionLastUpdateTimestampMs))
    }

    /// Every record of a partition, oldest first; undecodable records are skipped with a warning.
    func readRecords(partition index: Int32) throws -> [TransactionRecord] {
        guard let partition = replicaManager.partition(topic: Self.topicName, index: index) else { return [] }
        let log = partition.log
        var records: [TransactionRecord] = []
        var offset = log.logStartOffset
        let end = log.logEndOffset
        while offset < end {
            let data = try log.read(from: offset, maxBytes: 1 << 20, maxOffset: end, minOneBatch: true)
            guard data.records.readableBytes > 0 else { break }
            var next = offset
            for batch in try RecordBatch.readAll(data.records) {
                next = max(next, batch.header.nextOffset)
                if batch.header.attributes.isControl { continue }
                for record in batch.records where batch.offset(of: record) >= offset {
                    guard let key = record.key else { continue }
                    do {
                        records.append(try Self.decode(key: key, value: record.value))
                    } catch {
                        logger.warning("skipping undecodable record at offset \(batch.offset(of: record)) of \(log.topicPartition): \(error)")
                    }
                }
            }
            guard next > offset else { break }
            offset = next
        }
        return records
    }
}
