import KafkaProtocol
import NIOCore
import TernCoordinator

/// The bytes of the group coordinator's records in `__consumer_offsets`, exactly as Apache Kafka writes them, so
/// Kafka's own tools (`kafka-console-consumer --formatter ...OffsetsMessageFormatter`, `kafka-dump-log
/// --offsets-decoder`) read Tern's log and Tern reads Kafka's.
///
/// Record key: int16 version, then the key struct of that version. Version 0 and 1 are `OffsetCommitKey` (Kafka
/// writes 1), version 2 is `GroupMetadataKey`; 3 and above belong to the KIP-848 consumer-group records, which the
/// classic coordinator does not replay (`decode` answers nil for them).
/// Record value: int16 version, then the value struct. `OffsetCommitValue` is written at version 3, or 1 when the
/// commit carries an explicit expire timestamp (OffsetCommit v2-v4 retention), as Kafka does; `GroupMetadataValue`
/// at version 3 (static membership, the version Kafka writes since 2.3). A null value is a tombstone.
/// KIP-848 consumer-group records (key versions 3 and 5-8, value version 0) are in
/// `OffsetsRecordCodec+ConsumerGroup.swift`; they name topics by id, hence the `TopicIdResolver`.
enum OffsetsRecordCodec {
    static let offsetCommitKeyVersion: Int16 = 1
    static let groupMetadataKeyVersion: Int16 = 2
    static let offsetCommitValueVersion: Int16 = 3
    static let offsetCommitValueVersionWithExpiry: Int16 = 1
    static let groupMetadataValueVersion: Int16 = 3

    struct DecodeError: Error, CustomStringConvertible {
        var description: String
    }

    // MARK: Encoding

    static func encode(
        _ record: CoordinatorRecord, topicIds: TopicIdResolver = .none, allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) throws -> (key: ByteBuffer, value: ByteBuffer?) {
        switch record {
        case .offsetCommit(let key, let value):
            var k = OffsetCommitKey()
            k.group = key.groupId
            k.topic = key.topic
            k.partition = key.partition
            let keyBytes = try versioned(k, offsetCommitKeyVersion, allocator)
            guard let value else { return (keyBytes, nil) }
            var v = OffsetCommitValue()
            v.offset = value.offset
            v.leaderEpoch = value.leaderEpoch
            v.metadata = value.metadata
            v.commitTimestamp = value.commitTimestamp
            v.expireTimestamp = value.expireTimestamp ?? -1
            let version = value.expireTimestamp == nil ? offsetCommitValueVersion : offsetCommitValueVersionWithExpiry
            return (keyBytes, try versioned(v, version, allocator))
        case .groupMetadata(let groupId, let value):
            var k = GroupMetadataKey()
            k.group = groupId
            let keyBytes = try versioned(k, groupMetadataKeyVersion, allocator)
            guard let value else { return (keyBytes, nil) }
            var v = GroupMetadataValue()
            v.protocolType = value.protocolType
            v.generation = value.generation
            v.protocol = value.protocolName
            v.leader = value.leader
            v.currentStateTimestamp = value.currentStateTimestamp
            v.members = value.members.map { m in
                var member = GroupMetadataValue.MemberMetadata()
                member.memberId = m.memberId
                member.groupInstanceId = m.groupInstanceId
                member.clientId = m.clientId
                member.clientHost = m.clientHost
                member.rebalanceTimeout = m.rebalanceTimeoutMs
                member.sessionTimeout = m.sessionTimeoutMs
                member.subscription = allocator.buffer(bytes: m.subscription)
                member.assignment = allocator.buffer(bytes: m.assignment)
                return member
            }
            return (keyBytes, try versioned(v, groupMetadataValueVersion, allocator))
        case .consumerGroupMetadata, .consumerGroupMemberMetadata, .consumerGroupTargetAssignmentMetadata,
             .consumerGroupTargetAssignmentMember, .consumerGroupCurrentMemberAssignment:
            return try encodeConsumerGroup(record, topicIds: topicIds, allocator: allocator)
        }
    }

    static func versioned(_ message: some KafkaMessage, _ version: Int16, _ allocator: ByteBufferAllocator) throws
        -> ByteBuffer
    {
        var buffer = allocator.buffer(capacity: 64)
        buffer.writeInteger(version)
        try message.write(to: &buffer, version: version)
        return buffer
    }

    // MARK: Decoding

    /// The record for `key`/`value`, or nil for a record type the classic group coordinator does not own
    /// (KIP-848 consumer groups, share groups). Throws on bytes that do not parse.
    static func decode(key: ByteBuffer, value: ByteBuffer?, topicIds: TopicIdResolver = .none) throws -> CoordinatorRecord? {
        var key = key
        guard let keyVersion = key.readInteger(as: Int16.self) else { throw DecodeError(description: "record key shorter than its version") }
        switch keyVersion {
        case 0, 1:
            let k = try OffsetCommitKey(from: &key, version: keyVersion)
            let recordKey = OffsetCommitRecordKey(groupId: k.group, topic: k.topic, partition: k.partition)
            guard var value else { return .offsetCommit(key: recordKey, value: nil) }
            let valueVersion = try readValueVersion(&value, max: OffsetCommitValue.highestSupportedVersion, "OffsetCommitValue")
            let v = try OffsetCommitValue(from: &value, version: valueVersion)
            return .offsetCommit(
                key: recordKey,
                value: OffsetCommitRecordValue(
                    offset: v.offset, leaderEpoch: v.leaderEpoch, metadata: v.metadata,
                    commitTimestamp: v.commitTimestamp, expireTimestamp: v.expireTimestamp >= 0 ? v.expireTimestamp : nil))
        case 2:
            let k = try GroupMetadataKey(from: &key, version: keyVersion)
            guard var value else { return .groupMetadata(groupId: k.group, value: nil) }
            let valueVersion = try readValueVersion(&value, max: GroupMetadataValue.highestSupportedVersion, "GroupMetadataValue")
            let v = try GroupMetadataValue(from: &value, version: valueVersion)
            let members = v.members.map { m in
                GroupMemberRecord(
                    memberId: m.memberId, groupInstanceId: m.groupInstanceId, clientId: m.clientId,
                    clientHost: m.clientHost,
                    // v0 has no rebalance timeout: Kafka reads it as the session timeout.
                    rebalanceTimeoutMs: valueVersion == 0 ? m.sessionTimeout : m.rebalanceTimeout,
                    sessionTimeoutMs: m.sessionTimeout,
                    subscription: Array(m.subscription.readableBytesView), assignment: Array(m.assignment.readableBytesView))
            }
            return .groupMetadata(
                groupId: k.group,
                value: GroupMetadataRecordValue(
                    protocolType: v.protocolType, generation: v.generation, protocolName: v.protocol,
                    leader: v.leader, currentStateTimestamp: v.currentStateTimestamp, members: members))
        case 3, 5, 6, 7, 8:
            return try decodeConsumerGroup(keyVersion: keyVersion, key: &key, value: value, topicIds: topicIds)
        default:
            // 4 is ConsumerGroupPartitionMetadata (subscription metadata Tern recomputes); 9+ share groups.
            return nil
        }
    }

    static func readValueVersion(_ value: inout ByteBuffer, max: Int16, _ name: String) throws -> Int16 {
        guard let version = value.readInteger(as: Int16.self) else {
            throw DecodeError(description: "\(name) shorter than its version")
        }
        guard version >= 0 && version <= max else { throw DecodeError(description: "\(name) version \(version) is unknown") }
        return version
    }
}
