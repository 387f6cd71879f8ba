/// What the group state machine asks its driver to do. The machine has no I/O and no clock of its own:
/// the driver (``GroupCoordinatorService`` or a test) performs these in order.
public enum CoordinatorAction: Sendable, Equatable {
    /// Write `records` to `__consumer_offsets` partition `partition` before answering anything that follows.
    case append(partition: Int32, records: [CoordinatorRecord])
    /// Call ``GroupCoordinator/timerExpired(_:now:)`` with this key at `deadlineMs`; replaces an earlier deadline.
    case scheduleTimer(CoordinatorTimerKey, deadlineMs: Int64)
    case cancelTimer(CoordinatorTimerKey)
    /// Answer a parked JoinGroup request.
    case completeJoin(requestId: UInt64, JoinGroupResult)
    /// Answer a parked SyncGroup request.
    case completeSync(requestId: UInt64, SyncGroupResult)
}

public enum CoordinatorTimerKey: Sendable, Hashable {
    /// A member's session (or, for a new member still in its first join, the new-member join timeout).
    case memberSession(groupId: String, memberId: String)
    /// The end of a PreparingRebalance phase (Kafka's DelayedJoin / InitialDelayedJoin).
    case rebalance(groupId: String)
    /// Members that got a JoinGroup response must send SyncGroup within the rebalance timeout.
    case pendingSync(groupId: String)
    /// KIP-848: a consumer group member's session.
    case consumerSession(groupId: String, memberId: String)
    /// KIP-848: a member must revoke partitions within its rebalance timeout.
    case consumerRebalance(groupId: String, memberId: String)
    /// Periodic offsets retention check (`offsets.retention.check.interval.ms`).
    case offsetsRetention
}

/// Broker settings the coordinator reads; names and defaults are Kafka's.
public struct GroupCoordinatorConfig: Sendable {
    /// `offsets.topic.num.partitions`, default 50.
    public var offsetsTopicNumPartitions: Int32 = 50
    /// `group.min.session.timeout.ms`, default 6000.
    public var groupMinSessionTimeoutMs: Int32 = 6000
    /// `group.max.session.timeout.ms`, default 1800000.
    public var groupMaxSessionTimeoutMs: Int32 = 1_800_000
    /// `group.initial.rebalance.delay.ms`, default 3000.
    public var groupInitialRebalanceDelayMs: Int32 = 3000
    /// `group.max.size`, default Int32.max.
    public var groupMaxSize: Int = Int(Int32.max)
    /// How long a new member's first JoinGroup may stay parked (Kafka's fixed 5 minutes).
    public var newMemberJoinTimeoutMs: Int64 = 300_000
    /// `offset.metadata.max.bytes`, default 4096.
    public var offsetMetadataMaxBytes: Int = 4096
    /// `offsets.retention.minutes`, default 10080 (7 days), here in milliseconds.
    public var offsetsRetentionMs: Int64 = 10080 * 60_000
    /// `offsets.retention.check.interval.ms`, default 600000.
    public var offsetsRetentionCheckIntervalMs: Int64 = 600_000
    /// `group.consumer.session.timeout.ms`, default 45000.
    public var consumerGroupSessionTimeoutMs: Int32 = 45_000
    /// `group.consumer.heartbeat.interval.ms`, default 5000.
    public var consumerGroupHeartbeatIntervalMs: Int32 = 5_000
    /// `group.consumer.assignors`, default uniform then range; the first is used unless members ask otherwise.
    public var consumerGroupAssignors: [ConsumerGroupAssignor] = [.uniform, .range]
    /// `group.consumer.max.size`, default Int32.max.
    public var consumerGroupMaxSize: Int = Int(Int32.max)

    public init() {}
}
