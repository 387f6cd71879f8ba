/// The transaction coordinator's view of one transactional id, and the record it writes to `__transaction_state`.
///
/// Mirrors Kafka's `TransactionMetadata` and the `TransactionLogValue` schema (v0): the broker encodes it with the
/// generated codec, key `TransactionLogKey` v0 (the transactional id). A nil value is a tombstone.

/// Kafka's `TransactionState`, with its on-disk byte values.
public enum TransactionStatus: Int8, Sendable, CaseIterable {
    case empty = 0
    case ongoing = 1
    case prepareCommit = 2
    case prepareAbort = 3
    case completeCommit = 4
    case completeAbort = 5
    case dead = 6
    case prepareEpochFence = 7

    /// The name Kafka's tools print (DescribeTransactions / ListTransactions).
    public var name: String {
        switch self {
        case .empty: return "Empty"
        case .ongoing: return "Ongoing"
        case .prepareCommit: return "PrepareCommit"
        case .prepareAbort: return "PrepareAbort"
        case .completeCommit: return "CompleteCommit"
        case .completeAbort: return "CompleteAbort"
        case .dead: return "Dead"
        case .prepareEpochFence: return "PrepareEpochFence"
        }
    }

    /// A transaction that may not start or end now because the previous one is still being completed.
    var isCompleting: Bool { self == .prepareCommit || self == .prepareAbort || self == .prepareEpochFence }
}

public struct TransactionMetadata: Sendable, Equatable {
    public var transactionalId: String
    public var producerId: Int64
    /// The id before an epoch exhaustion moved the transactional id to a new producer id (-1 if none).
    public var previousProducerId: Int64 = -1
    public var producerEpoch: Int16
    /// The epoch before the last bump, so a producer retrying InitProducerId after a lost response is recognised
    /// (KIP-360). Not persisted, as in Kafka.
    public var lastProducerEpoch: Int16 = -1
    public var transactionTimeoutMs: Int32
    public var state: TransactionStatus
    public var partitions: Set<TopicPartition> = []
    public var transactionStartTimestampMs: Int64 = -1
    public var transactionLastUpdateTimestampMs: Int64

    public init(
        transactionalId: String, producerId: Int64, previousProducerId: Int64 = -1, producerEpoch: Int16,
        transactionTimeoutMs: Int32, state: TransactionStatus, partitions: Set<TopicPartition> = [],
        transactionStartTimestampMs: Int64 = -1, transactionLastUpdateTimestampMs: Int64
    ) {
        self.transactionalId = transactionalId
        self.producerId = producerId
        self.previousProducerId = previousProducerId
        self.producerEpoch = producerEpoch
        self.transactionTimeoutMs = transactionTimeoutMs
        self.state = state
        self.partitions = partitions
        self.transactionStartTimestampMs = transactionStartTimestampMs
        self.transactionLastUpdateTimestampMs = transactionLastUpdateTimestampMs
    }
}

/// One `__transaction_state` record: the transactional id's whole state after a transition (nil: tombstone).
public struct TransactionRecord: Sendable, Equatable {
    public var transactionalId: String
    public var value: TransactionMetadata?
    public init(transactionalId: String, value: TransactionMetadata?) {
        self.transactionalId = transactionalId
        self.value = value
    }
}

/// COMMIT or ABORT markers to write to every partition of a transaction (Kafka's WriteTxnMarkers, which a single
/// broker performs in-process). Partitions of `__consumer_offsets` also complete the group's pending offsets.
public struct TransactionMarkers: Sendable, Equatable {
    public var transactionalId: String
    public var producerId: Int64
    public var producerEpoch: Int16
    public var commit: Bool
    public var coordinatorEpoch: Int32
    public var partitions: [TopicPartition]

    public init(
        transactionalId: String, producerId: Int64, producerEpoch: Int16, commit: Bool, coordinatorEpoch: Int32,
        partitions: [TopicPartition]
    ) {
        self.transactionalId = transactionalId
        self.producerId = producerId
        self.producerEpoch = producerEpoch
        self.commit = commit
        self.coordinatorEpoch = coordinatorEpoch
        self.partitions = partitions
    }
}

/// Thrown by ``TransactionCoordinatorEnvironment/writeMarkers(_:)`` when only some partitions got their marker:
/// the retry writes the remaining ones only (a second marker for a partition would end nothing but costs a batch).
public struct TransactionMarkersIncomplete: Error, Sendable {
    public var remaining: [TopicPartition]
    public init(remaining: [TopicPartition]) { self.remaining = remaining }
}

/// What the transaction state machine asks its driver to do, in order.
public enum TransactionAction: Sendable, Equatable {
    /// Write the record to `__transaction_state` partition `partition` before anything that follows.
    case append(partition: Int32, record: TransactionRecord)
    /// Write the markers, then call ``TransactionCoordinator/markersWritten(_:now:)``.
    case writeMarkers(TransactionMarkers)
    /// Call ``TransactionCoordinator/timeoutExpired(transactionalId:now:)`` at `deadlineMs` (replaces an earlier one).
    case scheduleTimeout(transactionalId: String, deadlineMs: Int64)
    case cancelTimeout(transactionalId: String)
}

/// Broker settings the transaction coordinator reads; names and defaults are Kafka's.
public struct TransactionCoordinatorConfig: Sendable {
    /// `transaction.state.log.num.partitions`, default 50.
    public var transactionStateLogNumPartitions: Int32 = 50
    /// `offsets.topic.num.partitions`: AddOffsetsToTxn adds the group's `__consumer_offsets` partition.
    public var offsetsTopicNumPartitions: Int32 = 50
    /// `transaction.max.timeout.ms`, default 900000: longer timeouts are INVALID_TRANSACTION_TIMEOUT.
    public var transactionMaxTimeoutMs: Int32 = 900_000
    /// The coordinator epoch written in markers (the `__transaction_state` partition's leader epoch).
    public var coordinatorEpoch: Int32 = 0
    public init() {}
}

/// Kafka's wire codes the transaction coordinator answers with.
public enum TransactionErrorCode {
    public static let none: Int16 = 0
    public static let coordinatorLoadInProgress: Int16 = 14
    public static let coordinatorNotAvailable: Int16 = 15
    public static let notCoordinator: Int16 = 16
    public static let invalidProducerEpoch: Int16 = 47
    public static let invalidTxnState: Int16 = 48
    public static let invalidProducerIdMapping: Int16 = 49
    public static let invalidTransactionTimeout: Int16 = 50
    public static let concurrentTransactions: Int16 = 51
    public static let producerFenced: Int16 = 90
    public static let kafkaStorageError: Int16 = 56
}
