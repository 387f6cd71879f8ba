/// In-memory state of one KIP-848 consumer group (ConsumerGroupHeartbeat protocol).
///
/// The group epoch moves when membership or subscriptions change; the target assignment is recomputed for
/// that epoch (the assignment epoch); each member then converges on its target through its own member
/// epoch, revoking partitions before it may receive partitions another member still owns.
public enum ConsumerGroupState: String, Sendable {
    case empty = "Empty"
    case assigning = "Assigning"
    case reconciling = "Reconciling"
    case stable = "Stable"
    case dead = "Dead"
}

public enum ConsumerMemberState: String, Sendable {
    case stable
    case unrevokedPartitions = "unrevoked_partitions"
    case unreleasedPartitions = "unreleased_partitions"
}

final class ConsumerMember {
    let memberId: String
    var instanceId: String?
    var rackId: String?
    var clientId: String
    var clientHost: String
    var subscribedTopicNames: [String] = []
    var serverAssignor: String?
    var rebalanceTimeoutMs: Int32
    var memberEpoch: Int32 = 0
    var previousMemberEpoch: Int32 = -1
    var state: ConsumerMemberState = .stable
    var assigned: TopicPartitions = [:]
    var pendingRevocation: TopicPartitions = [:]
    var sessionDeadlineMs: Int64 = 0
    /// Set while the member has partitions to revoke; it is fenced if it has not by then.
    var revocationDeadlineMs: Int64?

    init(memberId: String, clientId: String, clientHost: String, rebalanceTimeoutMs: Int32) {
        self.memberId = memberId
        self.clientId = clientId
        self.clientHost = clientHost
        self.rebalanceTimeoutMs = rebalanceTimeoutMs
    }

    var metadataRecordValue: ConsumerMemberRecordValue {
        ConsumerMemberRecordValue(
            instanceId: instanceId, rackId: rackId, clientId: clientId, clientHost: clientHost,
            subscribedTopicNames: subscribedTopicNames, serverAssignor: serverAssignor, rebalanceTimeoutMs: rebalanceTimeoutMs)
    }

    var assignmentRecordValue: ConsumerCurrentAssignmentRecordValue {
        ConsumerCurrentAssignmentRecordValue(
            memberEpoch: memberEpoch, previousMemberEpoch: previousMemberEpoch, state: state.rawValue,
            assignedPartitions: assigned.sortedLists, partitionsPendingRevocation: pendingRevocation.sortedLists)
    }
}

final class ConsumerGroup {
    let groupId: String
    var groupEpoch: Int32 = 0
    var assignmentEpoch: Int32 = 0
    var members: [String: ConsumerMember] = [:]
    var targetAssignment: [String: TopicPartitions] = [:]
    /// Partition counts the current target assignment was computed from.
    var lastPartitionCounts: [String: Int32] = [:]
    var offsets: [TopicPartition: OffsetCommitRecordValue] = [:]

    init(groupId: String) { self.groupId = groupId }

    var state: ConsumerGroupState {
        if members.isEmpty { return .empty }
        if groupEpoch > assignmentEpoch { return .assigning }
        let converged = members.values.allSatisfy { $0.memberEpoch == assignmentEpoch && $0.state == .stable }
        return converged ? .stable : .reconciling
    }

    /// Whether a member other than `memberId` still holds `partition` (assigned or being revoked).
    func isOwnedByOther(_ topic: String, _ partition: Int32, except memberId: String) -> Bool {
        members.values.contains { member in
            member.memberId != memberId
                && (member.assigned[topic]?.contains(partition) == true || member.pendingRevocation[topic]?.contains(partition) == true)
        }
    }

    var subscribedTopics: Set<String> { Set(members.values.flatMap(\.subscribedTopicNames)) }
}

extension Dictionary where Key == String, Value == Set<Int32> {
    /// Deterministic form for records and responses; empty topics dropped.
    var sortedLists: [String: [Int32]] {
        var result: [String: [Int32]] = [:]
        for (topic, partitions) in self where !partitions.isEmpty { result[topic] = partitions.sorted() }
        return result
    }

    func isSubset(of other: [String: Set<Int32>]) -> Bool {
        allSatisfy { topic, partitions in partitions.isSubset(of: other[topic] ?? []) }
    }

    var partitionCount: Int { values.reduce(0) { $0 + $1.count } }
}
