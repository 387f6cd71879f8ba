import KafkaProtocol
import Testing

@testable import TernBroker

/// How a failed acks=all write of coordinator records becomes the code each API answers, as in Kafka's
/// GroupMetadataManager and TransactionStateManager; and which endpoint FindCoordinator names.
@Suite struct CoordinatorAppendErrorTests {
    @Test func offsetCommitFailures() {
        #expect(CoordinatorAppendErrors.offsetCommit(.notEnoughReplicas) == ErrorCode.coordinatorNotAvailable.rawValue)
        #expect(CoordinatorAppendErrors.offsetCommit(.notEnoughReplicasAfterAppend) == ErrorCode.coordinatorNotAvailable.rawValue)
        #expect(CoordinatorAppendErrors.offsetCommit(.unknownTopicOrPartition) == ErrorCode.coordinatorNotAvailable.rawValue)
        #expect(CoordinatorAppendErrors.offsetCommit(.notLeaderOrFollower) == ErrorCode.notCoordinator.rawValue)
        #expect(CoordinatorAppendErrors.offsetCommit(.kafkaStorageError) == ErrorCode.notCoordinator.rawValue)
        #expect(CoordinatorAppendErrors.offsetCommit(.recordListTooLarge) == ErrorCode.invalidCommitOffsetSize.rawValue)
        // Kafka passes a timed-out commit through as it is; the client retries it.
        #expect(CoordinatorAppendErrors.offsetCommit(.requestTimedOut) == ErrorCode.requestTimedOut.rawValue)
    }

    @Test func groupMetadataFailures() {
        #expect(CoordinatorAppendErrors.groupMetadata(.notEnoughReplicas) == ErrorCode.coordinatorNotAvailable.rawValue)
        #expect(CoordinatorAppendErrors.groupMetadata(.notLeaderOrFollower) == ErrorCode.notCoordinator.rawValue)
        #expect(CoordinatorAppendErrors.groupMetadata(.requestTimedOut) == ErrorCode.rebalanceInProgress.rawValue)
        #expect(CoordinatorAppendErrors.groupMetadata(.messageTooLarge) == ErrorCode.unknownServerError.rawValue)
    }

    @Test func transactionLogFailures() {
        #expect(CoordinatorAppendErrors.transactionLog(.notEnoughReplicas) == ErrorCode.coordinatorNotAvailable.rawValue)
        #expect(CoordinatorAppendErrors.transactionLog(.requestTimedOut) == ErrorCode.coordinatorNotAvailable.rawValue)
        #expect(CoordinatorAppendErrors.transactionLog(.notLeaderOrFollower) == ErrorCode.notCoordinator.rawValue)
        #expect(CoordinatorAppendErrors.transactionLog(.recordListTooLarge) == ErrorCode.unknownServerError.rawValue)
    }

    @Test func coordinatorIsTheLeadersEndpointOnTheClientsListener() {
        let brokers: [Int32: ClusterBroker] = [
            1: ClusterBroker(id: 1, rack: nil, endpoints: ["PLAINTEXT": ("h1", 9092), "INTERNAL": ("i1", 9093)]),
            2: ClusterBroker(id: 2, rack: nil, endpoints: ["INTERNAL": ("i2", 9093)]),
        ]
        let node = Broker.coordinatorNode(1, listener: "PLAINTEXT", liveBrokers: brokers)
        #expect(node?.host == "h1" && node?.port == 9092)
        #expect(Broker.coordinatorNode(1, listener: "INTERNAL", liveBrokers: brokers)?.host == "i1")
        // A leader without the client's listener, or not registered (dead), is no coordinator.
        #expect(Broker.coordinatorNode(2, listener: "PLAINTEXT", liveBrokers: brokers) == nil)
        #expect(Broker.coordinatorNode(3, listener: "PLAINTEXT", liveBrokers: brokers) == nil)
    }
}
