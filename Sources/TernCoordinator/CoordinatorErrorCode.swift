/// Kafka's wire error codes that the group coordinator answers with (values from Kafka's `Errors.java`).
/// Kept as plain `Int16` constants so results can be copied straight into the generated response structs.
public enum CoordinatorErrorCode {
    public static let none: Int16 = 0
    public static let unknownServerError: Int16 = -1
    public static let unknownTopicOrPartition: Int16 = 3
    public static let offsetMetadataTooLarge: Int16 = 12
    public static let coordinatorLoadInProgress: Int16 = 14
    public static let coordinatorNotAvailable: Int16 = 15
    public static let notCoordinator: Int16 = 16
    public static let illegalGeneration: Int16 = 22
    public static let inconsistentGroupProtocol: Int16 = 23
    public static let invalidGroupId: Int16 = 24
    public static let unknownMemberId: Int16 = 25
    public static let invalidSessionTimeout: Int16 = 26
    public static let rebalanceInProgress: Int16 = 27
    public static let invalidRequest: Int16 = 42
    public static let nonEmptyGroup: Int16 = 68
    public static let groupIdNotFound: Int16 = 69
    public static let memberIdRequired: Int16 = 79
    public static let groupMaxSizeReached: Int16 = 81
    public static let fencedInstanceId: Int16 = 82
    public static let groupSubscribedToTopic: Int16 = 86
    public static let unstableOffsetCommit: Int16 = 88
    public static let fencedMemberEpoch: Int16 = 110
    public static let unreleasedInstanceId: Int16 = 111
    public static let unsupportedAssignor: Int16 = 112
    public static let staleMemberEpoch: Int16 = 113
}
