import Foundation
import KafkaProtocol
import Logging
import NIOCore
import Testing
import TernCoordinator

@testable import TernBroker

/// KIP-848 (`group.protocol=consumer`) through the dispatcher, and its records in `__consumer_offsets`.
@Suite struct GroupConsumerProtocolTests {
    func heartbeat(_ group: String, member: String, epoch: Int32, topics: [String]? = nil,
                   owned: [ConsumerGroupHeartbeatRequest.TopicPartitions]? = nil) -> ConsumerGroupHeartbeatRequest {
        var r = ConsumerGroupHeartbeatRequest()
        r.groupId = group
        r.memberId = member
        r.memberEpoch = epoch
        r.rebalanceTimeoutMs = epoch == 0 ? 30_000 : -1
        r.subscribedTopicNames = topics
        r.topicPartitions = owned
        return r
    }

    @Test(arguments: [Int16(0), 1])
    func joinGetsTopicIdsAndSurvivesRestart(_ version: Int16) async throws {
        let f = try await GroupFixture()
        let topic = try f.createTopic("t848", partitions: 4)
        let joined = try await f.send(heartbeat("cg", member: "member-a", epoch: 0, topics: ["t848"], owned: []), version)
        #expect(joined.errorCode == 0)
        #expect(joined.memberId == "member-a")
        #expect(joined.memberEpoch >= 1)
        #expect(joined.heartbeatIntervalMs > 0)
        let assigned = try #require(joined.assignment)
        #expect(assigned.topicPartitions.map(\.topicId) == [topic.id])
        #expect(assigned.topicPartitions[0].partitions == [0, 1, 2, 3])

        var describe = ConsumerGroupDescribeRequest()
        describe.groupIds = ["cg", "nope"]
        let described = try await f.send(describe, 0)
        #expect(described.groups[0].errorCode == 0)
        #expect(described.groups[0].members.map(\.memberId) == ["member-a"])
        #expect(described.groups[0].members[0].targetAssignment.topicPartitions.map(\.topicName) == ["t848"])
        #expect(described.groups[1].errorCode == CoordinatorErrorCode.groupIdNotFound)

        try await f.restart()
        let again = try await f.send(describe, 0)
        #expect(again.groups[0].members.map(\.memberId) == ["member-a"])
        #expect(again.groups[0].groupEpoch == described.groups[0].groupEpoch)
        #expect(again.groups[0].members[0].targetAssignment.topicPartitions.first?.partitions == [0, 1, 2, 3])
    }

    @Test func invalidRequests() async throws {
        let f = try await GroupFixture()
        #expect(try await f.send(heartbeat("", member: "m", epoch: 0, topics: []), 1).errorCode == CoordinatorErrorCode.invalidRequest)
        #expect(try await f.send(heartbeat("g", member: "", epoch: 0, topics: []), 1).errorCode == CoordinatorErrorCode.invalidRequest)
        var regex = heartbeat("g", member: "m", epoch: 0, topics: [])
        regex.subscribedTopicRegex = "t.*"
        #expect(try await f.send(regex, 1).errorCode == CoordinatorErrorCode.invalidRequest)
    }

    @Test func consumerGroupRecordsUseKafkasKeyVersions() throws {
        let id = KafkaUUID.random()
        let ids = TopicIdResolver(id: { $0 == "t" ? id : nil }, name: { $0 == id ? "t" : nil })
        let records: [(CoordinatorRecord, Int16)] = [
            (.consumerGroupMetadata(groupId: "g", epoch: 3), 3),
            (.consumerGroupMemberMetadata(groupId: "g", memberId: "m", value: ConsumerMemberRecordValue(
                instanceId: nil, rackId: nil, clientId: "c", clientHost: "/h", subscribedTopicNames: ["t"],
                serverAssignor: "uniform", rebalanceTimeoutMs: 100)), 5),
            (.consumerGroupTargetAssignmentMetadata(groupId: "g", assignmentEpoch: 3), 6),
            (.consumerGroupTargetAssignmentMember(groupId: "g", memberId: "m", partitions: ["t": [0, 1]]), 7),
            (.consumerGroupCurrentMemberAssignment(groupId: "g", memberId: "m", value: ConsumerCurrentAssignmentRecordValue(
                memberEpoch: 3, previousMemberEpoch: 2, state: "unrevoked_partitions", assignedPartitions: ["t": [1]],
                partitionsPendingRevocation: ["t": [0]])), 8),
            (.consumerGroupMetadata(groupId: "g", epoch: nil), 3),
        ]
        for (record, keyVersion) in records {
            let (key, value) = try OffsetsRecordCodec.encode(record, topicIds: ids)
            #expect(key.getInteger(at: key.readerIndex, as: Int16.self) == keyVersion)
            if let value { #expect(value.getInteger(at: value.readerIndex, as: Int16.self) == 0) }
            #expect(try OffsetsRecordCodec.decode(key: key, value: value, topicIds: ids) == record)
        }
    }
}
