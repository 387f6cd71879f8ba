import KafkaProtocol
import NIOCore
import TernCoordinator

/// Maps topic names to the ids KIP-848 records carry, and back. A topic deleted since (unknown id) is dropped from
/// the assignment on replay, as Kafka drops it from its metadata image.
struct TopicIdResolver: Sendable {
    var id: @Sendable (String) -> KafkaUUID?
    var name: @Sendable (KafkaUUID) -> String?

    static let none = TopicIdResolver(id: { _ in nil }, name: { _ in nil })
}

/// Kafka's encoding of the KIP-848 consumer-group records: key version (the record type) 3 ConsumerGroupMetadata,
/// 5 ConsumerGroupMemberMetadata, 6 ConsumerGroupTargetAssignmentMetadata, 7 ConsumerGroupTargetAssignmentMember,
/// 8 ConsumerGroupCurrentMemberAssignment; each key struct at that version and each value at version 0 (flexible).
/// The member state byte is Kafka's `MemberState` id: stable 0, unreleased_partitions 1, unrevoked_partitions 2.
extension OffsetsRecordCodec {
    static let consumerGroupValueVersion: Int16 = 0
    private static let memberStates: [(name: String, id: Int8)] = [
        ("stable", 0), ("unreleased_partitions", 1), ("unrevoked_partitions", 2),
    ]

    static func encodeConsumerGroup(_ record: CoordinatorRecord, topicIds: TopicIdResolver, allocator: ByteBufferAllocator) throws
        -> (key: ByteBuffer, value: ByteBuffer?)
    {
        func value(_ message: (some KafkaMessage)?) throws -> ByteBuffer? {
            try message.map { try versioned($0, consumerGroupValueVersion, allocator) }
        }
        switch record {
        case .consumerGroupMetadata(let groupId, let epoch):
            var k = ConsumerGroupMetadataKey()
            k.groupId = groupId
            return (try versioned(k, 3, allocator), try value(epoch.map { e -> ConsumerGroupMetadataValue in
                var v = ConsumerGroupMetadataValue()
                v.epoch = e
                return v
            }))
        case .consumerGroupMemberMetadata(let groupId, let memberId, let member):
            var k = ConsumerGroupMemberMetadataKey()
            k.groupId = groupId
            k.memberId = memberId
            return (try versioned(k, 5, allocator), try value(member.map { m -> ConsumerGroupMemberMetadataValue in
                var v = ConsumerGroupMemberMetadataValue()
                v.instanceId = m.instanceId
                v.rackId = m.rackId
                v.clientId = m.clientId
                v.clientHost = m.clientHost
                v.subscribedTopicNames = m.subscribedTopicNames
                v.subscribedTopicRegex = nil
                v.rebalanceTimeoutMs = m.rebalanceTimeoutMs
                v.serverAssignor = m.serverAssignor
                return v
            }))
        case .consumerGroupTargetAssignmentMetadata(let groupId, let epoch):
            var k = ConsumerGroupTargetAssignmentMetadataKey()
            k.groupId = groupId
            return (try versioned(k, 6, allocator), try value(epoch.map { e -> ConsumerGroupTargetAssignmentMetadataValue in
                var v = ConsumerGroupTargetAssignmentMetadataValue()
                v.assignmentEpoch = e
                return v
            }))
        case .consumerGroupTargetAssignmentMember(let groupId, let memberId, let partitions):
            var k = ConsumerGroupTargetAssignmentMemberKey()
            k.groupId = groupId
            k.memberId = memberId
            return (try versioned(k, 7, allocator), try value(partitions.map { p -> ConsumerGroupTargetAssignmentMemberValue in
                var v = ConsumerGroupTargetAssignmentMemberValue()
                v.topicPartitions = withIds(p, topicIds).map {
                    var tp = ConsumerGroupTargetAssignmentMemberValue.TopicPartition()
                    tp.topicId = $0.id
                    tp.partitions = $0.partitions
                    return tp
                }
                return v
            }))
        case .consumerGroupCurrentMemberAssignment(let groupId, let memberId, let current):
            var k = ConsumerGroupCurrentMemberAssignmentKey()
            k.groupId = groupId
            k.memberId = memberId
            return (try versioned(k, 8, allocator), try value(current.map { c -> ConsumerGroupCurrentMemberAssignmentValue in
                var v = ConsumerGroupCurrentMemberAssignmentValue()
                v.memberEpoch = c.memberEpoch
                v.previousMemberEpoch = c.previousMemberEpoch
                v.state = memberStates.first { $0.name == c.state }?.id ?? 0
                func list(_ p: [String: [Int32]]) -> [ConsumerGroupCurrentMemberAssignmentValue.TopicPartitions] {
                    withIds(p, topicIds).map {
                        var tp = ConsumerGroupCurrentMemberAssignmentValue.TopicPartitions()
                        tp.topicId = $0.id
                        tp.partitions = $0.partitions
                        return tp
                    }
                }
                v.assignedPartitions = list(c.assignedPartitions)
                v.partitionsPendingRevocation = list(c.partitionsPendingRevocation)
                return v
            }))
        case .offsetCommit, .groupMetadata:
            preconditionFailure("classic records are encoded by encode(_:)")
        }
    }

    /// Topics in name order with their ids; topics without an id (deleted meanwhile) are left out.
    private static func withIds(_ partitions: [String: [Int32]], _ topicIds: TopicIdResolver) -> [(id: KafkaUUID, partitions: [Int32])] {
        partitions.keys.sorted().compactMap { name in topicIds.id(name).map { ($0, partitions[name]!.sorted()) } }
    }

    private static func names(_ list: [(KafkaUUID, [Int32])], _ topicIds: TopicIdResolver) -> [String: [Int32]] {
        var out: [String: [Int32]] = [:]
        for (id, partitions) in list {
            if let name = topicIds.name(id) { out[name, default: []].append(contentsOf: partitions) }
        }
        return out
    }

    static func decodeConsumerGroup(keyVersion: Int16, key: inout ByteBuffer, value: ByteBuffer?, topicIds: TopicIdResolver) throws
        -> CoordinatorRecord
    {
        func read<V: KafkaMessage>(_: V.Type) throws -> V? {
            guard var value else { return nil }
            let version = try readValueVersion(&value, max: V.highestSupportedVersion, "\(V.self)")
            return try V(from: &value, version: version)
        }
        switch keyVersion {
        case 3:
            let k = try ConsumerGroupMetadataKey(from: &key, version: keyVersion)
            return .consumerGroupMetadata(groupId: k.groupId, epoch: try read(ConsumerGroupMetadataValue.self)?.epoch)
        case 5:
            let k = try ConsumerGroupMemberMetadataKey(from: &key, version: keyVersion)
            let v = try read(ConsumerGroupMemberMetadataValue.self)
            return .consumerGroupMemberMetadata(groupId: k.groupId, memberId: k.memberId, value: v.map {
                ConsumerMemberRecordValue(
                    instanceId: $0.instanceId, rackId: $0.rackId, clientId: $0.clientId, clientHost: $0.clientHost,
                    subscribedTopicNames: $0.subscribedTopicNames, serverAssignor: $0.serverAssignor,
                    rebalanceTimeoutMs: $0.rebalanceTimeoutMs)
            })
        case 6:
            let k = try ConsumerGroupTargetAssignmentMetadataKey(from: &key, version: keyVersion)
            return .consumerGroupTargetAssignmentMetadata(
                groupId: k.groupId, assignmentEpoch: try read(ConsumerGroupTargetAssignmentMetadataValue.self)?.assignmentEpoch)
        case 7:
            let k = try ConsumerGroupTargetAssignmentMemberKey(from: &key, version: keyVersion)
            let v = try read(ConsumerGroupTargetAssignmentMemberValue.self)
            return .consumerGroupTargetAssignmentMember(
                groupId: k.groupId, memberId: k.memberId,
                partitions: v.map { names($0.topicPartitions.map { ($0.topicId, $0.partitions) }, topicIds) })
        default:
            let k = try ConsumerGroupCurrentMemberAssignmentKey(from: &key, version: keyVersion)
            let v = try read(ConsumerGroupCurrentMemberAssignmentValue.self)
            return .consumerGroupCurrentMemberAssignment(groupId: k.groupId, memberId: k.memberId, value: v.map { c in
                ConsumerCurrentAssignmentRecordValue(
                    memberEpoch: c.memberEpoch, previousMemberEpoch: c.previousMemberEpoch,
                    state: memberStates.first { $0.id == c.state }?.name ?? "stable",
                    assignedPartitions: names(c.assignedPartitions.map { ($0.topicId, $0.partitions) }, topicIds),
                    partitionsPendingRevocation: names(c.partitionsPendingRevocation.map { ($0.topicId, $0.partitions) }, topicIds))
            })
        }
    }
}
