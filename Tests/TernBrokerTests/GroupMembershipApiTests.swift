import Foundation
import KafkaProtocol
import NIOCore
import Testing
import TernCoordinator

@testable import TernBroker

@Suite struct FindCoordinatorApiTests {
    @Test func everyVersionFindsThisBrokerAndCreatesTheOffsetsTopic() async throws {
        let f = try await GroupFixture()
        #expect(f.broker.metadataStore.topic(named: "__consumer_offsets") == nil)
        for v in Int16(0)...3 {
            var r = FindCoordinatorRequest()
            r.key = "group-\(v)"
            r.keyType = 0
            let answer = try await f.send(r, v)
            #expect(answer.errorCode == 0, "v\(v)")
            #expect(answer.nodeId == 0)
            #expect(answer.host == "127.0.0.1" && answer.port == 9092)
            if v >= 1 { #expect(answer.errorMessage == nil) }
        }
        for v in Int16(4)...6 {
            var r = FindCoordinatorRequest()
            r.keyType = 0
            r.coordinatorKeys = ["a", "b", ""]
            let answer = try await f.send(r, v)
            #expect(answer.coordinators.map(\.key) == ["a", "b", ""], "v\(v)")
            #expect(answer.coordinators.allSatisfy { $0.errorCode == 0 && $0.errorMessage == nil && $0.port == 9092 })
        }
        let topic = try #require(f.broker.metadataStore.topic(named: "__consumer_offsets"))
        #expect(topic.isInternal)
        #expect(topic.partitionCount == 4)
        #expect(topic.configs["cleanup.policy"] == "compact")
        #expect(topic.configs["segment.bytes"] == "104857600")
        #expect(f.broker.replicaManager.partition(topic: "__consumer_offsets", index: 3)?.log.config.isCompacted == true)
    }

    @Test func transactionKeysFindThisBrokerAndUnknownKeyTypesInvalid() async throws {
        let f = try await GroupFixture()
        var txn = FindCoordinatorRequest()
        txn.key = "tx"
        txn.keyType = 1
        let old = try await f.send(txn, 3)
        #expect(old.errorCode == 0)
        #expect(old.nodeId == f.broker.brokerId && old.port > 0)
        #expect(old.errorMessage == nil)
        #expect(f.broker.metadataStore.topic(named: "__transaction_state")?.partitionCount == 50)
        txn.coordinatorKeys = ["tx"]
        #expect(try await f.send(txn, 4).coordinators[0].errorCode == 0)
        var bad = FindCoordinatorRequest()
        bad.keyType = 7
        bad.coordinatorKeys = ["x"]
        #expect(try await f.send(bad, 6).coordinators[0].errorCode == ErrorCode.invalidRequest.rawValue)
    }

    @Test func advertisedVersions() {
        let v = SupportedApis.versions
        #expect(v[.findCoordinator] == 0...6)
        #expect(v[.joinGroup] == 0...9)
        #expect(v[.syncGroup] == 0...5)
        #expect(v[.heartbeat] == 0...4)
        #expect(v[.leaveGroup] == 0...5)
        #expect(v[.offsetCommit] == 0...9)
        #expect(v[.offsetFetch] == 0...9)
        #expect(v[.describeGroups] == 0...5)
        #expect(v[.listGroups] == 0...5)
        #expect(v[.deleteGroups] == 0...2)
        #expect(v[.offsetDelete] == 0...0)
    }
}

@Suite struct GroupMembershipApiTests {
    /// Join (with MEMBER_ID_REQUIRED from v4), sync, heartbeat, describe, list and leave, at every version.
    @Test(arguments: Array(Int16(0)...9))
    func lifecycleAtJoinVersion(_ joinVersion: Int16) async throws {
        let f = try await GroupFixture()
        let group = "g-join-v\(joinVersion)"
        var joined = try await f.send(GroupRequests.join(group), joinVersion)
        if joinVersion >= 4 {
            #expect(joined.errorCode == CoordinatorErrorCode.memberIdRequired)
            #expect(joined.memberId.hasPrefix("group-tests-"))
            joined = try await f.send(GroupRequests.join(group, memberId: joined.memberId), joinVersion)
        }
        #expect(joined.errorCode == 0)
        #expect(joined.generationId == 1)
        #expect(joined.leader == joined.memberId)
        #expect(joined.members.map(\.memberId) == [joined.memberId])
        #expect(joined.protocolName == "range")
        if joinVersion >= 7 { #expect(joined.protocolType == "consumer") }
        #expect(joined.skipAssignment == false)
        let me = joined.memberId

        let syncVersion = min(joinVersion, 5)
        let synced = try await f.send(GroupRequests.sync(group, generation: 1, memberId: me, assignments: [me: [9, 8, 7]]), syncVersion)
        #expect(synced.errorCode == 0)
        #expect(Array(synced.assignment.readableBytesView) == [9, 8, 7])
        if syncVersion >= 5 { #expect(synced.protocolName == "range" && synced.protocolType == "consumer") }

        let hbVersion = min(joinVersion, 4)
        #expect(try await f.send(GroupRequests.heartbeat(group, generation: 1, memberId: me), hbVersion).errorCode == 0)
        #expect(try await f.send(GroupRequests.heartbeat(group, generation: 2, memberId: me), hbVersion).errorCode
            == CoordinatorErrorCode.illegalGeneration)
        #expect(try await f.send(GroupRequests.heartbeat(group, generation: 1, memberId: "nobody"), hbVersion).errorCode
            == CoordinatorErrorCode.unknownMemberId)

        let describeVersion = min(joinVersion, 5)
        var describe = DescribeGroupsRequest()
        describe.groups = [group, "unknown-group"]
        describe.includeAuthorizedOperations = true
        let described = try await f.send(describe, describeVersion)
        #expect(described.groups.map(\.groupState) == ["Stable", "Dead"])
        #expect(described.groups[0].protocolData == "range")
        #expect(described.groups[0].members.map(\.memberId) == [me])
        #expect(described.groups[0].members[0].clientHost == "/127.0.0.1")
        #expect(Array(described.groups[0].members[0].memberAssignment.readableBytesView) == [9, 8, 7])
        if describeVersion >= 3 { #expect(described.groups[0].authorizedOperations == Broker.groupAuthorizedOperations) }

        let listVersion = min(joinVersion, 5)
        var list = ListGroupsRequest()
        list.statesFilter = ["stable"]
        let listed = try await f.send(list, listVersion)
        #expect(listed.errorCode == 0)
        #expect(listed.groups.map(\.groupId) == [group])
        if listVersion >= 4 { #expect(listed.groups[0].groupState == "Stable") }
        if listVersion >= 5 { #expect(listed.groups[0].groupType == "classic") }

        let leaveVersion = min(joinVersion, 5)
        var leave = LeaveGroupRequest()
        leave.groupId = group
        if leaveVersion >= 3 {
            var m = LeaveGroupRequest.MemberIdentity()
            m.memberId = me
            var ghost = LeaveGroupRequest.MemberIdentity()
            ghost.memberId = "ghost"
            leave.members = [m, ghost]
        } else {
            leave.memberId = me
        }
        let left = try await f.send(leave, leaveVersion)
        #expect(left.errorCode == 0)
        if leaveVersion >= 3 {
            #expect(left.members.map(\.errorCode) == [0, CoordinatorErrorCode.unknownMemberId])
        }
        let after = try await f.send(describe, describeVersion)
        #expect(after.groups[0].groupState == "Empty")
    }

    @Test func twoMembersRebalanceWithoutBlockingTheEventLoop() async throws {
        let f = try await GroupFixture()
        let group = "g-two"
        let first = try await f.send(GroupRequests.join(group, memberId: ""), 3)
        #expect(first.errorCode == 0 && first.generationId == 1)
        _ = try await f.send(GroupRequests.sync(group, generation: 1, memberId: first.memberId, assignments: [first.memberId: [1]]), 3)
        // The second member's JoinGroup parks until the first rejoins; meanwhile the event loop answers others.
        async let second = f.send(GroupRequests.join(group), 3, connection: 2)
        try await Task.sleep(for: .milliseconds(100))
        var meta = MetadataRequest()
        meta.topics = []
        _ = try await f.send(meta, 9)
        #expect(try await f.send(GroupRequests.heartbeat(group, generation: 1, memberId: first.memberId), 3).errorCode
            == CoordinatorErrorCode.rebalanceInProgress)
        let rejoin = try await f.send(GroupRequests.join(group, memberId: first.memberId), 3)
        let joined = try await second
        #expect(rejoin.errorCode == 0 && joined.errorCode == 0)
        #expect(rejoin.generationId == 2 && joined.generationId == 2)
        #expect(rejoin.members.count == 2 && joined.members.isEmpty)
        // The follower's SyncGroup waits for the leader's.
        async let followerSync = f.send(GroupRequests.sync(group, generation: 2, memberId: joined.memberId), 3, connection: 2)
        try await Task.sleep(for: .milliseconds(50))
        let leaderSync = try await f.send(GroupRequests.sync(
            group, generation: 2, memberId: first.memberId, assignments: [first.memberId: [1], joined.memberId: [2]]), 3)
        #expect(leaderSync.errorCode == 0 && Array(leaderSync.assignment.readableBytesView) == [1])
        let follower = try await followerSync
        #expect(follower.errorCode == 0 && Array(follower.assignment.readableBytesView) == [2])
    }

    @Test func emptyGroupIdIsInvalid() async throws {
        let f = try await GroupFixture()
        #expect(try await f.send(GroupRequests.join("", memberId: ""), 5).errorCode == CoordinatorErrorCode.invalidGroupId)
        var delete = DeleteGroupsRequest()
        delete.groupsNames = [""]
        #expect(try await f.send(delete, 2).results.map(\.errorCode) == [CoordinatorErrorCode.invalidGroupId])
    }

    @Test func deleteGroupsAtEveryVersion() async throws {
        let f = try await GroupFixture()
        try f.createTopic("t")
        for v in Int16(0)...2 {
            let group = "g-del-\(v)"
            #expect(try await f.send(GroupRequests.commit(group, [("t", 0, 5)]), 2).topics[0].partitions[0].errorCode == 0)
            let joined = try await f.send(GroupRequests.join("busy-\(v)"), 3)
            #expect(joined.errorCode == 0)
            var delete = DeleteGroupsRequest()
            delete.groupsNames = [group, "busy-\(v)", "missing"]
            let answer = try await f.send(delete, v)
            #expect(answer.results.map(\.groupId) == [group, "busy-\(v)", "missing"])
            #expect(answer.results.map(\.errorCode)
                == [0, CoordinatorErrorCode.nonEmptyGroup, CoordinatorErrorCode.groupIdNotFound])
            let fetched = try await f.send(GroupRequests.fetch(group, ["t": [0]], version: 5), 5)
            #expect(fetched.topics[0].partitions[0].committedOffset == -1)
        }
    }

    @Test func requestsBeforeStartAnswerCoordinatorNotAvailable() async throws {
        let f = try await GroupFixture()
        f.broker.coordinator.shutdown()
        #expect(try await f.send(GroupRequests.heartbeat("g", generation: 1, memberId: "m"), 4).errorCode
            == CoordinatorErrorCode.coordinatorNotAvailable)
        #expect(try await f.send(ListGroupsRequest(), 5).errorCode == CoordinatorErrorCode.coordinatorNotAvailable)
    }
}
