import Testing
@testable import TernCoordinator

@Suite struct AssignorTests {
    @Test func rangeSplitsEachTopicIntoContiguousRanges() {
        let members = ["b": AssignmentMember(subscribedTopics: ["t", "u"]), "a": AssignmentMember(subscribedTopics: ["t"])]
        let result = ConsumerGroupAssignor.range.assign(members: members, partitionCounts: ["t": 5, "u": 2])
        #expect(result["a"] == ["t": [0, 1, 2]])
        #expect(result["b"] == ["t": [3, 4], "u": [0, 1]])
    }

    @Test func uniformIsBalancedCompleteAndSticky() {
        var members = ["m1": AssignmentMember(subscribedTopics: ["t"]), "m2": AssignmentMember(subscribedTopics: ["t"])]
        let first = ConsumerGroupAssignor.uniform.assign(members: members, partitionCounts: ["t": 7])
        #expect(first.values.map(\.partitionCount).sorted() == [3, 4])
        #expect(Set(first.values.flatMap { $0["t"] ?? [] }) == Set(0..<7))
        // A third member takes partitions from the others; nobody else's partitions move.
        members["m1"]!.current = first["m1"]!
        members["m2"]!.current = first["m2"]!
        members["m3"] = AssignmentMember(subscribedTopics: ["t"])
        let second = ConsumerGroupAssignor.uniform.assign(members: members, partitionCounts: ["t": 7])
        #expect(second.values.map(\.partitionCount).sorted() == [2, 2, 3])
        #expect(second["m1"]!["t"]!.isSubset(of: first["m1"]!["t"]!))
        #expect(second["m2"]!["t"]!.isSubset(of: first["m2"]!["t"]!))
        #expect(second.values.map(\.partitionCount).reduce(0, +) == 7)
    }

    @Test func uniformHonoursHeterogeneousSubscriptions() {
        let members = ["a": AssignmentMember(subscribedTopics: ["x"]), "b": AssignmentMember(subscribedTopics: ["x", "y"])]
        let result = ConsumerGroupAssignor.uniform.assign(members: members, partitionCounts: ["x": 2, "y": 2, "z": 9])
        #expect(result["a"]!.keys.allSatisfy { $0 == "x" })
        #expect(result["b"]!["y"] == [0, 1])
        #expect(result.values.map(\.partitionCount).reduce(0, +) == 4)
    }
}

final class TopicCounts: @unchecked Sendable {
    var counts: [String: Int32]
    init(_ counts: [String: Int32]) { self.counts = counts }
}

@Suite struct ConsumerGroupHeartbeatTests {
    func make(_ counts: [String: Int32] = ["orders": 4]) -> (Harness, GroupCoordinator, TopicCounts) {
        let topics = TopicCounts(counts)
        let h = Harness()
        let gc = GroupCoordinator(config: h.gc.config, makeUUID: { "generated" }, partitionCount: { topics.counts[$0] })
        return (h, gc, topics)
    }

    func beat(_ h: Harness, _ gc: GroupCoordinator, _ input: ConsumerGroupHeartbeatInput) -> ConsumerGroupHeartbeatResult {
        let (result, actions) = gc.consumerGroupHeartbeat(input, now: h.now)
        h.apply(actions)
        return result
    }

    func join(_ memberId: String, topics: [String] = ["orders"]) -> ConsumerGroupHeartbeatInput {
        ConsumerGroupHeartbeatInput(groupId: "cg", memberId: memberId, memberEpoch: 0, rebalanceTimeoutMs: 30_000, subscribedTopicNames: topics, topicPartitions: [:])
    }

    @Test func joinRevokeAndReleaseAcrossTwoMembers() {
        let (h, gc, _) = make()
        let a = beat(h, gc, join("A"))
        #expect(a == ConsumerGroupHeartbeatResult(errorCode: 0, memberId: "A", memberEpoch: 1, heartbeatIntervalMs: 5000, assignment: ["orders": [0, 1, 2, 3]]))
        #expect(gc.consumerSnapshot(of: "cg")?.state == .stable)

        // B joins: the group epoch moves to 2; B's target partitions are still A's, so it gets nothing yet.
        let b = beat(h, gc, join("B"))
        #expect(b.memberEpoch == 2 && b.assignment == [:])
        #expect(gc.consumerSnapshot(of: "cg")?.state == .reconciling)

        // A must first revoke two partitions: its epoch stays 1 until it confirms.
        let a2 = beat(h, gc, ConsumerGroupHeartbeatInput(groupId: "cg", memberId: "A", memberEpoch: 1, topicPartitions: ["orders": [0, 1, 2, 3]]))
        #expect(a2.memberEpoch == 1)
        let kept = a2.assignment!["orders"]!
        #expect(kept.count == 2)
        // Still owning them: nothing changes.
        let a3 = beat(h, gc, ConsumerGroupHeartbeatInput(groupId: "cg", memberId: "A", memberEpoch: 1, topicPartitions: ["orders": [0, 1, 2, 3]]))
        #expect(a3.memberEpoch == 1)
        let a4 = beat(h, gc, ConsumerGroupHeartbeatInput(groupId: "cg", memberId: "A", memberEpoch: 1, topicPartitions: ["orders": Set(kept)]))
        #expect(a4.memberEpoch == 2 && a4.assignment == nil)

        // Released: B now receives the other two.
        let b2 = beat(h, gc, ConsumerGroupHeartbeatInput(groupId: "cg", memberId: "B", memberEpoch: 2, topicPartitions: [:]))
        #expect(b2.memberEpoch == 2)
        #expect(Set(b2.assignment!["orders"]!) == Set(0..<4).subtracting(kept))
        #expect(gc.consumerSnapshot(of: "cg")?.state == .stable)

        let described = gc.describeConsumerGroups(["cg", "none"], now: h.now)
        #expect(described[0].groupState == "Stable" && described[0].groupEpoch == 2 && described[0].assignorName == "uniform")
        #expect(described[0].members.map(\.memberId) == ["A", "B"])
        #expect(described[0].members[1].assignment == described[0].members[1].targetAssignment)
        #expect(described[1].errorCode == CoordinatorErrorCode.groupIdNotFound)
    }

    @Test func fencingAndUnknownMembers() {
        let (h, gc, _) = make()
        _ = beat(h, gc, join("A"))
        #expect(beat(h, gc, ConsumerGroupHeartbeatInput(groupId: "cg", memberId: "A", memberEpoch: 7)).errorCode == CoordinatorErrorCode.fencedMemberEpoch)
        #expect(beat(h, gc, ConsumerGroupHeartbeatInput(groupId: "cg", memberId: "Z", memberEpoch: 1)).errorCode == CoordinatorErrorCode.unknownMemberId)
        #expect(beat(h, gc, ConsumerGroupHeartbeatInput(groupId: "nope", memberId: "A", memberEpoch: 1)).errorCode == CoordinatorErrorCode.unknownMemberId)
        #expect(beat(h, gc, ConsumerGroupHeartbeatInput(groupId: "cg", memberId: "Q", memberEpoch: 0)).errorCode == CoordinatorErrorCode.invalidRequest)
        var bad = join("Q")
        bad.serverAssignor = "sticky"
        #expect(beat(h, gc, bad).errorCode == CoordinatorErrorCode.unsupportedAssignor)
        // B joins and moves A's epoch forward; a heartbeat with A's previous epoch is a lost response only if
        // the partitions it reports are a subset of its assignment.
        _ = beat(h, gc, join("B"))
        let kept = beat(h, gc, ConsumerGroupHeartbeatInput(groupId: "cg", memberId: "A", memberEpoch: 1, topicPartitions: ["orders": [0, 1, 2, 3]])).assignment!
        _ = beat(h, gc, ConsumerGroupHeartbeatInput(groupId: "cg", memberId: "A", memberEpoch: 1, topicPartitions: kept.toSets))
        #expect(beat(h, gc, ConsumerGroupHeartbeatInput(groupId: "cg", memberId: "A", memberEpoch: 1, topicPartitions: kept.toSets)).errorCode == 0)
        #expect(beat(h, gc, ConsumerGroupHeartbeatInput(groupId: "cg", memberId: "A", memberEpoch: 1, topicPartitions: ["orders": [0, 1, 2, 3]])).errorCode
                == CoordinatorErrorCode.fencedMemberEpoch)
        // Classic joins cannot enter a consumer group, and a classic group is not a consumer group.
        let (classicJoin, _) = gc.joinGroup(JoinGroupInput(groupId: "cg", protocols: [range]), requestId: 1, now: h.now)
        #expect(classicJoin?.errorCode == CoordinatorErrorCode.inconsistentGroupProtocol)
    }

    @Test func leaveAndSessionExpiryReleasePartitions() {
        let (h, gc, _) = make()
        _ = beat(h, gc, join("A"))
        _ = beat(h, gc, join("B"))
        let leave = beat(h, gc, ConsumerGroupHeartbeatInput(groupId: "cg", memberId: "B", memberEpoch: -1))
        #expect(leave.errorCode == 0 && leave.memberEpoch == -1)
        #expect(gc.consumerSnapshot(of: "cg")?.state == .assigning)
        let a = beat(h, gc, ConsumerGroupHeartbeatInput(groupId: "cg", memberId: "A", memberEpoch: 1, topicPartitions: ["orders": [0, 1, 2, 3]]))
        #expect(a.memberEpoch == 3 && a.assignment == nil)
        #expect(gc.consumerSnapshot(of: "cg")?.state == .stable)
        // A stops heartbeating: after the 45 s session it is fenced and the group is empty.
        h.advance(by: 45_001)
        h.apply(gc.timerExpired(.consumerSession(groupId: "cg", memberId: "A"), now: h.now))
        #expect(gc.consumerSnapshot(of: "cg")?.state == .empty)
        #expect(gc.consumerSnapshot(of: "cg")?.members.isEmpty == true)
    }

    @Test func memberThatDoesNotRevokeWithinRebalanceTimeoutIsFenced() {
        let (h, gc, _) = make()
        _ = beat(h, gc, join("A"))
        _ = beat(h, gc, join("B"))
        _ = beat(h, gc, ConsumerGroupHeartbeatInput(groupId: "cg", memberId: "A", memberEpoch: 1, topicPartitions: ["orders": [0, 1, 2, 3]]))
        #expect(h.timers[.consumerRebalance(groupId: "cg", memberId: "A")] == h.now + 30_000)
        h.now += 30_000
        h.apply(gc.timerExpired(.consumerRebalance(groupId: "cg", memberId: "A"), now: h.now))
        #expect(gc.consumerSnapshot(of: "cg")?.members.keys.sorted() == ["B"])
        let b = beat(h, gc, ConsumerGroupHeartbeatInput(groupId: "cg", memberId: "B", memberEpoch: 2, topicPartitions: [:]))
        #expect(b.assignment == ["orders": [0, 1, 2, 3]])
    }

    @Test func newTopicTriggersAssignment() {
        let (h, gc, topics) = make([:])
        let a = beat(h, gc, join("A", topics: ["later"]))
        #expect(a.memberEpoch == 1 && a.assignment == [:])
        topics.counts["later"] = 2
        let a2 = beat(h, gc, ConsumerGroupHeartbeatInput(groupId: "cg", memberId: "A", memberEpoch: 1))
        #expect(a2.memberEpoch == 2 && a2.assignment == ["later": [0, 1]])
    }

    @Test func rangeAssignorOnRequest() {
        let (h, gc, _) = make(["orders": 3])
        var input = join("A")
        input.serverAssignor = "range"
        _ = beat(h, gc, input)
        #expect(gc.describeConsumerGroups(["cg"], now: h.now)[0].assignorName == "range")
    }

    @Test func offsetCommitsUseMemberEpochs() {
        let (h, gc, _) = make()
        _ = beat(h, gc, join("A"))
        let (ok, written) = gc.commitOffsets(commitInput("cg", generation: 1, member: "A", [("orders", 0, 10)]), now: h.now)
        #expect(codes(ok) == [0])
        for case .append(_, let records) in written { gc.appendCompleted(records, succeeded: true) }
        #expect(codes(gc.commitOffsets(commitInput("cg", generation: 0, member: "A", [("orders", 0, 10)]), now: h.now).0) == [CoordinatorErrorCode.staleMemberEpoch])
        #expect(codes(gc.commitOffsets(commitInput("cg", generation: 2, member: "A", [("orders", 0, 10)]), now: h.now).0) == [CoordinatorErrorCode.fencedMemberEpoch])
        #expect(codes(gc.commitOffsets(commitInput("cg", generation: 1, member: "X", [("orders", 0, 10)]), now: h.now).0) == [CoordinatorErrorCode.unknownMemberId])
        let fetched = gc.fetchOffsets(OffsetFetchInput(groups: [OffsetFetchGroup(groupId: "cg", topics: nil)]), now: h.now)
        #expect(fetched.groups[0].topics[0].partitions[0].committedOffset == 10)
        #expect(gc.deleteGroups(["cg"], now: h.now).0[0].errorCode == CoordinatorErrorCode.nonEmptyGroup)
        #expect(gc.listGroups(ListGroupsInput(typesFilter: ["consumer"]), now: h.now).groups.map(\.groupId) == ["cg"])
    }

    @Test func replayRebuildsConsumerGroups() {
        let (h, gc, topics) = make(["orders": 4, "pay": 2])
        func run(_ input: ConsumerGroupHeartbeatInput) { _ = beat(h, gc, input) }
        run(join("A", topics: ["orders", "pay"]))
        run(join("B"))
        run(ConsumerGroupHeartbeatInput(groupId: "cg", memberId: "A", memberEpoch: 1, topicPartitions: ["orders": [0, 1, 2, 3], "pay": [0, 1]]))
        h.apply(gc.commitOffsets(commitInput("cg", generation: 2, member: "B", [("orders", 1, 5)]), now: h.now).1)
        run(join("C"))
        run(ConsumerGroupHeartbeatInput(groupId: "cg", memberId: "C", memberEpoch: -1))
        // Records went through the harness only for the heartbeats and commit applied above.
        let fresh = GroupCoordinator(config: gc.config, partitionCount: { topics.counts[$0] })
        let partition = gc.partition(for: "cg")
        _ = fresh.load(partition: partition, records: h.records, now: h.now)
        #expect(fresh.consumerSnapshot(of: "cg") == gc.consumerSnapshot(of: "cg"))
        #expect(fresh.consumerSnapshot(of: "cg") != nil)
    }
}
