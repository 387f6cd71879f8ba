import Testing
@testable import TernCoordinator

func commitInput(_ group: String, generation: Int32 = -1, member: String = "", instance: String? = nil,
                 _ offsets: [(String, Int32, Int64)], metadata: String? = nil, retentionMs: Int64 = -1) -> OffsetCommitInput {
    var topics: [OffsetCommitTopic] = []
    for (topic, partition, offset) in offsets {
        let p = OffsetCommitPartition(partitionIndex: partition, committedOffset: offset, committedLeaderEpoch: 3, committedMetadata: metadata)
        if let i = topics.firstIndex(where: { $0.name == topic }) { topics[i].partitions.append(p) } else { topics.append(OffsetCommitTopic(name: topic, partitions: [p])) }
    }
    return OffsetCommitInput(groupId: group, generationId: generation, memberId: member, groupInstanceId: instance, retentionTimeMs: retentionMs, topics: topics)
}

func codes(_ result: OffsetCommitResult) -> [Int16] { result.topics.flatMap { $0.partitions.map(\.errorCode) } }

@Suite struct OffsetCommitTests {
    @Test func memberCommitEmitsOneRecordPerPartition() {
        let h = Harness()
        let members = h.stableGroup("g", clients: ["c1"])
        let before = h.records.count
        let result = h.commit(commitInput("g", generation: 1, member: members[0], [("orders", 0, 10), ("orders", 1, 20), ("pay", 0, 5)], metadata: "m"))
        #expect(codes(result) == [0, 0, 0])
        #expect(result.topics.map(\.name) == ["orders", "pay"])
        #expect(Array(h.records[before...]) == [
            .offsetCommit(key: .init(groupId: "g", topic: "orders", partition: 0), value: .init(offset: 10, leaderEpoch: 3, metadata: "m", commitTimestamp: h.now, expireTimestamp: nil)),
            .offsetCommit(key: .init(groupId: "g", topic: "orders", partition: 1), value: .init(offset: 20, leaderEpoch: 3, metadata: "m", commitTimestamp: h.now, expireTimestamp: nil)),
            .offsetCommit(key: .init(groupId: "g", topic: "pay", partition: 0), value: .init(offset: 5, leaderEpoch: 3, metadata: "m", commitTimestamp: h.now, expireTimestamp: nil)),
        ])
        #expect(h.appends.count >= 1 && h.appends.last!.records.count == 3)
    }

    @Test func staleGenerationIsIllegalGeneration() {
        let h = Harness()
        let members = h.stableGroup("g", clients: ["c1"])
        let before = h.records.count
        #expect(codes(h.commit(commitInput("g", generation: 0, member: members[0], [("t", 0, 1)]))) == [CoordinatorErrorCode.illegalGeneration])
        #expect(codes(h.commit(commitInput("missing", generation: 4, member: "m", [("t", 0, 1)]))) == [CoordinatorErrorCode.illegalGeneration])
        #expect(h.records.count == before)
    }

    @Test func unknownMemberIsUnknownMemberId() {
        let h = Harness()
        _ = h.stableGroup("g", clients: ["c1"])
        #expect(codes(h.commit(commitInput("g", generation: 1, member: "stranger", [("t", 0, 1)]))) == [CoordinatorErrorCode.unknownMemberId])
        // A simple-consumer commit (generation -1, no member) into a group with members is refused too.
        #expect(codes(h.commit(commitInput("g", [("t", 0, 1)]))) == [CoordinatorErrorCode.unknownMemberId])
    }

    @Test func commitWhileCompletingRebalanceIsRebalanceInProgress() {
        let h = Harness()
        let a = h.joinNew("g", clientId: "a")
        h.advance(until: { h.joins[a.request] != nil })
        #expect(codes(h.commit(commitInput("g", generation: 1, member: a.memberId, [("t", 0, 1)]))) == [CoordinatorErrorCode.rebalanceInProgress])
    }

    @Test func commitWhilePreparingRebalanceIsAllowed() {
        let h = Harness()
        let members = h.stableGroup("g", clients: ["c1", "c2"])
        _ = h.join(JoinGroupInput(groupId: "g", memberId: members[0], protocols: [range], clientId: "c1"))
        #expect(h.gc.state(of: "g") == .preparingRebalance)
        #expect(codes(h.commit(commitInput("g", generation: 1, member: members[1], [("t", 0, 1)]))) == [0])
    }

    @Test func simpleConsumerCommitCreatesEmptyGroup() {
        let h = Harness()
        #expect(codes(h.commit(commitInput("admin", [("t", 0, 42)]))) == [0])
        #expect(h.gc.state(of: "admin") == .empty)
        #expect(h.gc.listGroups(ListGroupsInput(), now: h.now).groups == [ListedGroup(groupId: "admin", protocolType: "", groupState: "Empty", groupType: "classic")])
    }

    @Test func metadataTooLargeFailsOnlyThatPartition() {
        var config = Harness.defaultConfig()
        config.offsetMetadataMaxBytes = 4
        let h = Harness(config: config)
        var input = commitInput("g", [("t", 0, 1), ("t", 1, 2)])
        input.topics[0].partitions[0].committedMetadata = "too long"
        #expect(codes(h.commit(input)) == [CoordinatorErrorCode.offsetMetadataTooLarge, 0])
        #expect(h.records.count == 1)
    }
}

@Suite struct OffsetFetchDeleteTests {
    @Test func fetchAnswersMinusOneForNoCommit() {
        let h = Harness()
        _ = h.commit(commitInput("g", [("t", 0, 7)], metadata: "meta"))
        let result = h.gc.fetchOffsets(OffsetFetchInput(groups: [OffsetFetchGroup(groupId: "g", topics: [OffsetFetchTopic(name: "t", partitionIndexes: [0, 1])])]), now: h.now)
        #expect(result.groups[0].topics[0].partitions == [
            OffsetFetchPartition(partitionIndex: 0, committedOffset: 7, committedLeaderEpoch: 3, metadata: "meta", errorCode: 0),
            OffsetFetchPartition(partitionIndex: 1, committedOffset: -1, committedLeaderEpoch: -1, metadata: "", errorCode: 0),
        ])
        let unknown = h.gc.fetchOffsets(OffsetFetchInput(groups: [OffsetFetchGroup(groupId: "nobody", topics: [OffsetFetchTopic(name: "t", partitionIndexes: [3])])]), now: h.now)
        #expect(unknown.groups[0].errorCode == 0 && unknown.groups[0].topics[0].partitions[0].committedOffset == -1)
    }

    @Test func fetchAllTopicsAndSeveralGroups() {
        let h = Harness()
        _ = h.commit(commitInput("g1", [("b", 1, 11), ("a", 0, 10), ("b", 0, 12)]))
        _ = h.commit(commitInput("g2", [("c", 0, 1)]))
        let result = h.gc.fetchOffsets(OffsetFetchInput(groups: [OffsetFetchGroup(groupId: "g1", topics: nil), OffsetFetchGroup(groupId: "g2", topics: nil), OffsetFetchGroup(groupId: "g3", topics: nil)]), now: h.now)
        #expect(result.groups.map(\.groupId) == ["g1", "g2", "g3"])
        #expect(result.groups[0].topics.map(\.name) == ["a", "b"])
        #expect(result.groups[0].topics[1].partitions.map(\.committedOffset) == [12, 11])
        #expect(result.groups[1].topics[0].partitions.map(\.committedOffset) == [1])
        #expect(result.groups[2].topics.isEmpty)
    }

    @Test func offsetDeleteRefusesSubscribedTopicsOfActiveConsumerGroup() {
        let h = Harness()
        let members = h.stableGroup("g", clients: ["c1"]) // subscribed to "orders"
        _ = h.commit(commitInput("g", generation: 1, member: members[0], [("orders", 0, 1), ("old", 0, 2)]))
        let before = h.records.count
        let (result, actions) = h.gc.deleteOffsets(OffsetDeleteInput(groupId: "g", topics: [
            OffsetFetchTopic(name: "orders", partitionIndexes: [0]), OffsetFetchTopic(name: "old", partitionIndexes: [0]),
        ]), now: h.now)
        h.apply(actions)
        #expect(result.errorCode == 0)
        #expect(result.topics.map { $0.partitions[0].errorCode } == [CoordinatorErrorCode.groupSubscribedToTopic, 0])
        #expect(Array(h.records[before...]) == [.offsetCommit(key: .init(groupId: "g", topic: "old", partition: 0), value: nil)])
        #expect(h.gc.deleteOffsets(OffsetDeleteInput(groupId: "none", topics: []), now: h.now).0.errorCode == CoordinatorErrorCode.groupIdNotFound)
    }

    @Test func emptyGroupOffsetsExpireAfterRetentionAndGroupIsRemoved() {
        var config = Harness.defaultConfig()
        config.offsetsRetentionMs = 60_000
        config.offsetsRetentionCheckIntervalMs = 10_000
        let h = Harness(config: config)
        h.apply(h.gc.start(now: h.now))
        let members = h.stableGroup("g", clients: ["c1"])
        _ = h.commit(commitInput("g", generation: 1, member: members[0], [("orders", 0, 1)]))
        _ = h.leave("g", [LeaveGroupMember(memberId: members[0])])
        #expect(h.gc.state(of: "g") == .empty)
        let emptySince = h.now
        h.advance(by: 50_000)
        #expect(h.gc.state(of: "g") == .empty)
        let before = h.records.count
        h.advance(by: 20_000)
        #expect(h.now - emptySince >= 60_000)
        #expect(h.gc.state(of: "g") == nil)
        #expect(Array(h.records[before...]) == [
            .offsetCommit(key: .init(groupId: "g", topic: "orders", partition: 0), value: nil),
            .groupMetadata(groupId: "g", value: nil),
        ])
    }

    @Test func explicitRetentionAndSimpleConsumerOffsetsExpireFromCommitTime() {
        var config = Harness.defaultConfig()
        config.offsetsRetentionMs = 60_000
        config.offsetsRetentionCheckIntervalMs = 1_000
        let h = Harness(config: config)
        h.apply(h.gc.start(now: h.now))
        _ = h.commit(commitInput("short", [("t", 0, 1)], retentionMs: 5_000))
        _ = h.commit(commitInput("simple", [("t", 0, 1)]))
        h.advance(by: 6_000)
        #expect(h.gc.state(of: "short") == nil)
        #expect(h.gc.state(of: "simple") == .empty)
        h.advance(by: 55_000)
        #expect(h.gc.state(of: "simple") == nil)
        // Offset-only groups (generation 0) never wrote metadata, so no group tombstone.
        #expect(!h.records.contains(.groupMetadata(groupId: "simple", value: nil)))
    }
}
