/// Plain values for ConsumerGroupHeartbeat (API key 68) and ConsumerGroupDescribe (API key 69). Topics are
/// named here; the broker maps them to and from the topic ids on the wire.

public struct ConsumerGroupHeartbeatInput: Sendable, Equatable {
    public var groupId: String
    /// Kafka 4 clients choose their own id (a UUID); "" asks the coordinator for one.
    public var memberId: String
    /// 0 to join, -1 to leave, -2 for a static member leaving temporarily; otherwise the member's current epoch.
    public var memberEpoch: Int32
    public var instanceId: String?
    public var rackId: String?
    /// -1 when unchanged since the last heartbeat.
    public var rebalanceTimeoutMs: Int32
    /// nil when unchanged since the last heartbeat.
    public var subscribedTopicNames: [String]?
    public var serverAssignor: String?
    /// The partitions the member owns; nil when unchanged.
    public var topicPartitions: TopicPartitions?
    public var clientId: String
    public var clientHost: String

    public init(
        groupId: String, memberId: String, memberEpoch: Int32, instanceId: String? = nil, rackId: String? = nil,
        rebalanceTimeoutMs: Int32 = -1, subscribedTopicNames: [String]? = nil, serverAssignor: String? = nil,
        topicPartitions: TopicPartitions? = nil, clientId: String = "client", clientHost: String = "/127.0.0.1"
    ) {
        self.groupId = groupId
        self.memberId = memberId
        self.memberEpoch = memberEpoch
        self.instanceId = instanceId
        self.rackId = rackId
        self.rebalanceTimeoutMs = rebalanceTimeoutMs
        self.subscribedTopicNames = subscribedTopicNames
        self.serverAssignor = serverAssignor
        self.topicPartitions = topicPartitions
        self.clientId = clientId
        self.clientHost = clientHost
    }
}

public struct ConsumerGroupHeartbeatResult: Sendable, Equatable {
    public var errorCode: Int16
    public var errorMessage: String?
    public var memberId: String
    public var memberEpoch: Int32
    public var heartbeatIntervalMs: Int32
    /// The partitions the member should own now; nil when unchanged.
    public var assignment: [String: [Int32]]?

    public init(errorCode: Int16, errorMessage: String? = nil, memberId: String = "", memberEpoch: Int32 = -1,
                heartbeatIntervalMs: Int32 = 0, assignment: [String: [Int32]]? = nil) {
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.memberId = memberId
        self.memberEpoch = memberEpoch
        self.heartbeatIntervalMs = heartbeatIntervalMs
        self.assignment = assignment
    }
}

public struct DescribedConsumerGroupMember: Sendable, Equatable {
    public var memberId: String
    public var instanceId: String?
    public var rackId: String?
    public var memberEpoch: Int32
    public var clientId: String
    public var clientHost: String
    public var subscribedTopicNames: [String]
    public var assignment: [String: [Int32]]
    public var targetAssignment: [String: [Int32]]
}

public struct DescribedConsumerGroup: Sendable, Equatable {
    public var errorCode: Int16
    public var errorMessage: String?
    public var groupId: String
    public var groupState: String
    public var groupEpoch: Int32
    public var assignmentEpoch: Int32
    public var assignorName: String
    public var members: [DescribedConsumerGroupMember]
}
