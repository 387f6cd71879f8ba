import Testing
@testable import TernCoordinator

@Suite struct AdminTests {
    @Test func deleteNonEmptyGroupIsRefused() {
        let h = Harness()
        let members = h.stableGroup("g", clients: ["c1"])
        let (results, _) = h.gc.deleteGroups(["g", "missing"], now: h.now)
        #expect(results == [DeleteGroupResult(groupId: "g", errorCode: CoordinatorErrorCode.nonEmptyGroup),
                            DeleteGroupResult(groupId: "missing", errorCode: CoordinatorErrorCode.groupIdNotFound)])
        _ = h.commit(commitInput("g", generation: 1, member: members[0], [("orders", 0, 5)]))
        _ = h.leave("g", [LeaveGroupMember(memberId: members[0])])
        let before = h.records.count
        let (after, actions) = h.gc.deleteGroups(["g"], now: h.now)
        h.apply(actions)
        #expect(after == [DeleteGroupResult(groupId: "g", errorCode: 0)])
        #expect(Array(h.records[before...]) == [
            .offsetCommit(key: .init(groupId: "g", topic: "orders", partition: 0), value: nil),
            .groupMetadata(groupId: "g", value: nil),
        ])
        #expect(h.gc.state(of: "g") == nil)
        #expect(h.gc.fetchOffsets(OffsetFetchInput(groups: [OffsetFetchGroup(groupId: "g", topics: nil)]), now: h.now).groups[0].topics.isEmpty)
    }

    @Test func describeShowsMembersAndProtocolOnlyWhenStable() {
        let h = Harness()
        let members = h.stableGroup("g", clients: ["c1", "c2"])
        let stable = h.gc.describeGroups(["g", "nope"], now: h.now)
        #expect(stable[0].groupState == "Stable" && stable[0].protocolType == "consumer" && stable[0].protocolData == "range")
        #expect(stable[0].members.map(\.memberId) == members)
        #expect(stable[0].members[0].memberAssignment == Array("assigned-\(members[0])".utf8))
        #expect(stable[0].members[0].memberMetadata == range.metadata)
        #expect(stable[0].members[0].clientId == "c1" && stable[0].members[0].clientHost == "/127.0.0.1")
        #expect(stable[1] == DescribedGroup(errorCode: 0, groupId: "nope", groupState: "Dead", protocolType: "", protocolData: "", members: []))
        _ = h.join(JoinGroupInput(groupId: "g", memberId: members[0], protocols: [range], clientId: "c1"))
        let preparing = h.gc.describeGroups(["g"], now: h.now)[0]
        #expect(preparing.groupState == "PreparingRebalance" && preparing.protocolData == "")
        #expect(preparing.members.allSatisfy { $0.memberAssignment.isEmpty && $0.memberMetadata.isEmpty })
    }

    @Test func listGroupsFiltersByState() {
        let h = Harness()
        _ = h.stableGroup("s", clients: ["c1"])
        _ = h.commit(commitInput("e", [("t", 0, 1)]))
        #expect(h.gc.listGroups(ListGroupsInput(), now: h.now).groups.map(\.groupId) == ["e", "s"])
        #expect(h.gc.listGroups(ListGroupsInput(statesFilter: ["stable"]), now: h.now).groups.map(\.groupId) == ["s"])
        #expect(h.gc.listGroups(ListGroupsInput(statesFilter: ["Empty", "Stable"]), now: h.now).groups.count == 2)
        #expect(h.gc.listGroups(ListGroupsInput(typesFilter: ["consumer"]), now: h.now).groups.isEmpty)
    }

    @Test func notCoordinatorAndLoadInProgress() {
        let gc = GroupCoordinator(ownedPartitions: [])
        let (join, _) = gc.joinGroup(JoinGroupInput(groupId: "g", protocols: [range]), requestId: 1, now: 0)
        #expect(join?.errorCode == CoordinatorErrorCode.notCoordinator)
        let p = gc.partition(for: "g")
        gc.beginLoading(partition: p)
        #expect(gc.heartbeat(HeartbeatInput(groupId: "g", generationId: 1, memberId: "m"), now: 0).0.errorCode == CoordinatorErrorCode.coordinatorLoadInProgress)
        #expect(gc.listGroups(ListGroupsInput(), now: 0).errorCode == CoordinatorErrorCode.coordinatorLoadInProgress)
        _ = gc.load(partition: p, records: [], now: 0)
        #expect(gc.heartbeat(HeartbeatInput(groupId: "g", generationId: 1, memberId: "m"), now: 0).0.errorCode == CoordinatorErrorCode.unknownMemberId)
    }

    @Test func unloadAnswersParkedRequestsWithNotCoordinator() {
        let h = Harness()
        let a = h.joinNew("g", clientId: "a")
        #expect(h.joins[a.request] == nil)
        h.apply(h.gc.unload(partition: h.gc.partition(for: "g")))
        #expect(h.joins[a.request] == JoinGroupResult(errorCode: CoordinatorErrorCode.notCoordinator, memberId: a.memberId))
        #expect(h.gc.groupIds.isEmpty)
        #expect(h.timers[.rebalance(groupId: "g")] == nil)
    }
}
