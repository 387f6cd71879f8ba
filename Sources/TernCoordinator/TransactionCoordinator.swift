/// Kafka's transaction coordinator (KIP-98) as a pure state machine: requests in, (answer, actions) out; no I/O,
/// no clock of its own. ``TransactionCoordinatorService`` performs the actions.
///
/// States per transactional id: Empty -> Ongoing (AddPartitionsToTxn / AddOffsetsToTxn) -> PrepareCommit |
/// PrepareAbort (EndTxn, or a timeout / fencing abort) -> markers written to every partition -> CompleteCommit |
/// CompleteAbort -> Ongoing again on the next AddPartitions. InitProducerId bumps the epoch (fencing older
/// producers); on an Ongoing transaction it first fences (epoch + 1, PrepareEpochFence folded into PrepareAbort as
/// Kafka's TV1 does) and aborts it, answering CONCURRENT_TRANSACTIONS so the client retries.
/// Every transition writes the whole metadata to `__transaction_state` (`TransactionRecord`); replaying those
/// records (`load`) rebuilds the same state, and transactions found in PrepareCommit/PrepareAbort are completed.
///
/// Differs from Kafka: transaction version 1 only (no KIP-890 epoch bump per transaction); no transactional-id
/// expiration (`transactional.id.expiration.ms`), so no tombstones are written; a failed append leaves the
/// in-memory transition in place (the next request or a restart reconciles it).
public final class TransactionCoordinator {
    public let config: TransactionCoordinatorConfig
    public internal(set) var transactions: [String: TransactionMetadata] = [:]
    private let allocateProducerId: () -> Int64?
    /// `__transaction_state` partitions this coordinator serves; nil means all of them (a broker alone).
    /// See TransactionCoordinator+Ownership.swift.
    var ownedPartitions: Set<Int32>?
    var loadingPartitions: Set<Int32> = []
    /// Leader epoch of each owned partition: the coordinator epoch its markers carry.
    var coordinatorEpochs: [Int32: Int32] = [:]

    /// - Parameter ownedPartitions: nil to serve every transactional id; otherwise only those hashing to these
    ///   (a cluster: the partitions of `__transaction_state` this broker leads, added by `load`).
    public init(
        config: TransactionCoordinatorConfig = TransactionCoordinatorConfig(), ownedPartitions: Set<Int32>? = nil,
        allocateProducerId: @escaping () -> Int64?
    ) {
        self.config = config
        self.ownedPartitions = ownedPartitions
        self.allocateProducerId = allocateProducerId
    }

    public func partition(for transactionalId: String) -> Int32 {
        GroupPartitioner.partition(for: transactionalId, numPartitions: config.transactionStateLogNumPartitions)
    }

    public struct InitProducerIdResult: Sendable, Equatable {
        public var errorCode: Int16
        public var producerId: Int64 = -1
        public var producerEpoch: Int16 = -1
    }

    // MARK: - InitProducerId

    /// `expectedProducerId`/`expectedEpoch` are the client's current ones (v3+, KIP-360), -1 otherwise.
    public func initProducerId(
        transactionalId: String, transactionTimeoutMs: Int32, expectedProducerId: Int64 = -1, expectedEpoch: Int16 = -1, now: Int64
    ) -> (InitProducerIdResult, [TransactionAction]) {
        if let error = coordinatorError(for: transactionalId) { return (InitProducerIdResult(errorCode: error), []) }
        guard transactionTimeoutMs > 0, transactionTimeoutMs <= config.transactionMaxTimeoutMs else {
            return (InitProducerIdResult(errorCode: TransactionErrorCode.invalidTransactionTimeout), [])
        }
        guard var txn = transactions[transactionalId] else {
            guard let producerId = allocateProducerId() else { return (InitProducerIdResult(errorCode: TransactionErrorCode.kafkaStorageError), []) }
            let txn = TransactionMetadata(
                transactionalId: transactionalId, producerId: producerId, producerEpoch: 0,
                transactionTimeoutMs: transactionTimeoutMs, state: .empty, transactionLastUpdateTimestampMs: now)
            transactions[transactionalId] = txn
            return (InitProducerIdResult(errorCode: 0, producerId: producerId, producerEpoch: 0), [append(txn)])
        }
        switch txn.state {
        case .prepareCommit, .prepareAbort, .prepareEpochFence, .dead:
            return (InitProducerIdResult(errorCode: TransactionErrorCode.concurrentTransactions), [])
        case .ongoing:
            // Fence the producer of the open transaction and abort it with the bumped epoch.
            return (InitProducerIdResult(errorCode: TransactionErrorCode.concurrentTransactions), fenceAndAbort(&txn, now: now))
        case .empty, .completeCommit, .completeAbort:
            if expectedProducerId >= 0 || expectedEpoch >= 0 {
                let sameProducer = expectedProducerId == txn.producerId || expectedProducerId == txn.previousProducerId
                let knownEpoch = expectedEpoch == txn.producerEpoch || expectedEpoch == txn.lastProducerEpoch
                guard sameProducer && knownEpoch else { return (InitProducerIdResult(errorCode: TransactionErrorCode.producerFenced), []) }
                if expectedProducerId == txn.previousProducerId || (expectedEpoch == txn.lastProducerEpoch && txn.lastProducerEpoch != txn.producerEpoch) {
                    // A retry whose answer was lost: answer the same id and epoch again.
                    return (InitProducerIdResult(errorCode: 0, producerId: txn.producerId, producerEpoch: txn.producerEpoch), [])
                }
            }
            if txn.producerEpoch >= Int16.max - 1 {
                guard let producerId = allocateProducerId() else { return (InitProducerIdResult(errorCode: TransactionErrorCode.kafkaStorageError), []) }
                txn.previousProducerId = txn.producerId
                txn.producerId = producerId
                txn.lastProducerEpoch = -1
                txn.producerEpoch = 0
            } else {
                txn.lastProducerEpoch = txn.producerEpoch
                txn.producerEpoch += 1
            }
            txn.transactionTimeoutMs = transactionTimeoutMs
            txn.state = .empty
            txn.partitions = []
            txn.transactionStartTimestampMs = -1
            txn.transactionLastUpdateTimestampMs = now
            transactions[transactionalId] = txn
            return (InitProducerIdResult(errorCode: 0, producerId: txn.producerId, producerEpoch: txn.producerEpoch),
                    [append(txn), .cancelTimeout(transactionalId: transactionalId)])
        }
    }

    // MARK: - AddPartitionsToTxn / AddOffsetsToTxn

    /// Adds partitions to the producer's transaction, starting one if none is open. One error for all partitions.
    public func addPartitions(
        transactionalId: String, producerId: Int64, producerEpoch: Int16, partitions: [TopicPartition], now: Int64
    ) -> (Int16, [TransactionAction]) {
        if let error = coordinatorError(for: transactionalId) { return (error, []) }
        guard var txn = transactions[transactionalId] else { return (TransactionErrorCode.invalidProducerIdMapping, []) }
        if let error = validate(txn, producerId: producerId, producerEpoch: producerEpoch) { return (error, []) }
        if txn.state.isCompleting || txn.state == .dead { return (TransactionErrorCode.concurrentTransactions, []) }
        if txn.state == .ongoing && Set(partitions).isSubset(of: txn.partitions) { return (TransactionErrorCode.none, []) }
        var actions: [TransactionAction] = []
        if txn.state != .ongoing {
            txn.transactionStartTimestampMs = now
            txn.partitions = []
            actions.append(.scheduleTimeout(transactionalId: transactionalId, deadlineMs: now + Int64(txn.transactionTimeoutMs)))
        }
        txn.state = .ongoing
        txn.partitions.formUnion(partitions)
        txn.transactionLastUpdateTimestampMs = now
        transactions[transactionalId] = txn
        return (TransactionErrorCode.none, [append(txn)] + actions)
    }

    /// AddPartitionsToTxn v4+ `verify_only`: NONE when every partition is in the open transaction.
    public func verifyPartitions(transactionalId: String, producerId: Int64, producerEpoch: Int16, partitions: [TopicPartition]) -> Int16 {
        if let error = coordinatorError(for: transactionalId) { return error }
        guard let txn = transactions[transactionalId] else { return TransactionErrorCode.invalidProducerIdMapping }
        if let error = validate(txn, producerId: producerId, producerEpoch: producerEpoch) { return error }
        return txn.state == .ongoing && Set(partitions).isSubset(of: txn.partitions) ? 0 : TransactionErrorCode.invalidTxnState
    }

    /// The group's offsets go to `__consumer_offsets`: its partition joins the transaction.
    public func addOffsets(transactionalId: String, producerId: Int64, producerEpoch: Int16, groupId: String, now: Int64) -> (Int16, [TransactionAction]) {
        let partition = GroupPartitioner.partition(for: groupId, numPartitions: config.offsetsTopicNumPartitions)
        return addPartitions(
            transactionalId: transactionalId, producerId: producerId, producerEpoch: producerEpoch,
            partitions: [TopicPartition(topic: "__consumer_offsets", partition: partition)], now: now)
    }

    /// TxnOffsetCommit is accepted only from the producer of an open transaction (checked by the group coordinator
    /// in Kafka through the producer epoch; here the broker asks).
    public func isCurrent(transactionalId: String, producerId: Int64, producerEpoch: Int16) -> Int16 {
        if let error = coordinatorError(for: transactionalId) { return error }
        guard let txn = transactions[transactionalId] else { return TransactionErrorCode.invalidProducerIdMapping }
        return validate(txn, producerId: producerId, producerEpoch: producerEpoch) ?? 0
    }

    // MARK: - EndTxn

    public func endTransaction(
        transactionalId: String, producerId: Int64, producerEpoch: Int16, commit: Bool, now: Int64
    ) -> (Int16, [TransactionAction]) {
        if let error = coordinatorError(for: transactionalId) { return (error, []) }
        guard var txn = transactions[transactionalId] else { return (TransactionErrorCode.invalidProducerIdMapping, []) }
        if let error = validate(txn, producerId: producerId, producerEpoch: producerEpoch) { return (error, []) }
        switch txn.state {
        case .ongoing:
            return (TransactionErrorCode.none, prepareCompletion(&txn, commit: commit, now: now))
        case .completeCommit:
            return (commit ? TransactionErrorCode.none : TransactionErrorCode.invalidTxnState, [])
        case .completeAbort:
            return (commit ? TransactionErrorCode.invalidTxnState : TransactionErrorCode.none, [])
        case .prepareCommit:
            return (commit ? TransactionErrorCode.concurrentTransactions : TransactionErrorCode.invalidTxnState, [])
        case .prepareAbort:
            return (commit ? TransactionErrorCode.invalidTxnState : TransactionErrorCode.concurrentTransactions, [])
        case .prepareEpochFence:
            return (TransactionErrorCode.concurrentTransactions, [])
        case .empty, .dead:
            return (TransactionErrorCode.invalidTxnState, [])
        }
    }

    /// Every marker of a PrepareCommit/PrepareAbort is written: the transaction is complete.
    public func markersWritten(_ markers: TransactionMarkers, now: Int64) -> [TransactionAction] {
        guard var txn = transactions[markers.transactionalId], txn.producerId == markers.producerId,
              txn.producerEpoch == markers.producerEpoch,
              txn.state == (markers.commit ? .prepareCommit : .prepareAbort)
        else { return [] }
        txn.state = markers.commit ? .completeCommit : .completeAbort
        txn.partitions = []
        txn.transactionLastUpdateTimestampMs = now
        transactions[markers.transactionalId] = txn
        return [append(txn)]
    }

    /// `transaction.timeout.ms` passed with the transaction still open: fence the producer and abort it.
    public func timeoutExpired(transactionalId: String, now: Int64) -> [TransactionAction] {
        guard var txn = transactions[transactionalId], txn.state == .ongoing else { return [] }
        let deadline = txn.transactionStartTimestampMs + Int64(txn.transactionTimeoutMs)
        guard now >= deadline else { return [.scheduleTimeout(transactionalId: transactionalId, deadlineMs: deadline)] }
        return fenceAndAbort(&txn, now: now)
    }

    // MARK: - Loading

    /// Replays a `__transaction_state` partition (oldest first). Returns the actions that finish what was in
    /// flight: markers of transactions prepared but not completed, timeouts of open ones.
    public func load(records: [TransactionRecord], now: Int64) -> [TransactionAction] {
        var loaded: [String: TransactionMetadata] = [:]
        for record in records { loaded[record.transactionalId] = record.value }
        var actions: [TransactionAction] = []
        for (id, txn) in loaded.sorted(by: { $0.key < $1.key }) {
            transactions[id] = txn
            switch txn.state {
            case .prepareCommit, .prepareAbort:
                actions.append(.writeMarkers(markers(txn, commit: txn.state == .prepareCommit)))
            case .ongoing:
                actions.append(.scheduleTimeout(transactionalId: id, deadlineMs: txn.transactionStartTimestampMs + Int64(txn.transactionTimeoutMs)))
            default:
                break
            }
        }
        return actions
    }

    // MARK: - Helpers

    /// Kafka TV1: a producer id other than the current one is INVALID_PRODUCER_ID_MAPPING; any other epoch is
    /// PRODUCER_FENCED (a newer producer took the transactional id, or the coordinator aborted on timeout).
    private func validate(_ txn: TransactionMetadata, producerId: Int64, producerEpoch: Int16) -> Int16? {
        if txn.producerId != producerId { return TransactionErrorCode.invalidProducerIdMapping }
        if txn.producerEpoch != producerEpoch { return TransactionErrorCode.producerFenced }
        return nil
    }

    private func prepareCompletion(_ txn: inout TransactionMetadata, commit: Bool, now: Int64) -> [TransactionAction] {
        txn.state = commit ? .prepareCommit : .prepareAbort
        txn.transactionLastUpdateTimestampMs = now
        transactions[txn.transactionalId] = txn
        return [.cancelTimeout(transactionalId: txn.transactionalId), append(txn), .writeMarkers(markers(txn, commit: commit))]
    }

    /// PrepareEpochFence: the epoch moves on so the current producer is fenced, then the transaction aborts with
    /// the new epoch (its markers carry it to every partition).
    private func fenceAndAbort(_ txn: inout TransactionMetadata, now: Int64) -> [TransactionAction] {
        if txn.producerEpoch < Int16.max - 1 {
            txn.lastProducerEpoch = txn.producerEpoch
            txn.producerEpoch += 1
        }
        return prepareCompletion(&txn, commit: false, now: now)
    }

    private func markers(_ txn: TransactionMetadata, commit: Bool) -> TransactionMarkers {
        TransactionMarkers(
            transactionalId: txn.transactionalId, producerId: txn.producerId, producerEpoch: txn.producerEpoch, commit: commit,
            coordinatorEpoch: coordinatorEpochs[partition(for: txn.transactionalId)] ?? config.coordinatorEpoch,
            partitions: txn.partitions.sorted())
    }

    private func append(_ txn: TransactionMetadata) -> TransactionAction {
        .append(partition: partition(for: txn.transactionalId), record: TransactionRecord(transactionalId: txn.transactionalId, value: txn))
    }
}
