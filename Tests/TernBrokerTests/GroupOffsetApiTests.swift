import Foundation
import KafkaProtocol
import NIOCore
import Testing
import TernCoordinator

@testable import TernBroker

@Suite struct GroupOffsetApiTests {
    /// Commit at every OffsetCommit version, read back at every OffsetFetch version.
    @Test(arguments: Array(Int16(0)...9))
    func commitAndFetchAtVersion(_ commitVersion: Int16) async throws {
        let f = try await GroupFixture()
        try f.createTopic("t", partitions: 2)
        let group = "g-commit-v\(commitVersion)"
        let committed = try await f.send(
            GroupRequests.commit(group, [("t", 0, 17), ("t", 1, 42), ("t", 5, 1), ("nope", 0, 3)]), commitVersion)
        #expect(committed.topics.map(\.name) == ["t", "nope"])
        #expect(committed.topics[0].partitions.map(\.errorCode) == [0, 0, ErrorCode.unknownTopicOrPartition.rawValue])
        #expect(committed.topics[1].partitions.map(\.errorCode) == [ErrorCode.unknownTopicOrPartition.rawValue])
        for fetchVersion in Int16(0)...9 {
            let fetched = try await f.send(GroupRequests.fetch(group, ["t": [0, 1, 2], "never": [0]], version: fetchVersion), fetchVersion)
            let got = fetchedOffsets(fetched, version: fetchVersion)
            #expect(got.map(\.0) == ["never", "t", "t", "t"], "v\(fetchVersion)")
            #expect(got.map(\.2) == [-1, 17, 42, -1], "v\(fetchVersion)")
            #expect(got.allSatisfy { $0.3 == 0 })
            if fetchVersion >= 8 {
                #expect(fetched.groups.map(\.groupId) == [group] && fetched.groups[0].errorCode == 0)
                let never = fetched.groups[0].topics.first { $0.name == "never" }!.partitions[0]
                #expect(never.metadata == "" && never.committedLeaderEpoch == -1)
                #expect(fetched.groups[0].topics.first { $0.name == "t" }!.partitions[0].metadata == "m17")
            } else {
                let never = fetched.topics.first { $0.name == "never" }!.partitions[0]
                #expect(never.metadata == "")
                #expect(fetched.topics.first { $0.name == "t" }!.partitions[0].metadata == "m17")
            }
            if fetchVersion >= 2 {
                // Null topics: everything the group committed.
                let all = try await f.send(GroupRequests.fetch(group, nil, version: fetchVersion), fetchVersion)
                #expect(fetchedOffsets(all, version: fetchVersion).map(\.2) == [17, 42], "v\(fetchVersion)")
            }
        }
    }

    @Test func multiGroupFetch() async throws {
        let f = try await GroupFixture()
        try f.createTopic("t")
        _ = try await f.send(GroupRequests.commit("a", [("t", 0, 1)]), 8)
        _ = try await f.send(GroupRequests.commit("b", [("t", 0, 2)]), 8)
        var r = OffsetFetchRequest()
        r.groups = ["a", "b", "c", ""].map {
            var g = OffsetFetchRequest.OffsetFetchRequestGroup()
            g.groupId = $0
            g.topics = nil
            return g
        }
        let answer = try await f.send(r, 9)
        #expect(answer.groups.map(\.groupId) == ["a", "b", "c", ""])
        #expect(answer.groups.map(\.errorCode) == [0, 0, 0, CoordinatorErrorCode.invalidGroupId])
        #expect(answer.groups.map { $0.topics.first?.partitions.first?.committedOffset } == [1, 2, nil, nil])
    }

    @Test func memberCommitsAreFenced() async throws {
        let f = try await GroupFixture()
        try f.createTopic("t")
        let joined = try await f.send(GroupRequests.join("g"), 3)
        _ = try await f.send(GroupRequests.sync("g", generation: joined.generationId, memberId: joined.memberId,
                                                assignments: [joined.memberId: []]), 3)
        func commit(_ generation: Int32, _ member: String) async throws -> Int16 {
            try await f.send(GroupRequests.commit("g", generation: generation, memberId: member, [("t", 0, 5)]), 7)
                .topics[0].partitions[0].errorCode
        }
        #expect(try await commit(joined.generationId, joined.memberId) == 0)
        #expect(try await commit(joined.generationId + 1, joined.memberId) == CoordinatorErrorCode.illegalGeneration)
        #expect(try await commit(joined.generationId, "stranger") == CoordinatorErrorCode.unknownMemberId)
        // A simple-consumer commit into a group with members is refused too.
        #expect(try await commit(-1, "") != 0)
        #expect(try await f.send(GroupRequests.commit("", [("t", 0, 5)]), 7).topics[0].partitions[0].errorCode
            == CoordinatorErrorCode.invalidGroupId)
    }

    @Test func commitsAndGroupsSurviveARestart() async throws {
        let f = try await GroupFixture()
        try f.createTopic("t", partitions: 3)
        _ = try await f.send(GroupRequests.commit("plain", [("t", 0, 17), ("t", 1, 42), ("t", 2, 99)]), 8)
        _ = try await f.send(GroupRequests.commit("plain", [("t", 1, 43)]), 8)
        var retained = GroupRequests.commit("retained", [("t", 0, 7)])
        retained.retentionTimeMs = 3_600_000
        _ = try await f.send(retained, 2)
        let joined = try await f.send(GroupRequests.join("members"), 3)
        _ = try await f.send(GroupRequests.sync("members", generation: 1, memberId: joined.memberId,
                                                assignments: [joined.memberId: [4, 2]]), 3)

        try await f.restart()

        let plain = try await f.send(GroupRequests.fetch("plain", ["t": [0, 1, 2]], version: 6), 6)
        #expect(fetchedOffsets(plain, version: 6).map(\.2) == [17, 43, 99])
        let kept = try await f.send(GroupRequests.fetch("retained", ["t": [0]], version: 6), 6)
        #expect(fetchedOffsets(kept, version: 6).map(\.2) == [7])
        var describe = DescribeGroupsRequest()
        describe.groups = ["members"]
        let described = try await f.send(describe, 5).groups[0]
        #expect(described.groupState == "Stable")
        #expect(described.members.map(\.memberId) == [joined.memberId])
        #expect(Array(described.members[0].memberAssignment.readableBytesView) == [4, 2])
        // The restored member keeps its generation.
        #expect(try await f.send(GroupRequests.heartbeat("members", generation: 1, memberId: joined.memberId), 4).errorCode == 0)
    }

    @Test func offsetDelete() async throws {
        let f = try await GroupFixture()
        try f.createTopic("t", partitions: 2)
        _ = try await f.send(GroupRequests.commit("g", [("t", 0, 1), ("t", 1, 2)]), 8)
        var r = OffsetDeleteRequest()
        r.groupId = "g"
        let wanted: [(String, [Int32])] = [("t", [0]), ("gone", [0])]
        r.topics = wanted.map { name, parts in
            var t = OffsetDeleteRequest.OffsetDeleteRequestTopic()
            t.name = name
            t.partitions = parts.map {
                var p = OffsetDeleteRequest.OffsetDeleteRequestPartition()
                p.partitionIndex = $0
                return p
            }
            return t
        }
        let answer = try await f.send(r, 0)
        #expect(answer.errorCode == 0)
        #expect(answer.topics.map { $0.partitions.map(\.errorCode) } == [[0], [ErrorCode.unknownTopicOrPartition.rawValue]])
        let fetched = try await f.send(GroupRequests.fetch("g", ["t": [0, 1]], version: 7), 7)
        #expect(fetchedOffsets(fetched, version: 7).map(\.2) == [-1, 2])
        r.groupId = "missing"
        #expect(try await f.send(r, 0).errorCode == CoordinatorErrorCode.groupIdNotFound)
        try await f.restart()
        let again = try await f.send(GroupRequests.fetch("g", ["t": [0, 1]], version: 7), 7)
        #expect(fetchedOffsets(again, version: 7).map(\.2) == [-1, 2])
    }
}

@Suite struct GroupLoadingTests {
    /// Until `__consumer_offsets` is replayed, group requests answer COORDINATOR_LOAD_IN_PROGRESS; FindCoordinator
    /// still names this broker (clients then retry the group request).
    @Test func groupRequestsWaitForTheLoad() async throws {
        let f = try await GroupFixture()
        try f.createTopic("t")
        _ = try await f.send(GroupRequests.commit("g", [("t", 0, 9)]), 8)
        f.broker.shutdown()
        let (gate, open) = AsyncStream<Void>.makeStream()
        try await f.reopen(start: false)
        try f.broker.coordinator.start(broker: f.broker, beforeLoading: { for await _ in gate { return } })
        let loading = CoordinatorErrorCode.coordinatorLoadInProgress
        #expect(try await f.send(GroupRequests.heartbeat("g", generation: 1, memberId: "m"), 4).errorCode == loading)
        #expect(try await f.send(GroupRequests.commit("g", [("t", 0, 10)]), 8).topics[0].partitions[0].errorCode == loading)
        #expect(try await f.send(GroupRequests.fetch("g", ["t": [0]], version: 8), 8).groups[0].errorCode == loading)
        let fetchedV1 = try await f.send(GroupRequests.fetch("g", ["t": [0]], version: 1), 1)
        #expect(fetchedV1.topics[0].partitions[0].errorCode == loading)
        #expect(try await f.send(ListGroupsRequest(), 3).errorCode == loading)
        var find = FindCoordinatorRequest()
        find.key = "g"
        #expect(try await f.send(find, 3).errorCode == 0)
        open.yield()
        open.finish()
        try await f.waitUntilLoaded()
        let fetched = try await f.send(GroupRequests.fetch("g", ["t": [0]], version: 8), 8)
        #expect(fetchedOffsets(fetched, version: 8).map(\.2) == [9])
    }
}

@Suite struct GroupRequestOrderTests {
    /// A commit and the fetch pipelined behind it on one connection: the fetch always sees the commit, as with
    /// Kafka, which reads a connection's next request only after answering the current one.
    @Test func pipelinedCommitThenFetchApplyInOrder() async throws {
        let f = try await GroupFixture()
        try f.createTopic("t")
        for i in Int64(1)...50 {
            let commit = try f.dispatch(GroupRequests.commit("g", [("t", 0, i)]), 8)
            let fetch = try f.dispatch(GroupRequests.fetch("g", ["t": [0]], version: 8), 8)
            #expect(try await commit.get().topics[0].partitions[0].errorCode == 0)
            #expect(fetchedOffsets(try await fetch.get(), version: 8).map(\.2) == [i])
        }
    }
}
