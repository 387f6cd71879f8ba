/// Kafka's wire error codes (`org.apache.kafka.common.protocol.Errors`), through Kafka 4.0.
/// Values, names and retriability are Kafka's: clients branch on them, so they must be exact.
/// Unknown codes are kept as they are (`name` says UNKNOWN_ERROR_CODE(n)), never remapped.
public struct ErrorCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: Int16

    public init(rawValue: Int16) {
        self.rawValue = rawValue
    }

    public init(_ rawValue: Int16) {
        self.rawValue = rawValue
    }

    public static let unknownServerError = ErrorCode(rawValue: -1)
    public static let `none` = ErrorCode(rawValue: 0)
    public static let offsetOutOfRange = ErrorCode(rawValue: 1)
    public static let corruptMessage = ErrorCode(rawValue: 2)
    public static let unknownTopicOrPartition = ErrorCode(rawValue: 3)
    public static let invalidFetchSize = ErrorCode(rawValue: 4)
    public static let leaderNotAvailable = ErrorCode(rawValue: 5)
    public static let notLeaderOrFollower = ErrorCode(rawValue: 6)
    public static let requestTimedOut = ErrorCode(rawValue: 7)
    public static let brokerNotAvailable = ErrorCode(rawValue: 8)
    public static let replicaNotAvailable = ErrorCode(rawValue: 9)
    public static let messageTooLarge = ErrorCode(rawValue: 10)
    public static let staleControllerEpoch = ErrorCode(rawValue: 11)
    public static let offsetMetadataTooLarge = ErrorCode(rawValue: 12)
    public static let networkException = ErrorCode(rawValue: 13)
    public static let coordinatorLoadInProgress = ErrorCode(rawValue: 14)
    public static let coordinatorNotAvailable = ErrorCode(rawValue: 15)
    public static let notCoordinator = ErrorCode(rawValue: 16)
    public static let invalidTopicException = ErrorCode(rawValue: 17)
    public static let recordListTooLarge = ErrorCode(rawValue: 18)
    public static let notEnoughReplicas = ErrorCode(rawValue: 19)
    public static let notEnoughReplicasAfterAppend = ErrorCode(rawValue: 20)
    public static let invalidRequiredAcks = ErrorCode(rawValue: 21)
    public static let illegalGeneration = ErrorCode(rawValue: 22)
    public static let inconsistentGroupProtocol = ErrorCode(rawValue: 23)
    public static let invalidGroupId = ErrorCode(rawValue: 24)
    public static let unknownMemberId = ErrorCode(rawValue: 25)
    public static let invalidSessionTimeout = ErrorCode(rawValue: 26)
    public static let rebalanceInProgress = ErrorCode(rawValue: 27)
    public static let invalidCommitOffsetSize = ErrorCode(rawValue: 28)
    public static let topicAuthorizationFailed = ErrorCode(rawValue: 29)
    public static let groupAuthorizationFailed = ErrorCode(rawValue: 30)
    public static let clusterAuthorizationFailed = ErrorCode(rawValue: 31)
    public static let invalidTimestamp = ErrorCode(rawValue: 32)
    public static let unsupportedSaslMechanism = ErrorCode(rawValue: 33)
    public static let illegalSaslState = ErrorCode(rawValue: 34)
    public static let unsupportedVersion = ErrorCode(rawValue: 35)
    public static let topicAlreadyExists = ErrorCode(rawValue: 36)
    public static let invalidPartitions = ErrorCode(rawValue: 37)
    public static let invalidReplicationFactor = ErrorCode(rawValue: 38)
    public static let invalidReplicaAssignment = ErrorCode(rawValue: 39)
    public static let invalidConfig = ErrorCode(rawValue: 40)
    public static let notController = ErrorCode(rawValue: 41)
    public static let invalidRequest = ErrorCode(rawValue: 42)
    public static let unsupportedForMessageFormat = ErrorCode(rawValue: 43)
    public static let policyViolation = ErrorCode(rawValue: 44)
    public static let outOfOrderSequenceNumber = ErrorCode(rawValue: 45)
    public static let duplicateSequenceNumber = ErrorCode(rawValue: 46)
    public static let invalidProducerEpoch = ErrorCode(rawValue: 47)
    public static let invalidTxnState = ErrorCode(rawValue: 48)
    public static let invalidProducerIdMapping = ErrorCode(rawValue: 49)
    public static let invalidTransactionTimeout = ErrorCode(rawValue: 50)
    public static let concurrentTransactions = ErrorCode(rawValue: 51)
    public static let transactionCoordinatorFenced = ErrorCode(rawValue: 52)
    public static let transactionalIdAuthorizationFailed = ErrorCode(rawValue: 53)
    public static let securityDisabled = ErrorCode(rawValue: 54)
    public static let operationNotAttempted = ErrorCode(rawValue: 55)
    public static let kafkaStorageError = ErrorCode(rawValue: 56)
    public static let logDirNotFound = ErrorCode(rawValue: 57)
    public static let saslAuthenticationFailed = ErrorCode(rawValue: 58)
    public static let unknownProducerId = ErrorCode(rawValue: 59)
    public static let reassignmentInProgress = ErrorCode(rawValue: 60)
    public static let delegationTokenAuthDisabled = ErrorCode(rawValue: 61)
    public static let delegationTokenNotFound = ErrorCode(rawValue: 62)
    public static let delegationTokenOwnerMismatch = ErrorCode(rawValue: 63)
    public static let delegationTokenRequestNotAllowed = ErrorCode(rawValue: 64)
    public static let delegationTokenAuthorizationFailed = ErrorCode(rawValue: 65)
    public static let delegationTokenExpired = ErrorCode(rawValue: 66)
    public static let invalidPrincipalType = ErrorCode(rawValue: 67)
    public static let nonEmptyGroup = ErrorCode(rawValue: 68)
    public static let groupIdNotFound = ErrorCode(rawValue: 69)
    public static let fetchSessionIdNotFound = ErrorCode(rawValue: 70)
    public static let invalidFetchSessionEpoch = ErrorCode(rawValue: 71)
    public static let listenerNotFound = ErrorCode(rawValue: 72)
    public static let topicDeletionDisabled = ErrorCode(rawValue: 73)
    public static let fencedLeaderEpoch = ErrorCode(rawValue: 74)
    public static let unknownLeaderEpoch = ErrorCode(rawValue: 75)
    public static let unsupportedCompressionType = ErrorCode(rawValue: 76)
    public static let staleBrokerEpoch = ErrorCode(rawValue: 77)
    public static let offsetNotAvailable = ErrorCode(rawValue: 78)
    public static let memberIdRequired = ErrorCode(rawValue: 79)
    public static let preferredLeaderNotAvailable = ErrorCode(rawValue: 80)
    public static let groupMaxSizeReached = ErrorCode(rawValue: 81)
    public static let fencedInstanceId = ErrorCode(rawValue: 82)
    public static let eligibleLeadersNotAvailable = ErrorCode(rawValue: 83)
    public static let electionNotNeeded = ErrorCode(rawValue: 84)
    public static let noReassignmentInProgress = ErrorCode(rawValue: 85)
    public static let groupSubscribedToTopic = ErrorCode(rawValue: 86)
    public static let invalidRecord = ErrorCode(rawValue: 87)
    public static let unstableOffsetCommit = ErrorCode(rawValue: 88)
    public static let throttlingQuotaExceeded = ErrorCode(rawValue: 89)
    public static let producerFenced = ErrorCode(rawValue: 90)
    public static let resourceNotFound = ErrorCode(rawValue: 91)
    public static let duplicateResource = ErrorCode(rawValue: 92)
    public static let unacceptableCredential = ErrorCode(rawValue: 93)
    public static let inconsistentVoterSet = ErrorCode(rawValue: 94)
    public static let invalidUpdateVersion = ErrorCode(rawValue: 95)
    public static let featureUpdateFailed = ErrorCode(rawValue: 96)
    public static let principalDeserializationFailure = ErrorCode(rawValue: 97)
    public static let snapshotNotFound = ErrorCode(rawValue: 98)
    public static let positionOutOfRange = ErrorCode(rawValue: 99)
    public static let unknownTopicId = ErrorCode(rawValue: 100)
    public static let duplicateBrokerRegistration = ErrorCode(rawValue: 101)
    public static let brokerIdNotRegistered = ErrorCode(rawValue: 102)
    public static let inconsistentTopicId = ErrorCode(rawValue: 103)
    public static let inconsistentClusterId = ErrorCode(rawValue: 104)
    public static let transactionalIdNotFound = ErrorCode(rawValue: 105)
    public static let fetchSessionTopicIdError = ErrorCode(rawValue: 106)
    public static let ineligibleReplica = ErrorCode(rawValue: 107)
    public static let newLeaderElected = ErrorCode(rawValue: 108)
    public static let offsetMovedToTieredStorage = ErrorCode(rawValue: 109)
    public static let fencedMemberEpoch = ErrorCode(rawValue: 110)
    public static let unreleasedInstanceId = ErrorCode(rawValue: 111)
    public static let unsupportedAssignor = ErrorCode(rawValue: 112)
    public static let staleMemberEpoch = ErrorCode(rawValue: 113)
    public static let mismatchedEndpointType = ErrorCode(rawValue: 114)
    public static let unsupportedEndpointType = ErrorCode(rawValue: 115)
    public static let unknownControllerId = ErrorCode(rawValue: 116)
    public static let unknownSubscriptionId = ErrorCode(rawValue: 117)
    public static let telemetryTooLarge = ErrorCode(rawValue: 118)
    public static let invalidRegistration = ErrorCode(rawValue: 119)
    public static let transactionAbortable = ErrorCode(rawValue: 120)
    public static let invalidRecordState = ErrorCode(rawValue: 121)
    public static let shareSessionNotFound = ErrorCode(rawValue: 122)
    public static let invalidShareSessionEpoch = ErrorCode(rawValue: 123)
    public static let fencedStateEpoch = ErrorCode(rawValue: 124)
    public static let invalidVoterKey = ErrorCode(rawValue: 125)
    public static let duplicateVoter = ErrorCode(rawValue: 126)
    public static let voterNotFound = ErrorCode(rawValue: 127)
    public static let invalidRegularExpression = ErrorCode(rawValue: 128)
    public static let rebootstrapRequired = ErrorCode(rawValue: 129)

    /// Every code Kafka defines, in code order.
    public static let allKnown: [ErrorCode] = table.map { ErrorCode(rawValue: $0.code) }

    /// Kafka's name, e.g. "UNKNOWN_TOPIC_OR_PARTITION".
    public var name: String {
        guard let entry = Self.entry(rawValue) else { return "UNKNOWN_ERROR_CODE(\(rawValue))" }
        return entry.name
    }

    /// Whether Kafka's exception for this code is a `RetriableException`: the client may retry the
    /// same request (usually after refreshing metadata) and expect it to succeed.
    public var isRetriable: Bool {
        Self.entry(rawValue)?.retriable ?? false
    }

    public var isError: Bool { rawValue != 0 }

    public var description: String { "\(name)(\(rawValue))" }

    private static func entry(_ code: Int16) -> (code: Int16, name: String, retriable: Bool)? {
        // The table is dense from -1, so the code is an index.
        let index = Int(code) + 1
        guard index >= 0 && index < table.count else { return nil }
        return table[index]
    }

    private static let table: [(code: Int16, name: String, retriable: Bool)] = [
        (-1, "UNKNOWN_SERVER_ERROR", false),
        (0, "NONE", false),
        (1, "OFFSET_OUT_OF_RANGE", false),
        (2, "CORRUPT_MESSAGE", true),
        (3, "UNKNOWN_TOPIC_OR_PARTITION", true),
        (4, "INVALID_FETCH_SIZE", false),
        (5, "LEADER_NOT_AVAILABLE", true),
        (6, "NOT_LEADER_OR_FOLLOWER", true),
        (7, "REQUEST_TIMED_OUT", true),
        (8, "BROKER_NOT_AVAILABLE", false),
        (9, "REPLICA_NOT_AVAILABLE", true),
        (10, "MESSAGE_TOO_LARGE", false),
        (11, "STALE_CONTROLLER_EPOCH", false),
        (12, "OFFSET_METADATA_TOO_LARGE", false),
        (13, "NETWORK_EXCEPTION", true),
        (14, "COORDINATOR_LOAD_IN_PROGRESS", true),
        (15, "COORDINATOR_NOT_AVAILABLE", true),
        (16, "NOT_COORDINATOR", true),
        (17, "INVALID_TOPIC_EXCEPTION", false),
        (18, "RECORD_LIST_TOO_LARGE", false),
        (19, "NOT_ENOUGH_REPLICAS", true),
        (20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", true),
        (21, "INVALID_REQUIRED_ACKS", false),
        (22, "ILLEGAL_GENERATION", false),
        (23, "INCONSISTENT_GROUP_PROTOCOL", false),
        (24, "INVALID_GROUP_ID", false),
        (25, "UNKNOWN_MEMBER_ID", false),
        (26, "INVALID_SESSION_TIMEOUT", false),
        (27, "REBALANCE_IN_PROGRESS", false),
        (28, "INVALID_COMMIT_OFFSET_SIZE", false),
        (29, "TOPIC_AUTHORIZATION_FAILED", false),
        (30, "GROUP_AUTHORIZATION_FAILED", false),
        (31, "CLUSTER_AUTHORIZATION_FAILED", false),
        (32, "INVALID_TIMESTAMP", false),
        (33, "UNSUPPORTED_SASL_MECHANISM", false),
        (34, "ILLEGAL_SASL_STATE", false),
        (35, "UNSUPPORTED_VERSION", false),
        (36, "TOPIC_ALREADY_EXISTS", false),
        (37, "INVALID_PARTITIONS", false),
        (38, "INVALID_REPLICATION_FACTOR", false),
        (39, "INVALID_REPLICA_ASSIGNMENT", false),
        (40, "INVALID_CONFIG", false),
        (41, "NOT_CONTROLLER", true),
        (42, "INVALID_REQUEST", false),
        (43, "UNSUPPORTED_FOR_MESSAGE_FORMAT", false),
        (44, "POLICY_VIOLATION", false),
        (45, "OUT_OF_ORDER_SEQUENCE_NUMBER", false),
        (46, "DUPLICATE_SEQUENCE_NUMBER", false),
        (47, "INVALID_PRODUCER_EPOCH", false),
        (48, "INVALID_TXN_STATE", false),
        (49, "INVALID_PRODUCER_ID_MAPPING", false),
        (50, "INVALID_TRANSACTION_TIMEOUT", false),
        (51, "CONCURRENT_TRANSACTIONS", true),
        (52, "TRANSACTION_COORDINATOR_FENCED", false),
        (53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", false),
        (54, "SECURITY_DISABLED", false),
        (55, "OPERATION_NOT_ATTEMPTED", false),
        (56, "KAFKA_STORAGE_ERROR", true),
        (57, "LOG_DIR_NOT_FOUND", false),
        (58, "SASL_AUTHENTICATION_FAILED", false),
        (59, "UNKNOWN_PRODUCER_ID", false),
        (60, "REASSIGNMENT_IN_PROGRESS", false),
        (61, "DELEGATION_TOKEN_AUTH_DISABLED", false),
        (62, "DELEGATION_TOKEN_NOT_FOUND", false),
        (63, "DELEGATION_TOKEN_OWNER_MISMATCH", false),
        (64, "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", false),
        (65, "DELEGATION_TOKEN_AUTHORIZATION_FAILED", false),
        (66, "DELEGATION_TOKEN_EXPIRED", false),
        (67, "INVALID_PRINCIPAL_TYPE", false),
        (68, "NON_EMPTY_GROUP", false),
        (69, "GROUP_ID_NOT_FOUND", false),
        (70, "FETCH_SESSION_ID_NOT_FOUND", true),
        (71, "INVALID_FETCH_SESSION_EPOCH", true),
        (72, "LISTENER_NOT_FOUND", true),
        (73, "TOPIC_DELETION_DISABLED", false),
        (74, "FENCED_LEADER_EPOCH", true),
        (75, "UNKNOWN_LEADER_EPOCH", true),
        (76, "UNSUPPORTED_COMPRESSION_TYPE", false),
        (77, "STALE_BROKER_EPOCH", false),
        (78, "OFFSET_NOT_AVAILABLE", true),
        (79, "MEMBER_ID_REQUIRED", false),
        (80, "PREFERRED_LEADER_NOT_AVAILABLE", true),
        (81, "GROUP_MAX_SIZE_REACHED", false),
        (82, "FENCED_INSTANCE_ID", false),
        (83, "ELIGIBLE_LEADERS_NOT_AVAILABLE", true),
        (84, "ELECTION_NOT_NEEDED", true),
        (85, "NO_REASSIGNMENT_IN_PROGRESS", false),
        (86, "GROUP_SUBSCRIBED_TO_TOPIC", false),
        (87, "INVALID_RECORD", false),
        (88, "UNSTABLE_OFFSET_COMMIT", true),
        (89, "THROTTLING_QUOTA_EXCEEDED", true),
        (90, "PRODUCER_FENCED", false),
        (91, "RESOURCE_NOT_FOUND", false),
        (92, "DUPLICATE_RESOURCE", false),
        (93, "UNACCEPTABLE_CREDENTIAL", false),
        (94, "INCONSISTENT_VOTER_SET", false),
        (95, "INVALID_UPDATE_VERSION", false),
        (96, "FEATURE_UPDATE_FAILED", false),
        (97, "PRINCIPAL_DESERIALIZATION_FAILURE", false),
        (98, "SNAPSHOT_NOT_FOUND", false),
        (99, "POSITION_OUT_OF_RANGE", false),
        (100, "UNKNOWN_TOPIC_ID", true),
        (101, "DUPLICATE_BROKER_REGISTRATION", false),
        (102, "BROKER_ID_NOT_REGISTERED", false),
        (103, "INCONSISTENT_TOPIC_ID", true),
        (104, "INCONSISTENT_CLUSTER_ID", false),
        (105, "TRANSACTIONAL_ID_NOT_FOUND", false),
        (106, "FETCH_SESSION_TOPIC_ID_ERROR", true),
        (107, "INELIGIBLE_REPLICA", false),
        (108, "NEW_LEADER_ELECTED", false),
        (109, "OFFSET_MOVED_TO_TIERED_STORAGE", false),
        (110, "FENCED_MEMBER_EPOCH", false),
        (111, "UNRELEASED_INSTANCE_ID", false),
        (112, "UNSUPPORTED_ASSIGNOR", false),
        (113, "STALE_MEMBER_EPOCH", false),
        (114, "MISMATCHED_ENDPOINT_TYPE", false),
        (115, "UNSUPPORTED_ENDPOINT_TYPE", false),
        (116, "UNKNOWN_CONTROLLER_ID", false),
        (117, "UNKNOWN_SUBSCRIPTION_ID", false),
        (118, "TELEMETRY_TOO_LARGE", false),
        (119, "INVALID_REGISTRATION", false),
        (120, "TRANSACTION_ABORTABLE", false),
        (121, "INVALID_RECORD_STATE", false),
        (122, "SHARE_SESSION_NOT_FOUND", true),
        (123, "INVALID_SHARE_SESSION_EPOCH", true),
        (124, "FENCED_STATE_EPOCH", false),
        (125, "INVALID_VOTER_KEY", false),
        (126, "DUPLICATE_VOTER", false),
        (127, "VOTER_NOT_FOUND", false),
        (128, "INVALID_REGULAR_EXPRESSION", false),
        (129, "REBOOTSTRAP_REQUIRED", false),
    ]
}
