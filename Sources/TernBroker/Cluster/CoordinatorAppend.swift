import KafkaProtocol
import NIOCore
import TernStorage

/// The coordinators' writes to their internal partitions (`__consumer_offsets`, `__transaction_state`) and the
/// transaction markers, with acks=all semantics as Kafka's coordinators write them (`requiredAcks = -1`):
/// only the leader appends; the ISR must hold at least `min.insync.replicas` replicas before the append
/// (NOT_ENOUGH_REPLICAS); the write counts once the high watermark covers it, waited for up to `timeoutMs`
/// (REQUEST_TIMED_OUT, or NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrank below the minimum meanwhile);
/// losing leadership while waiting is NOT_LEADER_OR_FOLLOWER. On a broker alone the high watermark is the log end,
/// so the append is committed when it returns. The caller maps the storage error to its API's code
/// (`CoordinatorAppendErrors`).
struct CommittedAppendFailure: Error, CustomStringConvertible {
    var code: ErrorCode
    var message: String
    var description: String { "\(code.name): \(message)" }
}

extension Broker {
    /// Appends `batch` (the broker's own records) to `partition` and waits until every in-sync replica has it.
    @discardableResult
    func appendCommitted(_ batch: ByteBuffer, to partition: Partition, timeoutMs: Int64) async throws(CommittedAppendFailure)
        -> LogAppendInfo
    {
        try checkCanAppend(partition)
        let info: LogAppendInfo
        do {
            info = try partition.appendInternal(batch, requireLeader: true)
        } catch Partition.AppendFailure.rejected(let code, let message) {
            throw CommittedAppendFailure(code: code, message: message)
        } catch {
            throw CommittedAppendFailure(code: .kafkaStorageError, message: "\(error)")
        }
        let tp = partition.topicPartition
        purgatory.notify(.init(topic: tp.topic, partition: tp.partition))
        try await awaitCommitted(partition, through: info.lastOffset, timeoutMs: timeoutMs)
        return info
    }

    /// Refuses a write the leader could not commit: not the leader, or fewer in-sync replicas than required.
    func checkCanAppend(_ partition: Partition) throws(CommittedAppendFailure) {
        let tp = partition.topicPartition
        guard partition.isLeader else {
            throw CommittedAppendFailure(code: .notLeaderOrFollower, message: "\(tp): this broker is not the leader")
        }
        let required = partition.log.config.minInsyncReplicas
        if zooKeeperStore != nil && partition.inSyncReplicaCount < required {
            throw CommittedAppendFailure(
                code: .notEnoughReplicas,
                message: "\(tp): the ISR has \(partition.inSyncReplicaCount) replica(s), min.insync.replicas is \(required)")
        }
    }

    /// Waits until `partition`'s high watermark is past `offset` (every in-sync replica has it).
    func awaitCommitted(_ partition: Partition, through offset: Int64, timeoutMs: Int64) async throws(CommittedAppendFailure) {
        let tp = partition.topicPartition
        let key = FetchPurgatory.Key(topic: tp.topic, partition: tp.partition)
        let deadline = NIODeadline.now() + .milliseconds(max(timeoutMs, 0))
        let loop = eventLoopGroup.next()
        while partition.log.highWatermark <= offset {
            guard partition.isLeader else {
                throw CommittedAppendFailure(code: .notLeaderOrFollower, message: "\(tp): leadership moved before the write was replicated")
            }
            let remaining = deadline - NIODeadline.now()
            if remaining <= .zero {
                if partition.inSyncReplicaCount < partition.log.config.minInsyncReplicas {
                    throw CommittedAppendFailure(code: .notEnoughReplicasAfterAppend, message: "\(tp): the ISR shrank below min.insync.replicas")
                }
                throw CommittedAppendFailure(code: .requestTimedOut, message: "\(tp): not replicated within \(timeoutMs) ms")
            }
            // Short slices: a wake-up that races the registration costs at most 50 ms.
            await purgatory.wait(for: [key], timeout: min(remaining, .milliseconds(50)), on: loop)
        }
    }
}

/// How each coordinator turns a failed write of its records into the code its API answers, as Kafka's
/// `GroupMetadataManager` (offset commits, group metadata) and `TransactionStateManager` do.
enum CoordinatorAppendErrors {
    /// OffsetCommit / TxnOffsetCommit records.
    static func offsetCommit(_ code: ErrorCode) -> Int16 {
        switch code {
        case .unknownTopicOrPartition, .notEnoughReplicas, .notEnoughReplicasAfterAppend: return ErrorCode.coordinatorNotAvailable.rawValue
        case .notLeaderOrFollower, .kafkaStorageError: return ErrorCode.notCoordinator.rawValue
        case .messageTooLarge, .recordListTooLarge, .invalidFetchSize: return ErrorCode.invalidCommitOffsetSize.rawValue
        default: return code.rawValue
        }
    }

    /// Group metadata (JoinGroup/SyncGroup/LeaveGroup results, deletions).
    static func groupMetadata(_ code: ErrorCode) -> Int16 {
        switch code {
        case .unknownTopicOrPartition, .notEnoughReplicas, .notEnoughReplicasAfterAppend: return ErrorCode.coordinatorNotAvailable.rawValue
        case .notLeaderOrFollower, .kafkaStorageError: return ErrorCode.notCoordinator.rawValue
        case .requestTimedOut: return ErrorCode.rebalanceInProgress.rawValue
        case .messageTooLarge, .recordListTooLarge, .invalidFetchSize: return ErrorCode.unknownServerError.rawValue
        default: return code.rawValue
        }
    }

    /// `__transaction_state` records.
    static func transactionLog(_ code: ErrorCode) -> Int16 {
        switch code {
        case .unknownTopicOrPartition, .notEnoughReplicas, .notEnoughReplicasAfterAppend, .requestTimedOut:
            return ErrorCode.coordinatorNotAvailable.rawValue
        case .notLeaderOrFollower, .kafkaStorageError: return ErrorCode.notCoordinator.rawValue
        case .messageTooLarge, .recordListTooLarge: return ErrorCode.unknownServerError.rawValue
        default: return code.rawValue
        }
    }
}
