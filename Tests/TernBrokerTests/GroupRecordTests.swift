import Foundation
import KafkaProtocol
import Logging
import NIOCore
import Testing
import TernCoordinator

@testable import TernBroker

@Suite struct OffsetsRecordCodecTests {
    /// Kafka's layout, spelled out: int16 key version 1, then group, topic (int16-length strings), partition.
    @Test func offsetCommitKeyBytesAreKafkas() throws {
        let record = CoordinatorRecord.offsetCommit(key: OffsetCommitRecordKey(groupId: "g", topic: "t", partition: 3), value: nil)
        let (key, value) = try OffsetsRecordCodec.encode(record)
        #expect(Array(key.readableBytesView) == [0, 1, 0, 1, 0x67, 0, 1, 0x74, 0, 0, 0, 3])
        #expect(value == nil)
        #expect(try OffsetsRecordCodec.decode(key: key, value: nil) == record)
    }

    /// OffsetCommitValue v3: offset, leader epoch, metadata, commit timestamp.
    @Test func offsetCommitValueBytesAreKafkas() throws {
        let value = OffsetCommitRecordValue(offset: 42, leaderEpoch: 5, metadata: "m", commitTimestamp: 1000, expireTimestamp: nil)
        let record = CoordinatorRecord.offsetCommit(key: OffsetCommitRecordKey(groupId: "g", topic: "t", partition: 0), value: value)
        let (key, bytes) = try OffsetsRecordCodec.encode(record)
        let expected: [UInt8] = [0, 3] + [0, 0, 0, 0, 0, 0, 0, 42] + [0, 0, 0, 5] + [0, 1, 0x6d] + [0, 0, 0, 0, 0, 0, 0x03, 0xe8]
        #expect(Array(try #require(bytes).readableBytesView) == expected)
        #expect(try OffsetsRecordCodec.decode(key: key, value: bytes) == record)
    }

    /// With an explicit retention (OffsetCommit v2-v4) Kafka writes value version 1: offset, metadata, commit and
    /// expire timestamps, no leader epoch.
    @Test func expiringCommitUsesValueVersion1() throws {
        let value = OffsetCommitRecordValue(offset: 7, leaderEpoch: -1, metadata: "", commitTimestamp: 10, expireTimestamp: 20)
        let record = CoordinatorRecord.offsetCommit(key: OffsetCommitRecordKey(groupId: "g", topic: "t", partition: 0), value: value)
        let (key, bytes) = try OffsetsRecordCodec.encode(record)
        let expected: [UInt8] = [0, 1] + [0, 0, 0, 0, 0, 0, 0, 7] + [0, 0] + [0, 0, 0, 0, 0, 0, 0, 10] + [0, 0, 0, 0, 0, 0, 0, 20]
        #expect(Array(try #require(bytes).readableBytesView) == expected)
        #expect(try OffsetsRecordCodec.decode(key: key, value: bytes) == record)
    }

    @Test func groupMetadataRoundTripsAtVersion3() throws {
        let member = GroupMemberRecord(
            memberId: "m-1", groupInstanceId: "i-1", clientId: "c", clientHost: "/127.0.0.1", rebalanceTimeoutMs: 300_000,
            sessionTimeoutMs: 10_000, subscription: [0, 1, 2], assignment: [3, 4])
        let value = GroupMetadataRecordValue(
            protocolType: "consumer", generation: 4, protocolName: "range", leader: "m-1", currentStateTimestamp: 99,
            members: [member])
        let record = CoordinatorRecord.groupMetadata(groupId: "group", value: value)
        let (key, bytes) = try OffsetsRecordCodec.encode(record)
        #expect(Array(key.readableBytesView) == [0, 2, 0, 5] + Array("group".utf8))
        var v = try #require(bytes)
        #expect(v.readInteger(as: Int16.self) == 3)
        let decoded = try GroupMetadataValue(from: &v, version: 3)
        #expect(decoded.members.first?.groupInstanceId == "i-1" && v.readableBytes == 0)
        #expect(try OffsetsRecordCodec.decode(key: key, value: bytes) == record)
        #expect(try OffsetsRecordCodec.decode(key: key, value: nil) == .groupMetadata(groupId: "group", value: nil))
    }

    /// Partition metadata (4, recomputed by Tern) and share-group records (9+) are not replayed.
    @Test func otherCoordinatorsRecordsAreSkippedAndGarbageRejected() throws {
        for version: Int16 in [4, 10] {
            var key = ByteBuffer()
            key.writeInteger(version)
            key.writeBytes([0, 1, 0x67])
            #expect(try OffsetsRecordCodec.decode(key: key, value: nil) == nil)
        }
        #expect(throws: (any Error).self) { try OffsetsRecordCodec.decode(key: ByteBuffer(bytes: [0]), value: nil) }
        var badValue = ByteBuffer()
        badValue.writeInteger(Int16(9))
        let (goodKey, _) = try OffsetsRecordCodec.encode(.groupMetadata(groupId: "g", value: nil))
        #expect(throws: (any Error).self) { try OffsetsRecordCodec.decode(key: goodKey, value: badValue) }
    }
}

@Suite struct ConsumerOffsetsLogTests {
    /// What the group APIs leave in `__consumer_offsets`: one uncompressed v2 batch per append, keyed records with
    /// Kafka's versions, in the partition the group hashes to.
    @Test func theLogHoldsKafkaRecordsInTheGroupsPartition() async throws {
        let f = try await GroupFixture()
        try f.createTopic("t")
        let group = "records-group"
        _ = try await f.send(GroupRequests.commit(group, [("t", 0, 11)]), 8)
        let joined = try await f.send(GroupRequests.join("members"), 3)
        _ = try await f.send(GroupRequests.sync("members", generation: 1, memberId: joined.memberId,
                                                assignments: [joined.memberId: [1]]), 3)
        let partition = GroupPartitioner.partition(for: group, numPartitions: 4)
        let log = try #require(f.broker.replicaManager.partition(topic: "__consumer_offsets", index: partition)?.log)
        let data = try log.read(from: 0, maxBytes: 1 << 20)
        let batches = try RecordBatch.readAll(data.records)
        #expect(batches.count == 1)
        #expect(batches[0].header.attributes.compressionCodec == 0)
        #expect(batches[0].header.producerId == -1)
        var key = try #require(batches[0].records[0].key)
        #expect(key.readInteger(as: Int16.self) == 1)
        var value = try #require(batches[0].records[0].value)
        #expect(value.readInteger(as: Int16.self) == 3)
        let records = try ConsumerOffsetsLog.readRecords(of: log, logger: Logger(label: "test"))
        guard case .offsetCommit(let k, let v)? = records.first else {
            Issue.record("expected an offset commit record, got \(records)")
            return
        }
        #expect(k == OffsetCommitRecordKey(groupId: group, topic: "t", partition: 0))
        #expect(v?.offset == 11 && v?.metadata == "m11")

        let membersPartition = GroupPartitioner.partition(for: "members", numPartitions: 4)
        let membersLog = try #require(f.broker.replicaManager.partition(topic: "__consumer_offsets", index: membersPartition)?.log)
        let groupRecords = try ConsumerOffsetsLog.readRecords(of: membersLog, logger: Logger(label: "test")).filter { $0.groupId == "members" }
        guard case .groupMetadata(_, let last)? = groupRecords.last else {
            Issue.record("expected group metadata for 'members'")
            return
        }
        #expect(last?.generation == 1 && last?.protocolName == "range")
        #expect(last?.members.map(\.assignment) == [[1]])
    }
}
