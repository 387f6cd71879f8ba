import Testing
@testable import TernCoordinator

@Suite struct JoinSyncTests {
    @Test func threeMembersGetOneLeaderAndSyncDistributesAssignments() {
        let h = Harness()
        let joined = ["c1", "c2", "c3"].map { h.joinNew("g", clientId: $0) }
        #expect(h.gc.state(of: "g") == .preparingRebalance)
        h.advance(until: { h.joins[joined[0].request] != nil })
        let results = joined.map { h.joins[$0.request]! }
        #expect(results.allSatisfy { $0.errorCode == 0 && $0.generationId == 1 && $0.protocolName == "range" && $0.protocolType == "consumer" })
        // Leader is the first member; only it gets the member list.
        #expect(Set(results.map(\.leader)) == [joined[0].memberId])
        #expect(results[0].members.map(\.memberId) == joined.map(\.memberId))
        #expect(results[1].members.isEmpty && results[2].members.isEmpty)
        #expect(h.gc.state(of: "g") == .completingRebalance)

        // Followers park until the leader's assignment arrives.
        let s2 = h.sync(SyncGroupInput(groupId: "g", generationId: 1, memberId: joined[1].memberId))
        let s3 = h.sync(SyncGroupInput(groupId: "g", generationId: 1, memberId: joined[2].memberId))
        #expect(h.syncs[s2] == nil && h.syncs[s3] == nil)
        let recordsBefore = h.records.count
        let s1 = h.sync(SyncGroupInput(groupId: "g", generationId: 1, memberId: joined[0].memberId, protocolType: "consumer", protocolName: "range",
                                       assignments: joined.map { SyncGroupAssignment(memberId: $0.memberId, assignment: Array($0.memberId.utf8)) }))
        for (index, request) in [s1, s2, s3].enumerated() {
            #expect(h.syncs[request] == SyncGroupResult(errorCode: 0, protocolType: "consumer", protocolName: "range", assignment: Array(joined[index].memberId.utf8)))
        }
        #expect(h.gc.state(of: "g") == .stable)
        // The leader's sync persists the group with its assignment.
        guard case .groupMetadata("g", let value?) = h.records.last, h.records.count == recordsBefore + 1 else {
            Issue.record("expected one group metadata record, got \(h.records)")
            return
        }
        #expect(value.generation == 1 && value.leader == joined[0].memberId && value.protocolName == "range")
        #expect(value.members.map(\.assignment) == joined.map { Array($0.memberId.utf8) })
        #expect(value.members.map(\.subscription) == Array(repeating: range.metadata, count: 3))
        // A Stable group answers SyncGroup at once.
        let again = h.sync(SyncGroupInput(groupId: "g", generationId: 1, memberId: joined[2].memberId))
        #expect(h.syncs[again]?.assignment == Array(joined[2].memberId.utf8))
    }

    @Test func memberIdRequiredFlow() {
        let h = Harness()
        let first = h.join(JoinGroupInput(groupId: "g", protocols: [range], clientId: "app"))
        #expect(h.joins[first] == JoinGroupResult(errorCode: CoordinatorErrorCode.memberIdRequired, memberId: "app-uuid1"))
        #expect(h.gc.state(of: "g") == .empty)
        let second = h.join(JoinGroupInput(groupId: "g", memberId: "app-uuid1", protocols: [range], clientId: "app"))
        #expect(h.joins[second] == nil)
        h.advance(by: 3000)
        #expect(h.joins[second]?.errorCode == 0)
        #expect(h.joins[second]?.memberId == "app-uuid1")
        #expect(h.joins[second]?.leader == "app-uuid1")
    }

    @Test func pendingMemberThatNeverRejoinsIsForgotten() {
        let h = Harness()
        let first = h.join(JoinGroupInput(groupId: "g", protocols: [range], sessionTimeoutMs: 10_000, clientId: "app"))
        let memberId = h.joins[first]!.memberId
        h.advance(by: 10_001)
        let late = h.join(JoinGroupInput(groupId: "g", memberId: memberId, protocols: [range], clientId: "app"))
        #expect(h.joins[late]?.errorCode == CoordinatorErrorCode.unknownMemberId)
    }

    @Test func oldClientsWithoutKnownMemberIdJoinDirectly() {
        let h = Harness()
        let request = h.join(JoinGroupInput(groupId: "g", protocols: [range], clientId: "old", requireKnownMemberId: false))
        #expect(h.joins[request] == nil)
        h.advance(by: 3000)
        #expect(h.joins[request]?.memberId == "old-uuid1")
        #expect(h.joins[request]?.errorCode == 0)
    }

    @Test func joinValidation() {
        let h = Harness()
        #expect(h.joins[h.join(JoinGroupInput(groupId: "", protocols: [range]))]?.errorCode == CoordinatorErrorCode.invalidGroupId)
        #expect(h.joins[h.join(JoinGroupInput(groupId: "g", protocols: [range], sessionTimeoutMs: 10))]?.errorCode == CoordinatorErrorCode.invalidSessionTimeout)
        #expect(h.joins[h.join(JoinGroupInput(groupId: "g", memberId: "ghost", protocols: [range]))]?.errorCode == CoordinatorErrorCode.unknownMemberId)
        #expect(h.joins[h.join(JoinGroupInput(groupId: "g", protocols: []))]?.errorCode == CoordinatorErrorCode.inconsistentGroupProtocol)
        _ = h.stableGroup("g", clients: ["c1"])
        // Another protocol type, or no protocol in common, is rejected.
        #expect(h.joins[h.join(JoinGroupInput(groupId: "g", protocolType: "connect", protocols: [range]))]?.errorCode == CoordinatorErrorCode.inconsistentGroupProtocol)
        #expect(h.joins[h.join(JoinGroupInput(groupId: "g", protocols: [GroupProtocol(name: "sticky", metadata: [])]))]?.errorCode == CoordinatorErrorCode.inconsistentGroupProtocol)
    }

    @Test func protocolChosenByVotesAmongProtocolsEveryMemberSupports() {
        let h = Harness()
        let sticky = GroupProtocol(name: "sticky", metadata: [])
        let a = h.joinNew("g", clientId: "a", protocols: [range, roundrobin])
        let b = h.joinNew("g", clientId: "b", protocols: [roundrobin, range, sticky])
        let c = h.joinNew("g", clientId: "c", protocols: [sticky, roundrobin, range])
        h.advance(until: { h.joins[a.request] != nil })
        // Candidates: range, roundrobin. Votes: a->range, b->roundrobin, c->roundrobin.
        #expect([a, b, c].allSatisfy { h.joins[$0.request]?.protocolName == "roundrobin" })
        // The leader sees each member's metadata for the chosen protocol.
        #expect(h.joins[a.request]?.members.map(\.metadata) == [roundrobin.metadata, roundrobin.metadata, roundrobin.metadata])
    }

    @Test func initialRebalanceDelayExtendsWhileMembersArriveUpToRebalanceTimeout() {
        let h = Harness()
        let start = h.now
        let a = h.joinNew("g", clientId: "a", rebalanceTimeoutMs: 7000)
        h.advance(by: 2500)
        let b = h.joinNew("g", clientId: "b", rebalanceTimeoutMs: 7000)
        h.advance(by: 2500)
        let c = h.joinNew("g", clientId: "c", rebalanceTimeoutMs: 7000)
        h.advance(until: { h.joins[a.request] != nil })
        // 3000 delay, extended by 3000 (b joined), then by the 1000 left of the 7000 rebalance timeout (c joined).
        #expect(h.now - start == 7000)
        #expect([a, b, c].allSatisfy { h.joins[$0.request]?.generationId == 1 })
        #expect(h.joins[a.request]?.members.count == 3)
    }

    @Test func initialDelayEndsAfterOneStepWhenNobodyElseJoins() {
        let h = Harness()
        let start = h.now
        let a = h.joinNew("g", clientId: "a")
        h.advance(until: { h.joins[a.request] != nil })
        #expect(h.now - start == 3000)
    }

    @Test func followerRejoinWithSameMetadataInStableGetsCurrentGeneration() {
        let h = Harness()
        let members = h.stableGroup("g", clients: ["c1", "c2"])
        let rejoin = h.join(JoinGroupInput(groupId: "g", memberId: members[1], protocols: [range], clientId: "c2"))
        #expect(h.joins[rejoin]?.generationId == 1)
        #expect(h.joins[rejoin]?.members == [])
        #expect(h.gc.state(of: "g") == .stable)
        // The leader rejoining always starts a rebalance.
        _ = h.join(JoinGroupInput(groupId: "g", memberId: members[0], protocols: [range], clientId: "c1"))
        #expect(h.gc.state(of: "g") == .preparingRebalance)
    }

    @Test func rebalanceDuringCompletingRebalanceFailsParkedSyncs() {
        let h = Harness()
        let a = h.joinNew("g", clientId: "a")
        let b = h.joinNew("g", clientId: "b")
        h.advance(until: { h.joins[a.request] != nil })
        let parked = h.sync(SyncGroupInput(groupId: "g", generationId: 1, memberId: b.memberId))
        _ = h.joinNew("g", clientId: "c")
        #expect(h.syncs[parked]?.errorCode == CoordinatorErrorCode.rebalanceInProgress)
        #expect(h.gc.state(of: "g") == .preparingRebalance)
    }

    @Test func syncChecks() {
        let h = Harness()
        let members = h.stableGroup("g", clients: ["c1"])
        #expect(h.syncs[h.sync(SyncGroupInput(groupId: "g", generationId: 0, memberId: members[0]))]?.errorCode == CoordinatorErrorCode.illegalGeneration)
        #expect(h.syncs[h.sync(SyncGroupInput(groupId: "g", generationId: 1, memberId: "x"))]?.errorCode == CoordinatorErrorCode.unknownMemberId)
        #expect(h.syncs[h.sync(SyncGroupInput(groupId: "g", generationId: 1, memberId: members[0], protocolName: "roundrobin"))]?.errorCode == CoordinatorErrorCode.inconsistentGroupProtocol)
        #expect(h.syncs[h.sync(SyncGroupInput(groupId: "g", generationId: 1, memberId: members[0], protocolType: "connect"))]?.errorCode == CoordinatorErrorCode.inconsistentGroupProtocol)
        #expect(h.syncs[h.sync(SyncGroupInput(groupId: "nope", generationId: 1, memberId: "x"))]?.errorCode == CoordinatorErrorCode.unknownMemberId)
    }

    @Test func groupMaxSize() {
        var config = Harness.defaultConfig()
        config.groupMaxSize = 2
        let h = Harness(config: config)
        _ = h.stableGroup("g", clients: ["c1", "c2"])
        let third = h.join(JoinGroupInput(groupId: "g", protocols: [range], clientId: "c3"))
        #expect(h.joins[third]?.errorCode == CoordinatorErrorCode.groupMaxSizeReached)
        #expect(h.gc.state(of: "g") == .stable)
    }
}
