/// In-memory state of one classic (JoinGroup/SyncGroup) group, Kafka's `ClassicGroup`.
///
/// States and their legal moves (Kafka's):
///   Empty -> PreparingRebalance (a member joins) | Dead (deleted, or offsets expired)
///   PreparingRebalance -> CompletingRebalance (join phase over) | Empty (nobody left) | Dead
///   CompletingRebalance -> Stable (leader's SyncGroup) | PreparingRebalance (membership changed) | Dead
///   Stable -> PreparingRebalance (member joins, leaves, expires, or changes metadata) | Dead
public enum ClassicGroupState: String, Sendable, CaseIterable {
    case empty = "Empty"
    case preparingRebalance = "PreparingRebalance"
    case completingRebalance = "CompletingRebalance"
    case stable = "Stable"
    case dead = "Dead"
}

/// Offsets are keyed by topic and partition.
public struct TopicPartition: Sendable, Hashable, Comparable {
    public var topic: String
    public var partition: Int32
    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }
    public static func < (a: TopicPartition, b: TopicPartition) -> Bool {
        a.topic != b.topic ? a.topic < b.topic : a.partition < b.partition
    }
}

final class ClassicMember {
    let memberId: String
    var groupInstanceId: String?
    var clientId: String
    var clientHost: String
    var rebalanceTimeoutMs: Int32
    var sessionTimeoutMs: Int32
    var protocolType: String
    var protocols: [GroupProtocol]
    var assignment: [UInt8] = []
    /// Parked JoinGroup / SyncGroup request ids.
    var awaitingJoin: UInt64?
    var awaitingSync: UInt64?
    /// A member in its first join: it has no id of its own yet, so its session is the new-member join timeout.
    var isNew = false
    var sessionDeadlineMs: Int64 = 0

    init(
        memberId: String, groupInstanceId: String?, clientId: String, clientHost: String,
        rebalanceTimeoutMs: Int32, sessionTimeoutMs: Int32, protocolType: String, protocols: [GroupProtocol]
    ) {
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
        self.clientId = clientId
        self.clientHost = clientHost
        self.rebalanceTimeoutMs = rebalanceTimeoutMs
        self.sessionTimeoutMs = sessionTimeoutMs
        self.protocolType = protocolType
        self.protocols = protocols
    }

    func metadata(for protocolName: String?) -> [UInt8] {
        protocols.first { $0.name == protocolName }?.metadata ?? []
    }

    /// Same protocols, same order, same metadata: a rejoin that changes nothing.
    func matches(_ other: [GroupProtocol]) -> Bool { protocols == other }
}

final class ClassicGroup {
    let groupId: String
    private(set) var state: ClassicGroupState = .empty
    var currentStateTimestamp: Int64?
    var generationId: Int32 = 0
    var protocolType: String?
    var protocolName: String?
    var leaderId: String?
    /// Insertion order, so "first member" and leader election are deterministic.
    private(set) var memberOrder: [String] = []
    private(set) var members: [String: ClassicMember] = [:]
    /// group.instance.id -> member id.
    var staticMembers: [String: String] = [:]
    /// Members that got MEMBER_ID_REQUIRED and have not joined yet, with the deadline to do so.
    var pendingMembers: [String: Int64] = [:]
    /// Members that got this generation's JoinGroup response but have not sent SyncGroup.
    var pendingSyncMembers: Set<String> = []
    /// InitialDelayedJoin bookkeeping: a member joined during the delay; time left to extend it.
    var newMemberAdded = false
    var initialRebalanceRemainingMs: Int64?
    var offsets: [TopicPartition: OffsetCommitRecordValue] = [:]

    init(groupId: String) { self.groupId = groupId }

    var isEmpty: Bool { members.isEmpty }
    var memberList: [ClassicMember] { memberOrder.compactMap { members[$0] } }

    func transition(to newState: ClassicGroupState, now: Int64) {
        state = newState
        currentStateTimestamp = now
    }

    /// Used by replay only: restores the state without a transition check.
    func restore(state: ClassicGroupState, timestamp: Int64?) {
        self.state = state
        currentStateTimestamp = timestamp
    }

    func add(_ member: ClassicMember) {
        if members.isEmpty { protocolType = member.protocolType }
        members[member.memberId] = member
        memberOrder.append(member.memberId)
        if let instance = member.groupInstanceId { staticMembers[instance] = member.memberId }
        if leaderId == nil { leaderId = member.memberId }
        pendingMembers[member.memberId] = nil
    }

    func remove(_ memberId: String) {
        guard let member = members.removeValue(forKey: memberId) else { return }
        memberOrder.removeAll { $0 == memberId }
        if let instance = member.groupInstanceId, staticMembers[instance] == memberId { staticMembers[instance] = nil }
        pendingSyncMembers.remove(memberId)
        if leaderId == memberId { leaderId = memberOrder.first }
    }

    /// Swaps a static member's id for a new one, keeping its place (and leadership) in the group.
    func replaceStaticMember(instanceId: String, oldMemberId: String, with new: ClassicMember) {
        guard let old = members.removeValue(forKey: oldMemberId) else { return }
        new.assignment = old.assignment
        members[new.memberId] = new
        if let index = memberOrder.firstIndex(of: oldMemberId) { memberOrder[index] = new.memberId }
        staticMembers[instanceId] = new.memberId
        if leaderId == oldMemberId { leaderId = new.memberId }
        if pendingSyncMembers.remove(oldMemberId) != nil { pendingSyncMembers.insert(new.memberId) }
    }

    /// Every member supports `protocolType` and at least one of `protocols` (Kafka's supportsProtocols).
    func supports(protocolType: String, protocols: [GroupProtocol]) -> Bool {
        if members.isEmpty { return !protocolType.isEmpty && !protocols.isEmpty }
        guard protocolType == self.protocolType else { return false }
        let candidates = candidateProtocols()
        return protocols.contains { candidates.contains($0.name) }
    }

    /// Protocols every member lists.
    func candidateProtocols() -> Set<String> {
        var result: Set<String>?
        for member in memberList {
            let names = Set(member.protocols.map(\.name))
            result = result.map { $0.intersection(names) } ?? names
        }
        return result ?? []
    }

    /// Each member votes for its most preferred candidate; the most votes wins. Ties go to the protocol the
    /// first member prefers, so the outcome does not depend on hash order.
    func selectProtocol() -> String? {
        let candidates = candidateProtocols()
        var votes: [String: Int] = [:]
        for member in memberList {
            if let choice = member.protocols.first(where: { candidates.contains($0.name) }) {
                votes[choice.name, default: 0] += 1
            }
        }
        let order = memberList.first?.protocols.map(\.name).filter { candidates.contains($0) } ?? []
        var best: String?
        for name in order where best == nil || votes[name, default: 0] > votes[best!, default: 0] {
            best = name
        }
        return best
    }

    var rebalanceTimeoutMs: Int64 {
        Int64(memberList.map(\.rebalanceTimeoutMs).max() ?? 0)
    }

    var allMembersJoined: Bool {
        pendingMembers.isEmpty && members.values.allSatisfy { $0.awaitingJoin != nil }
    }

    func canRebalance() -> Bool {
        state == .stable || state == .completingRebalance || state == .empty
    }

    func currentMemberMetadata() -> [JoinGroupMember] {
        memberList.map { JoinGroupMember(memberId: $0.memberId, groupInstanceId: $0.groupInstanceId, metadata: $0.metadata(for: protocolName)) }
    }

    /// Topics the members subscribe to, decoded from their ConsumerProtocol subscriptions; nil when the group is
    /// not a "consumer" group or a subscription cannot be read.
    func subscribedTopics() -> Set<String>? {
        guard protocolType == "consumer", protocolName != nil else { return nil }
        var topics: Set<String> = []
        for member in memberList {
            guard let memberTopics = ConsumerSubscription.topics(in: member.metadata(for: protocolName)) else { return nil }
            topics.formUnion(memberTopics)
        }
        return topics
    }

    func metadataRecordValue() -> GroupMetadataRecordValue {
        GroupMetadataRecordValue(
            protocolType: protocolType ?? "", generation: generationId, protocolName: protocolName, leader: leaderId,
            currentStateTimestamp: currentStateTimestamp ?? -1,
            members: memberList.map {
                GroupMemberRecord(
                    memberId: $0.memberId, groupInstanceId: $0.groupInstanceId, clientId: $0.clientId,
                    clientHost: $0.clientHost, rebalanceTimeoutMs: $0.rebalanceTimeoutMs,
                    sessionTimeoutMs: $0.sessionTimeoutMs, subscription: $0.metadata(for: protocolName),
                    assignment: $0.assignment)
            })
    }
}

/// Reads only the topic list of a ConsumerProtocolSubscription (version int16, then an int32-counted array of
/// int16-length strings). Bounded by the input: a forged count cannot allocate more than the bytes present.
enum ConsumerSubscription {
    static func topics(in bytes: [UInt8]) -> [String]? {
        var index = 0
        func readInt(_ width: Int) -> Int? {
            guard index + width <= bytes.count else { return nil }
            var value = 0
            for _ in 0..<width {
                value = value << 8 | Int(bytes[index])
                index += 1
            }
            return value
        }
        guard readInt(2) != nil, let rawCount = readInt(4) else { return nil }
        let count = Int(Int32(truncatingIfNeeded: rawCount))
        guard count >= 0, count <= bytes.count else { return nil }
        var topics: [String] = []
        for _ in 0..<count {
            guard let length = readInt(2), length <= 0x7fff, index + length <= bytes.count else { return nil }
            topics.append(String(decoding: bytes[index..<index + length], as: UTF8.self))
            index += length
        }
        return topics
    }
}
