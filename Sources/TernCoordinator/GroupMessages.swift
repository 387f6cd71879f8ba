/// Plain request/response values for the group APIs. The broker maps the generated wire structs to and from
/// these, so the state machine does not depend on a wire version. Error codes are Kafka's (`CoordinatorErrorCode`).

public struct GroupProtocol: Sendable, Hashable {
    public var name: String
    public var metadata: [UInt8]
    public init(name: String, metadata: [UInt8]) {
        self.name = name
        self.metadata = metadata
    }
}

public struct JoinGroupInput: Sendable, Equatable {
    public var groupId: String
    /// "" for a member joining for the first time.
    public var memberId: String
    public var groupInstanceId: String?
    public var protocolType: String
    public var protocols: [GroupProtocol]
    public var sessionTimeoutMs: Int32
    /// JoinGroup v0 has none: pass the session timeout, as Kafka does.
    public var rebalanceTimeoutMs: Int32
    public var clientId: String
    public var clientHost: String
    /// True for JoinGroup v4+: a new dynamic member first gets MEMBER_ID_REQUIRED with its id.
    public var requireKnownMemberId: Bool
    public var reason: String?

    public init(
        groupId: String, memberId: String = "", groupInstanceId: String? = nil, protocolType: String = "consumer",
        protocols: [GroupProtocol], sessionTimeoutMs: Int32 = 10_000, rebalanceTimeoutMs: Int32 = 300_000,
        clientId: String = "client", clientHost: String = "/127.0.0.1", requireKnownMemberId: Bool = true,
        reason: String? = nil
    ) {
        self.groupId = groupId
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
        self.protocolType = protocolType
        self.protocols = protocols
        self.sessionTimeoutMs = sessionTimeoutMs
        self.rebalanceTimeoutMs = rebalanceTimeoutMs
        self.clientId = clientId
        self.clientHost = clientHost
        self.requireKnownMemberId = requireKnownMemberId
        self.reason = reason
    }
}

public struct JoinGroupMember: Sendable, Equatable {
    public var memberId: String
    public var groupInstanceId: String?
    public var metadata: [UInt8]
    public init(memberId: String, groupInstanceId: String?, metadata: [UInt8]) {
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
        self.metadata = metadata
    }
}

public struct JoinGroupResult: Sendable, Equatable {
    public var errorCode: Int16
    public var generationId: Int32
    public var protocolType: String?
    public var protocolName: String?
    public var leader: String
    /// v9+: the leader rejoined without a rebalance and must not run the assignor again.
    public var skipAssignment: Bool
    public var memberId: String
    /// Filled for the leader only.
    public var members: [JoinGroupMember]

    public init(
        errorCode: Int16, generationId: Int32 = -1, protocolType: String? = nil, protocolName: String? = nil,
        leader: String = "", skipAssignment: Bool = false, memberId: String = "", members: [JoinGroupMember] = []
    ) {
        self.errorCode = errorCode
        self.generationId = generationId
        self.protocolType = protocolType
        self.protocolName = protocolName
        self.leader = leader
        self.skipAssignment = skipAssignment
        self.memberId = memberId
        self.members = members
    }

    static func error(_ code: Int16, memberId: String = "") -> JoinGroupResult {
        JoinGroupResult(errorCode: code, memberId: memberId)
    }
}

public struct SyncGroupAssignment: Sendable, Equatable {
    public var memberId: String
    public var assignment: [UInt8]
    public init(memberId: String, assignment: [UInt8]) {
        self.memberId = memberId
        self.assignment = assignment
    }
}

public struct SyncGroupInput: Sendable, Equatable {
    public var groupId: String
    public var generationId: Int32
    public var memberId: String
    public var groupInstanceId: String?
    /// v5+; nil when the client did not send it.
    public var protocolType: String?
    public var protocolName: String?
    /// Only the leader sends assignments.
    public var assignments: [SyncGroupAssignment]

    public init(
        groupId: String, generationId: Int32, memberId: String, groupInstanceId: String? = nil,
        protocolType: String? = nil, protocolName: String? = nil, assignments: [SyncGroupAssignment] = []
    ) {
        self.groupId = groupId
        self.generationId = generationId
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
        self.protocolType = protocolType
        self.protocolName = protocolName
        self.assignments = assignments
    }
}

public struct SyncGroupResult: Sendable, Equatable {
    public var errorCode: Int16
    public var protocolType: String?
    public var protocolName: String?
    public var assignment: [UInt8]

    public init(errorCode: Int16, protocolType: String? = nil, protocolName: String? = nil, assignment: [UInt8] = []) {
        self.errorCode = errorCode
        self.protocolType = protocolType
        self.protocolName = protocolName
        self.assignment = assignment
    }
}

public struct HeartbeatInput: Sendable, Equatable {
    public var groupId: String
    public var generationId: Int32
    public var memberId: String
    public var groupInstanceId: String?
    public init(groupId: String, generationId: Int32, memberId: String, groupInstanceId: String? = nil) {
        self.groupId = groupId
        self.generationId = generationId
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
    }
}

public struct HeartbeatResult: Sendable, Equatable {
    public var errorCode: Int16
    public init(errorCode: Int16) { self.errorCode = errorCode }
}

public struct LeaveGroupMember: Sendable, Equatable {
    /// "" with a `groupInstanceId` removes that static member whatever its member id.
    public var memberId: String
    public var groupInstanceId: String?
    public var reason: String?
    public init(memberId: String, groupInstanceId: String? = nil, reason: String? = nil) {
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
        self.reason = reason
    }
}

public struct LeaveGroupInput: Sendable, Equatable {
    public var groupId: String
    /// v0-v2 carry one member id; map it to a single entry.
    public var members: [LeaveGroupMember]
    public init(groupId: String, members: [LeaveGroupMember]) {
        self.groupId = groupId
        self.members = members
    }
}

public struct LeaveGroupMemberResult: Sendable, Equatable {
    public var memberId: String
    public var groupInstanceId: String?
    public var errorCode: Int16
    public init(memberId: String, groupInstanceId: String?, errorCode: Int16) {
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
        self.errorCode = errorCode
    }
}

public struct LeaveGroupResult: Sendable, Equatable {
    /// Group-level error. For v0-v2 use the member's error when this is NONE.
    public var errorCode: Int16
    public var members: [LeaveGroupMemberResult]
    public init(errorCode: Int16, members: [LeaveGroupMemberResult] = []) {
        self.errorCode = errorCode
        self.members = members
    }
}
