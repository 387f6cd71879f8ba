/// Plain values for DescribeGroups, ListGroups, DeleteGroups and the offset APIs.

public struct DescribedGroupMember: Sendable, Equatable {
    public var memberId: String
    public var groupInstanceId: String?
    public var clientId: String
    public var clientHost: String
    /// Empty unless the group is Stable (as in Kafka).
    public var memberMetadata: [UInt8]
    public var memberAssignment: [UInt8]
}

public struct DescribedGroup: Sendable, Equatable {
    public var errorCode: Int16
    public var groupId: String
    /// "Empty", "PreparingRebalance", "CompletingRebalance", "Stable" or "Dead".
    public var groupState: String
    public var protocolType: String
    /// The selected protocol when Stable, "" otherwise.
    public var protocolData: String
    public var members: [DescribedGroupMember]
}

public struct ListGroupsInput: Sendable, Equatable {
    /// Case-insensitive state names; empty means all.
    public var statesFilter: [String]
    /// "classic" / "consumer"; empty means all.
    public var typesFilter: [String]
    public init(statesFilter: [String] = [], typesFilter: [String] = []) {
        self.statesFilter = statesFilter
        self.typesFilter = typesFilter
    }
}

public struct ListedGroup: Sendable, Equatable {
    public var groupId: String
    public var protocolType: String
    public var groupState: String
    public var groupType: String
}

public struct ListGroupsResult: Sendable, Equatable {
    public var errorCode: Int16
    public var groups: [ListedGroup]
}

public struct DeleteGroupResult: Sendable, Equatable {
    public var groupId: String
    public var errorCode: Int16
}

// MARK: - Offsets

public struct OffsetCommitPartition: Sendable, Equatable {
    public var partitionIndex: Int32
    public var committedOffset: Int64
    public var committedLeaderEpoch: Int32
    public var committedMetadata: String?
    public init(partitionIndex: Int32, committedOffset: Int64, committedLeaderEpoch: Int32 = -1, committedMetadata: String? = nil) {
        self.partitionIndex = partitionIndex
        self.committedOffset = committedOffset
        self.committedLeaderEpoch = committedLeaderEpoch
        self.committedMetadata = committedMetadata
    }
}

public struct OffsetCommitTopic: Sendable, Equatable {
    public var name: String
    public var partitions: [OffsetCommitPartition]
    public init(name: String, partitions: [OffsetCommitPartition]) {
        self.name = name
        self.partitions = partitions
    }
}

public struct OffsetCommitInput: Sendable, Equatable {
    public var groupId: String
    /// -1 with an empty member id: a simple consumer or admin commit, accepted only while the group is Empty.
    public var generationId: Int32
    public var memberId: String
    public var groupInstanceId: String?
    /// v2-v4 only; -1 means the broker's retention.
    public var retentionTimeMs: Int64
    public var topics: [OffsetCommitTopic]
    public init(
        groupId: String, generationId: Int32 = -1, memberId: String = "", groupInstanceId: String? = nil,
        retentionTimeMs: Int64 = -1, topics: [OffsetCommitTopic]
    ) {
        self.groupId = groupId
        self.generationId = generationId
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
        self.retentionTimeMs = retentionTimeMs
        self.topics = topics
    }
}

public struct PartitionError: Sendable, Equatable {
    public var partitionIndex: Int32
    public var errorCode: Int16
    public init(partitionIndex: Int32, errorCode: Int16) {
        self.partitionIndex = partitionIndex
        self.errorCode = errorCode
    }
}

public struct TopicPartitionErrors: Sendable, Equatable {
    public var name: String
    public var partitions: [PartitionError]
    public init(name: String, partitions: [PartitionError]) {
        self.name = name
        self.partitions = partitions
    }
}

public struct OffsetCommitResult: Sendable, Equatable {
    public var topics: [TopicPartitionErrors]
}

public struct OffsetFetchTopic: Sendable, Equatable {
    public var name: String
    public var partitionIndexes: [Int32]
    public init(name: String, partitionIndexes: [Int32]) {
        self.name = name
        self.partitionIndexes = partitionIndexes
    }
}

public struct OffsetFetchGroup: Sendable, Equatable {
    public var groupId: String
    /// nil topics: every partition the group has committed.
    public var topics: [OffsetFetchTopic]?
    public init(groupId: String, topics: [OffsetFetchTopic]?) {
        self.groupId = groupId
        self.topics = topics
    }
}

public struct OffsetFetchInput: Sendable, Equatable {
    /// v0-v7 carry one group; v8+ several.
    public var groups: [OffsetFetchGroup]
    public var requireStable: Bool
    public init(groups: [OffsetFetchGroup], requireStable: Bool = false) {
        self.groups = groups
        self.requireStable = requireStable
    }
}

public struct OffsetFetchPartition: Sendable, Equatable {
    public var partitionIndex: Int32
    /// -1 when nothing was committed.
    public var committedOffset: Int64
    public var committedLeaderEpoch: Int32
    public var metadata: String
    public var errorCode: Int16
}

public struct OffsetFetchTopicResult: Sendable, Equatable {
    public var name: String
    public var partitions: [OffsetFetchPartition]
}

public struct OffsetFetchGroupResult: Sendable, Equatable {
    public var groupId: String
    public var errorCode: Int16
    public var topics: [OffsetFetchTopicResult]
}

public struct OffsetFetchResult: Sendable, Equatable {
    public var groups: [OffsetFetchGroupResult]
}

public struct OffsetDeleteInput: Sendable, Equatable {
    public var groupId: String
    public var topics: [OffsetFetchTopic]
    public init(groupId: String, topics: [OffsetFetchTopic]) {
        self.groupId = groupId
        self.topics = topics
    }
}

public struct OffsetDeleteResult: Sendable, Equatable {
    public var errorCode: Int16
    public var topics: [TopicPartitionErrors]
}
