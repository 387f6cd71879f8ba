/// Records the group coordinator writes to `__consumer_offsets`, as domain values.
///
/// They mirror Kafka's key/value schemas (OffsetCommitKey/Value v3, GroupMetadataKey/Value v3); the byte
/// encoding lives at the broker boundary with the generated codecs. A `nil` value is a tombstone: the key
/// is deleted when the log is compacted, and replay removes the entry.
public enum CoordinatorRecord: Sendable, Hashable {
    case offsetCommit(key: OffsetCommitRecordKey, value: OffsetCommitRecordValue?)
    case groupMetadata(groupId: String, value: GroupMetadataRecordValue?)
    // KIP-848 consumer groups (ConsumerGroupMetadata, ConsumerGroupMemberMetadata,
    // ConsumerGroupTargetAssignmentMetadata, ConsumerGroupTargetAssignmentMember, ConsumerGroupCurrentMemberAssignment).
    case consumerGroupMetadata(groupId: String, epoch: Int32?)
    case consumerGroupMemberMetadata(groupId: String, memberId: String, value: ConsumerMemberRecordValue?)
    case consumerGroupTargetAssignmentMetadata(groupId: String, assignmentEpoch: Int32?)
    case consumerGroupTargetAssignmentMember(groupId: String, memberId: String, partitions: [String: [Int32]]?)
    case consumerGroupCurrentMemberAssignment(groupId: String, memberId: String, value: ConsumerCurrentAssignmentRecordValue?)

    /// The group this record belongs to; it decides the partition the record is written to.
    public var groupId: String {
        switch self {
        case .offsetCommit(let key, _): return key.groupId
        case .groupMetadata(let groupId, _), .consumerGroupMetadata(let groupId, _),
             .consumerGroupMemberMetadata(let groupId, _, _), .consumerGroupTargetAssignmentMetadata(let groupId, _),
             .consumerGroupTargetAssignmentMember(let groupId, _, _), .consumerGroupCurrentMemberAssignment(let groupId, _, _):
            return groupId
        }
    }
}

public struct OffsetCommitRecordKey: Sendable, Hashable {
    public var groupId: String
    public var topic: String
    public var partition: Int32

    public init(groupId: String, topic: String, partition: Int32) {
        self.groupId = groupId
        self.topic = topic
        self.partition = partition
    }
}

public struct OffsetCommitRecordValue: Sendable, Hashable {
    public var offset: Int64
    /// -1 when the client did not send one.
    public var leaderEpoch: Int32
    public var metadata: String
    public var commitTimestamp: Int64
    /// Only set for commits that carried an explicit retention time (OffsetCommit v2-v4).
    public var expireTimestamp: Int64?

    public init(offset: Int64, leaderEpoch: Int32, metadata: String, commitTimestamp: Int64, expireTimestamp: Int64?) {
        self.offset = offset
        self.leaderEpoch = leaderEpoch
        self.metadata = metadata
        self.commitTimestamp = commitTimestamp
        self.expireTimestamp = expireTimestamp
    }
}

public struct GroupMetadataRecordValue: Sendable, Hashable {
    public var protocolType: String
    public var generation: Int32
    /// The selected protocol; nil while the group has no members.
    public var protocolName: String?
    public var leader: String?
    public var currentStateTimestamp: Int64
    public var members: [GroupMemberRecord]

    public init(
        protocolType: String, generation: Int32, protocolName: String?, leader: String?,
        currentStateTimestamp: Int64, members: [GroupMemberRecord]
    ) {
        self.protocolType = protocolType
        self.generation = generation
        self.protocolName = protocolName
        self.leader = leader
        self.currentStateTimestamp = currentStateTimestamp
        self.members = members
    }
}

public struct GroupMemberRecord: Sendable, Hashable {
    public var memberId: String
    public var groupInstanceId: String?
    public var clientId: String
    public var clientHost: String
    public var rebalanceTimeoutMs: Int32
    public var sessionTimeoutMs: Int32
    /// The member's metadata for the group's selected protocol.
    public var subscription: [UInt8]
    public var assignment: [UInt8]

    public init(
        memberId: String, groupInstanceId: String?, clientId: String, clientHost: String,
        rebalanceTimeoutMs: Int32, sessionTimeoutMs: Int32, subscription: [UInt8], assignment: [UInt8]
    ) {
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
        self.clientId = clientId
        self.clientHost = clientHost
        self.rebalanceTimeoutMs = rebalanceTimeoutMs
        self.sessionTimeoutMs = sessionTimeoutMs
        self.subscription = subscription
        self.assignment = assignment
    }
}

public struct ConsumerMemberRecordValue: Sendable, Hashable {
    public var instanceId: String?
    public var rackId: String?
    public var clientId: String
    public var clientHost: String
    public var subscribedTopicNames: [String]
    public var serverAssignor: String?
    public var rebalanceTimeoutMs: Int32

    public init(instanceId: String?, rackId: String?, clientId: String, clientHost: String, subscribedTopicNames: [String],
                serverAssignor: String?, rebalanceTimeoutMs: Int32) {
        self.instanceId = instanceId
        self.rackId = rackId
        self.clientId = clientId
        self.clientHost = clientHost
        self.subscribedTopicNames = subscribedTopicNames
        self.serverAssignor = serverAssignor
        self.rebalanceTimeoutMs = rebalanceTimeoutMs
    }
}

public struct ConsumerCurrentAssignmentRecordValue: Sendable, Hashable {
    public var memberEpoch: Int32
    public var previousMemberEpoch: Int32
    /// "stable", "unrevoked_partitions" or "unreleased_partitions".
    public var state: String
    public var assignedPartitions: [String: [Int32]]
    public var partitionsPendingRevocation: [String: [Int32]]

    public init(memberEpoch: Int32, previousMemberEpoch: Int32, state: String, assignedPartitions: [String: [Int32]],
                partitionsPendingRevocation: [String: [Int32]]) {
        self.memberEpoch = memberEpoch
        self.previousMemberEpoch = previousMemberEpoch
        self.state = state
        self.assignedPartitions = assignedPartitions
        self.partitionsPendingRevocation = partitionsPendingRevocation
    }
}
