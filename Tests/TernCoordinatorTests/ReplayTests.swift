import Testing
@testable import TernCoordinator

@Suite struct ReplayTests {
    /// Loads every record the harness saw into a fresh coordinator, partition by partition.
    func replay(_ h: Harness) -> GroupCoordinator {
        let fresh = GroupCoordinator(config: h.gc.config)
        for partition in Set(h.appends.map(\.partition)) {
            let records = h.appends.filter { $0.partition == partition }.flatMap(\.records)
            _ = fresh.load(partition: partition, records: records, now: h.now)
        }
        return fresh
    }

    func expectSameState(_ h: Harness, _ fresh: GroupCoordinator, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(fresh.groupIds == h.gc.groupIds, sourceLocation: sourceLocation)
        for groupId in h.gc.groupIds {
            #expect(fresh.snapshot(of: groupId) == h.gc.snapshot(of: groupId), "group \(groupId)", sourceLocation: sourceLocation)
        }
    }

    @Test func replayRebuildsStableGroupsOffsetsAndEmptyGroups() {
        let h = Harness()
        let members = h.stableGroup("orders-app", clients: ["c1", "c2", "c3"])
        _ = h.commit(commitInput("orders-app", generation: 1, member: members[1], [("orders", 0, 100), ("orders", 1, 200)], metadata: "x"))
        _ = h.commit(commitInput("orders-app", generation: 1, member: members[1], [("orders", 0, 150)]))
        _ = h.commit(commitInput("admin-tool", [("audit", 0, 9)]))
        let gone = h.stableGroup("gone", clients: ["x"])
        _ = h.commit(commitInput("gone", generation: 1, member: gone[0], [("t", 0, 1)]))
        _ = h.leave("gone", [LeaveGroupMember(memberId: gone[0])])
        h.apply(h.gc.deleteGroups(["gone"], now: h.now).1)
        let left = h.stableGroup("emptied", clients: ["y"])
        _ = h.commit(commitInput("emptied", generation: 1, member: left[0], [("t", 0, 3)]))
        _ = h.leave("emptied", [LeaveGroupMember(memberId: left[0])])
        h.apply(h.gc.deleteOffsets(OffsetDeleteInput(groupId: "admin-tool", topics: [OffsetFetchTopic(name: "nothing", partitionIndexes: [0])]), now: h.now).1)

        #expect(h.gc.groupIds == ["admin-tool", "emptied", "orders-app"])
        let fresh = replay(h)
        expectSameState(h, fresh)
        #expect(fresh.state(of: "orders-app") == .stable)
        #expect(fresh.snapshot(of: "orders-app")?.offsets[TopicPartition(topic: "orders", partition: 0)]?.offset == 150)
        #expect(fresh.state(of: "emptied") == .empty)
        #expect(fresh.snapshot(of: "emptied")?.generationId == 2)
    }

    @Test func replayAfterStaticMemberReplacement() {
        let h = Harness()
        let a = h.join(JoinGroupInput(groupId: "g", groupInstanceId: "i-a", protocols: [range], clientId: "a"))
        h.advance(until: { h.joins[a] != nil })
        let leader = h.joins[a]!.memberId
        h.sync(SyncGroupInput(groupId: "g", generationId: 1, memberId: leader, assignments: [SyncGroupAssignment(memberId: leader, assignment: [7])]))
        let rejoin = h.join(JoinGroupInput(groupId: "g", groupInstanceId: "i-a", protocols: [range], clientId: "a"))
        #expect(h.joins[rejoin]?.memberId != leader)
        let fresh = replay(h)
        expectSameState(h, fresh)
        #expect(fresh.snapshot(of: "g")?.members.first?.groupInstanceId == "i-a")
        // The replayed static mapping fences the old member id.
        #expect(fresh.heartbeat(HeartbeatInput(groupId: "g", generationId: 1, memberId: leader, groupInstanceId: "i-a"), now: h.now).0.errorCode
                == CoordinatorErrorCode.fencedInstanceId)
    }

    @Test func loadedMembersMustHeartbeatOrExpire() {
        let h = Harness()
        let members = h.stableGroup("g", clients: ["c1", "c2"])
        let fresh = replay(h)
        // Loading arms a session timer for every member.
        let actions = fresh.load(partition: fresh.partition(for: "other"), records: [], now: h.now)
        #expect(actions.isEmpty)
        let (beat, _) = fresh.heartbeat(HeartbeatInput(groupId: "g", generationId: 1, memberId: members[0]), now: h.now + 5000)
        #expect(beat.errorCode == 0)
        _ = fresh.timerExpired(.memberSession(groupId: "g", memberId: members[1]), now: h.now + 10_000)
        #expect(fresh.state(of: "g") == .preparingRebalance)
        #expect(fresh.snapshot(of: "g")?.members.map(\.memberId) == [members[0]])
    }

    @Test func everyStateChangeAndCommitIsRecorded() {
        let h = Harness()
        let members = h.stableGroup("g", clients: ["c1"])
        #expect(h.records.count == 1) // leader's SyncGroup: the Stable generation
        _ = h.commit(commitInput("g", generation: 1, member: members[0], [("t", 0, 1)]))
        #expect(h.records.count == 2)
        _ = h.leave("g", [LeaveGroupMember(memberId: members[0])]) // to Empty, generation 2
        #expect(h.records.count == 3)
        h.apply(h.gc.deleteGroups(["g"], now: h.now).1) // offset and group tombstones
        #expect(h.records.count == 5)
        #expect(replay(h).groupIds.isEmpty)
    }
}
