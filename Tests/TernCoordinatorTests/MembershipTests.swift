import Testing
@testable import TernCoordinator

@Suite struct MembershipTests {
    @Test func sessionExpiryRemovesMemberAndTriggersRebalance() {
        let h = Harness()
        let members = h.stableGroup("g", clients: ["c1", "c2"])
        // c1 heartbeats, c2 goes silent.
        for _ in 0..<2 {
            h.advance(by: 4000)
            #expect(h.heartbeat("g", 1, members[0]) == 0)
        }
        #expect(h.gc.state(of: "g") == .stable)
        h.advance(by: 2001)
        #expect(h.gc.state(of: "g") == .preparingRebalance)
        #expect(h.gc.snapshot(of: "g")?.members.map(\.memberId) == [members[0]])
        #expect(h.heartbeat("g", 1, members[0]) == CoordinatorErrorCode.rebalanceInProgress)
        #expect(h.heartbeat("g", 1, members[1]) == CoordinatorErrorCode.unknownMemberId)
        // c1 rejoins; being the only member, the join completes at once with generation 2.
        let rejoin = h.join(JoinGroupInput(groupId: "g", memberId: members[0], protocols: [range], clientId: "c1"))
        #expect(h.joins[rejoin]?.generationId == 2)
        #expect(h.joins[rejoin]?.members.map(\.memberId) == [members[0]])
    }

    @Test func heartbeatsDuringRebalanceAnswerRebalanceInProgress() {
        let h = Harness()
        let members = h.stableGroup("g", clients: ["c1", "c2"])
        #expect(h.heartbeat("g", 1, members[1]) == 0)
        _ = h.join(JoinGroupInput(groupId: "g", memberId: members[0], protocols: [range], clientId: "c1"))
        #expect(h.heartbeat("g", 1, members[1]) == CoordinatorErrorCode.rebalanceInProgress)
        #expect(h.heartbeat("g", 0, members[1]) == CoordinatorErrorCode.illegalGeneration)
        #expect(h.heartbeat("g", 1, "nobody") == CoordinatorErrorCode.unknownMemberId)
        #expect(h.heartbeat("other", 1, members[1]) == CoordinatorErrorCode.unknownMemberId)
    }

    @Test func rebalanceTimeoutRemovesMembersThatDidNotRejoin() {
        let h = Harness()
        let members = h.stableGroup("g", clients: ["c1", "c2"])
        let rejoin = h.join(JoinGroupInput(groupId: "g", memberId: members[0], protocols: [range], rebalanceTimeoutMs: 30_000, clientId: "c1"))
        // c2 keeps heartbeating (told to rejoin) but never rejoins.
        for _ in 0..<7 {
            h.advance(by: 4000)
            if h.joins[rejoin] == nil { #expect(h.heartbeat("g", 1, members[1]) == CoordinatorErrorCode.rebalanceInProgress) }
        }
        h.advance(until: { h.joins[rejoin] != nil })
        #expect(h.joins[rejoin]?.generationId == 2)
        #expect(h.joins[rejoin]?.members.map(\.memberId) == [members[0]])
        #expect(h.heartbeat("g", 2, members[1]) == CoordinatorErrorCode.unknownMemberId)
    }

    @Test func leaderLeavingDuringRebalanceHandsLeadershipToAJoinedMember() {
        let h = Harness()
        let members = h.stableGroup("g", clients: ["c1", "c2"])
        // A follower whose subscription changed rejoins; the leader leaves instead of rejoining.
        let changed = GroupProtocol(name: "range", metadata: subscription(["orders", "payments"]))
        let rejoin = h.join(JoinGroupInput(groupId: "g", memberId: members[1], protocols: [changed], clientId: "c2"))
        #expect(h.gc.state(of: "g") == .preparingRebalance)
        _ = h.leave("g", [LeaveGroupMember(memberId: members[0])])
        #expect(h.joins[rejoin]?.leader == members[1])
        #expect(h.joins[rejoin]?.generationId == 2)
    }

    @Test func membersThatNeverSyncAreRemoved() {
        let h = Harness()
        let a = h.joinNew("g", clientId: "a", rebalanceTimeoutMs: 20_000)
        let b = h.joinNew("g", clientId: "b", rebalanceTimeoutMs: 20_000)
        h.advance(until: { h.joins[a.request] != nil })
        let leaderSync = h.sync(SyncGroupInput(groupId: "g", generationId: 1, memberId: a.memberId, assignments: []))
        #expect(h.syncs[leaderSync]?.errorCode == 0)
        for _ in 0..<6 {
            h.advance(by: 4000)
            _ = h.heartbeat("g", h.gc.snapshot(of: "g")!.generationId, a.memberId)
            _ = h.heartbeat("g", 1, b.memberId)
        }
        // b heartbeated but never sent SyncGroup within the rebalance timeout.
        #expect(h.gc.snapshot(of: "g")?.members.map(\.memberId) == [a.memberId])
    }

    @Test func batchedLeaveByMemberIdAndInstanceId() {
        let h = Harness()
        let s = h.joinNew("g", clientId: "s")
        let staticJoin = h.join(JoinGroupInput(groupId: "g", groupInstanceId: "i-1", protocols: [range], clientId: "st"))
        h.advance(until: { h.joins[s.request] != nil })
        let staticId = h.joins[staticJoin]!.memberId
        #expect(staticId == "i-1-uuid2")
        let result = h.leave("g", [
            LeaveGroupMember(memberId: s.memberId),
            LeaveGroupMember(memberId: "", groupInstanceId: "i-1"),
            LeaveGroupMember(memberId: "ghost"),
            LeaveGroupMember(memberId: "", groupInstanceId: "i-unknown"),
        ])
        #expect(result.errorCode == 0)
        #expect(result.members.map(\.errorCode) == [0, 0, CoordinatorErrorCode.unknownMemberId, CoordinatorErrorCode.unknownMemberId])
        #expect(result.members[1].groupInstanceId == "i-1")
        // Everyone left: the join phase ends with an empty group, persisted as such.
        #expect(h.gc.state(of: "g") == .empty)
        #expect(h.gc.snapshot(of: "g")?.generationId == 2)
        guard case .groupMetadata("g", let value?) = h.records.last else {
            Issue.record("expected an empty-group metadata record")
            return
        }
        #expect(value.members.isEmpty && value.generation == 2 && value.protocolName == nil)
    }

    @Test func leaveWithWrongInstanceIdIsFenced() {
        let h = Harness()
        let join = h.join(JoinGroupInput(groupId: "g", groupInstanceId: "i-1", protocols: [range], clientId: "st"))
        let other = h.join(JoinGroupInput(groupId: "g", groupInstanceId: "i-2", protocols: [range], clientId: "st"))
        h.advance(until: { h.joins[join] != nil })
        let result = h.leave("g", [LeaveGroupMember(memberId: h.joins[join]!.memberId, groupInstanceId: "i-2")])
        #expect(result.members.map(\.errorCode) == [CoordinatorErrorCode.fencedInstanceId])
        _ = other
    }

    @Test func leaveOfAFollowerRebalancesStableGroup() {
        let h = Harness()
        let members = h.stableGroup("g", clients: ["c1", "c2"])
        let result = h.leave("g", [LeaveGroupMember(memberId: members[1])])
        #expect(result.members.map(\.errorCode) == [0])
        #expect(h.gc.state(of: "g") == .preparingRebalance)
        #expect(h.leave("missing", [LeaveGroupMember(memberId: "x")]).members.map(\.errorCode) == [CoordinatorErrorCode.unknownMemberId])
    }
}

@Suite struct StaticMembershipTests {
    /// Static members "i-a" (the leader), "i-b", ... in a Stable group at generation 1.
    @discardableResult
    func stableStaticGroup(_ h: Harness, protocols: [[GroupProtocol]] = [[range], [range]]) -> [String] {
        let requests = protocols.enumerated().map { index, protocols in
            h.join(JoinGroupInput(groupId: "g", groupInstanceId: "i-\(index)", protocols: protocols, clientId: "c\(index)"))
        }
        h.advance(until: { h.joins[requests[0]] != nil })
        let ids = requests.map { h.joins[$0]!.memberId }
        for (index, id) in ids.enumerated().reversed() {
            h.sync(SyncGroupInput(groupId: "g", generationId: 1, memberId: id, groupInstanceId: "i-\(index)",
                                  assignments: index == 0 ? ids.enumerated().map { SyncGroupAssignment(memberId: $1, assignment: [UInt8($0 + 1)]) } : []))
        }
        #expect(h.gc.state(of: "g") == .stable)
        return ids
    }

    @Test func staticMemberRejoinsWithoutRebalance() {
        let h = Harness()
        let ids = stableStaticGroup(h)
        let (leader, follower) = (ids[0], ids[1])
        let recordsBefore = h.records.count
        // The follower restarts: it has lost its member id but keeps its instance id and subscription.
        let rejoin = h.join(JoinGroupInput(groupId: "g", groupInstanceId: "i-1", protocols: [range], clientId: "c1"))
        let result = h.joins[rejoin]!
        #expect(result.errorCode == 0 && result.generationId == 1 && result.leader == leader)
        #expect(result.memberId != follower && result.memberId.hasPrefix("i-1-"))
        #expect(result.members.isEmpty && !result.skipAssignment)
        #expect(h.gc.state(of: "g") == .stable)
        // The new member id is persisted; it keeps the old assignment.
        #expect(h.records.count == recordsBefore + 1)
        let sync = h.sync(SyncGroupInput(groupId: "g", generationId: 1, memberId: result.memberId, groupInstanceId: "i-1"))
        #expect(h.syncs[sync]?.assignment == [2])
        // The old incarnation is fenced.
        #expect(h.heartbeat("g", 1, follower, instance: "i-1") == CoordinatorErrorCode.fencedInstanceId)
        let oldCommit = h.commit(OffsetCommitInput(groupId: "g", generationId: 1, memberId: follower, groupInstanceId: "i-1",
                                                   topics: [OffsetCommitTopic(name: "t", partitions: [OffsetCommitPartition(partitionIndex: 0, committedOffset: 1)])]))
        #expect(oldCommit.topics[0].partitions[0].errorCode == CoordinatorErrorCode.fencedInstanceId)
    }

    @Test func staticLeaderRejoinGetsMembersAndSkipAssignment() {
        let h = Harness()
        let leader = stableStaticGroup(h)[0]
        let rejoin = h.join(JoinGroupInput(groupId: "g", groupInstanceId: "i-0", protocols: [range], clientId: "c0"))
        let result = h.joins[rejoin]!
        #expect(result.skipAssignment && result.leader == result.memberId && result.memberId != leader)
        #expect(result.members.count == 2)
        #expect(h.gc.state(of: "g") == .stable)
    }

    @Test func staticRejoinThatChangesTheSelectedProtocolRebalances() {
        let h = Harness()
        // Votes tie (roundrobin vs range); the first member's preference, roundrobin, wins.
        stableStaticGroup(h, protocols: [[roundrobin, range], [range, roundrobin]])
        #expect(h.gc.snapshot(of: "g")?.protocolName == "roundrobin")
        _ = h.join(JoinGroupInput(groupId: "g", groupInstanceId: "i-1", protocols: [roundrobin, range], clientId: "c1"))
        #expect(h.gc.state(of: "g") == .stable)
        // Dropping roundrobin would change the next generation's protocol: rebalance.
        _ = h.join(JoinGroupInput(groupId: "g", groupInstanceId: "i-1", protocols: [range], clientId: "c1"))
        #expect(h.gc.state(of: "g") == .preparingRebalance)
    }

    @Test func parkedJoinOfReplacedStaticMemberIsFenced() {
        let h = Harness()
        let ids = stableStaticGroup(h, protocols: [[range], [range], [range]])
        let leaderJoin = h.join(JoinGroupInput(groupId: "g", memberId: ids[0], groupInstanceId: "i-0", protocols: [range], clientId: "c0"))
        let oldJoin = h.join(JoinGroupInput(groupId: "g", memberId: ids[1], groupInstanceId: "i-1", protocols: [range], clientId: "c1"))
        #expect(h.gc.state(of: "g") == .preparingRebalance && h.joins[oldJoin] == nil)
        // A new incarnation of i-1 arrives: the old one's parked JoinGroup is fenced.
        let newJoin = h.join(JoinGroupInput(groupId: "g", groupInstanceId: "i-1", protocols: [range], clientId: "c1"))
        #expect(h.joins[oldJoin] == JoinGroupResult(errorCode: CoordinatorErrorCode.fencedInstanceId, memberId: ids[1]))
        #expect(h.joins[newJoin] == nil)
        _ = h.join(JoinGroupInput(groupId: "g", memberId: ids[2], groupInstanceId: "i-2", protocols: [range], clientId: "c2"))
        #expect(h.joins[newJoin]?.generationId == 2)
        #expect(h.joins[leaderJoin]?.members.map(\.memberId) == [ids[0], h.joins[newJoin]!.memberId, ids[2]])
    }

    @Test func wrongMemberIdForInstanceIsFenced() {
        let h = Harness()
        let follower = stableStaticGroup(h)[1]
        let join = h.join(JoinGroupInput(groupId: "g", memberId: "i-1-forged", groupInstanceId: "i-1", protocols: [range], clientId: "c1"))
        #expect(h.joins[join]?.errorCode == CoordinatorErrorCode.fencedInstanceId)
        #expect(h.heartbeat("g", 1, follower, instance: "i-1") == 0)
    }
}
