/// The classic group coordinator as a pure state machine, after Kafka's `GroupCoordinator` /
/// `GroupMetadataManager` for classic groups.
///
/// Contract: every public method takes the request and the current time in milliseconds and returns the
/// response (nil when the request is parked: JoinGroup and SyncGroup wait for the rest of the group) plus the
/// actions the driver must perform in order: append records to `__consumer_offsets`, arm or cancel timers, and
/// answer parked requests. Nothing here does I/O or reads a clock, so tests and a simulator drive it directly.
///
/// Offset commits are answered to OffsetFetch only once their records are durable and undone when the write
/// fails (the driver reports each append with `appendCompleted`; GroupCoordinator+PendingOffsets.swift).
/// Differences from Kafka: other in-memory state changes (membership) are applied before the records are
/// durable; when such an append fails the driver answers with an error but does not roll the state back (Kafka
/// reverts to a snapshot).
/// Transactional offset commits (TxnOffsetCommit) wait in `pendingTransactionalOffsets` until the transaction's
/// marker completes them (see GroupCoordinator+TxnOffsets.swift).
public final class GroupCoordinator {
    public let config: GroupCoordinatorConfig
    var groups: [String: ClassicGroup] = [:]
    /// KIP-848 groups; a group id is either classic or consumer, never both.
    var consumerGroups: [String: ConsumerGroup] = [:]
    /// Partition count of an existing topic, nil when it does not exist (KIP-848 assignors need it).
    let partitionCount: (String) -> Int32?
    /// Partitions of `__consumer_offsets` this coordinator serves; nil means all of them.
    var ownedPartitions: Set<Int32>?
    var loadingPartitions: Set<Int32> = []
    /// producer id -> group id -> offsets committed in the producer's open transaction.
    var pendingTransactionalOffsets: [Int64: [String: [TopicPartition: OffsetCommitRecordValue]]] = [:]
    /// group id -> partitions whose OffsetCommit records are still being written (GroupCoordinator+PendingOffsets).
    var pendingOffsetWrites: [String: [TopicPartition: PendingOffsetWrite]] = [:]
    private var pendingActions: [CoordinatorAction] = []
    private let makeUUID: () -> String

    /// - Parameters:
    ///   - ownedPartitions: nil to serve every group (single broker); otherwise only groups hashing to these.
    ///   - makeUUID: member id suffix; inject a deterministic one in tests.
    public init(
        config: GroupCoordinatorConfig = GroupCoordinatorConfig(),
        ownedPartitions: Set<Int32>? = nil,
        makeUUID: @escaping () -> String = GroupCoordinator.randomUUID,
        partitionCount: @escaping (String) -> Int32? = { _ in nil }
    ) {
        self.config = config
        self.partitionCount = partitionCount
        self.ownedPartitions = ownedPartitions
        self.makeUUID = makeUUID
    }

    public func partition(for groupId: String) -> Int32 {
        GroupPartitioner.partition(for: groupId, numPartitions: config.offsetsTopicNumPartitions)
    }

    /// NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS when this coordinator cannot serve `groupId` now.
    func coordinatorError(for groupId: String) -> Int16? {
        let p = partition(for: groupId)
        if loadingPartitions.contains(p) { return CoordinatorErrorCode.coordinatorLoadInProgress }
        if let owned = ownedPartitions, !owned.contains(p) { return CoordinatorErrorCode.notCoordinator }
        return nil
    }

    func newMemberId(prefix: String) -> String { prefix + "-" + makeUUID() }
    func newUUID() -> String { makeUUID() }

    // MARK: - Action buffer

    func drainActions() -> [CoordinatorAction] {
        defer { pendingActions.removeAll(keepingCapacity: true) }
        return pendingActions
    }

    func emit(_ action: CoordinatorAction) { pendingActions.append(action) }

    func append(groupId: String, _ records: [CoordinatorRecord]) {
        guard !records.isEmpty else { return }
        emit(.append(partition: partition(for: groupId), records: records))
    }

    func schedule(_ key: CoordinatorTimerKey, at deadlineMs: Int64) {
        emit(.scheduleTimer(key, deadlineMs: deadlineMs))
    }

    func cancel(_ key: CoordinatorTimerKey) { emit(.cancelTimer(key)) }

    /// Persists the group's membership and assignment (Kafka's storeGroup).
    func storeGroup(_ group: ClassicGroup) {
        append(groupId: group.groupId, [.groupMetadata(groupId: group.groupId, value: group.metadataRecordValue())])
    }

    func scheduleSession(_ member: ClassicMember, in group: ClassicGroup, now: Int64) {
        member.sessionDeadlineMs = now + Int64(member.sessionTimeoutMs)
        schedule(.memberSession(groupId: group.groupId, memberId: member.memberId), at: member.sessionDeadlineMs)
    }

    /// FENCED_INSTANCE_ID when another member holds the instance id, UNKNOWN_MEMBER_ID when the member is gone.
    func validateMember(_ group: ClassicGroup, memberId: String, groupInstanceId: String?) -> Int16? {
        if let instance = groupInstanceId, let holder = group.staticMembers[instance], holder != memberId {
            return CoordinatorErrorCode.fencedInstanceId
        }
        if group.members[memberId] == nil { return CoordinatorErrorCode.unknownMemberId }
        return nil
    }

    // MARK: - Introspection for tests and tools

    public var groupIds: [String] { groups.keys.sorted() }
    public var consumerGroupIds: [String] { consumerGroups.keys.sorted() }

    public func state(of groupId: String) -> ClassicGroupState? { groups[groupId]?.state }

    /// The durable part of a group's state: what replaying its records must rebuild.
    public func snapshot(of groupId: String) -> GroupSnapshot? {
        guard let group = groups[groupId] else { return nil }
        let value = group.metadataRecordValue()
        return GroupSnapshot(
            groupId: groupId, state: group.state, generationId: group.generationId,
            protocolType: group.protocolType, protocolName: group.protocolName, leaderId: group.leaderId,
            members: value.members, offsets: group.offsets)
    }

    /// The durable part of a consumer group's state: what replaying its records must rebuild.
    public func consumerSnapshot(of groupId: String) -> ConsumerGroupSnapshot? {
        guard let group = consumerGroups[groupId] else { return nil }
        return ConsumerGroupSnapshot(
            groupId: groupId, state: group.state, groupEpoch: group.groupEpoch, assignmentEpoch: group.assignmentEpoch,
            members: group.members.mapValues { $0.metadataRecordValue },
            assignments: group.members.mapValues { $0.assignmentRecordValue },
            targetAssignment: group.targetAssignment.mapValues { $0.sortedLists }.filter { !$0.value.isEmpty },
            offsets: group.offsets)
    }

    /// A random version 4 UUID in Java's `UUID.toString()` form.
    public static func randomUUID() -> String {
        var rng = SystemRandomNumberGenerator()
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) }
        bytes[6] = bytes[6] & 0x0f | 0x40
        bytes[8] = bytes[8] & 0x3f | 0x80
        let hex = bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }
        return [0..<4, 4..<6, 6..<8, 8..<10, 10..<16].map { hex[$0].joined() }.joined(separator: "-")
    }
}

public struct GroupSnapshot: Sendable, Equatable {
    public var groupId: String
    public var state: ClassicGroupState
    public var generationId: Int32
    public var protocolType: String?
    public var protocolName: String?
    public var leaderId: String?
    public var members: [GroupMemberRecord]
    public var offsets: [TopicPartition: OffsetCommitRecordValue]
}

public struct ConsumerGroupSnapshot: Sendable, Equatable {
    public var groupId: String
    public var state: ConsumerGroupState
    public var groupEpoch: Int32
    public var assignmentEpoch: Int32
    public var members: [String: ConsumerMemberRecordValue]
    public var assignments: [String: ConsumerCurrentAssignmentRecordValue]
    public var targetAssignment: [String: [String: [Int32]]]
    public var offsets: [TopicPartition: OffsetCommitRecordValue]
}
