import Foundation
import KafkaProtocol
import NIOCore
import Testing
import TernStorage

@testable import TernBroker

/// The epoch checks through the API handlers (ListOffsets, OffsetForLeaderEpoch, Fetch) of a broker whose
/// partition is given a cluster role directly, as the ZooKeeper watches would.
@Suite struct LeaderEpochApiTests {
    private func listOffsets(_ f: AdminFixture, epoch: Int32, timestamp: Int64 = -1, version: Int16 = 7)
        throws -> ListOffsetsResponse.ListOffsetsPartitionResponse
    {
        var request = ListOffsetsRequest()
        request.replicaId = -1
        var t = ListOffsetsRequest.ListOffsetsTopic()
        t.name = "t"
        var p = ListOffsetsRequest.ListOffsetsPartition()
        p.partitionIndex = 0
        p.currentLeaderEpoch = epoch
        p.timestamp = timestamp
        t.partitions = [p]
        request.topics = [t]
        return try f.broker.listOffsets(request, f.ctx(.listOffsets, version)).topics[0].partitions[0]
    }

    private func epochEnd(_ f: AdminFixture, current: Int32, epoch: Int32) throws -> OffsetForLeaderEpochResponse.EpochEndOffset {
        var request = OffsetForLeaderEpochRequest()
        var t = OffsetForLeaderEpochRequest.OffsetForLeaderTopic()
        t.topic = "t"
        var p = OffsetForLeaderEpochRequest.OffsetForLeaderPartition()
        p.partition = 0
        p.currentLeaderEpoch = current
        p.leaderEpoch = epoch
        t.partitions = [p]
        request.topics = [t]
        return try f.broker.offsetForLeaderEpoch(request, f.ctx(.offsetForLeaderEpoch, 3)).topics[0].partitions[0]
    }

    private func fetch(_ f: AdminFixture, epoch: Int32, version: Int16) throws -> FetchResponse.PartitionData {
        var request = FetchRequest()
        request.replicaId = -1
        request.maxWaitMs = 0
        request.maxBytes = 1 << 20
        var t = FetchRequest.FetchTopic()
        t.topic = "t"
        var p = FetchRequest.FetchPartition()
        p.partition = 0
        p.currentLeaderEpoch = epoch
        p.partitionMaxBytes = 1 << 20
        t.partitions = [p]
        request.topics = [t]
        let response = try f.broker.fetch(request, f.ctx(.fetch, version)).wait()
        return try #require(response).responses[0].partitions[0]
    }

    @Test func staleAndFutureEpochsAreFencedOnEveryApi() throws {
        let f = try AdminFixture()
        try f.createTopic("t")
        try f.append("t", 0, count: 3)
        let partition = try #require(f.broker.replicaManager.partition(topic: "t", index: 0))
        partition.setRole(leader: f.broker.brokerId, leaderEpoch: 5, isr: [f.broker.brokerId], localBrokerId: f.broker.brokerId)

        #expect(try listOffsets(f, epoch: 4).errorCode == ErrorCode.fencedLeaderEpoch.rawValue)
        #expect(try listOffsets(f, epoch: 6).errorCode == ErrorCode.unknownLeaderEpoch.rawValue)
        #expect(try listOffsets(f, epoch: 4, version: 3).errorCode == 0, "no epoch before v4")
        let ok = try listOffsets(f, epoch: 5)
        #expect(ok.errorCode == 0 && ok.offset == 3 && ok.leaderEpoch == 5)

        #expect(try epochEnd(f, current: 4, epoch: 0).errorCode == ErrorCode.fencedLeaderEpoch.rawValue)
        #expect(try epochEnd(f, current: 6, epoch: 0).errorCode == ErrorCode.unknownLeaderEpoch.rawValue)
        #expect(try epochEnd(f, current: -1, epoch: 0).errorCode == 0)

        for version: Int16 in [9, 12] {
            #expect(try fetch(f, epoch: 4, version: version).errorCode == ErrorCode.fencedLeaderEpoch.rawValue)
            #expect(try fetch(f, epoch: 6, version: version).errorCode == ErrorCode.unknownLeaderEpoch.rawValue)
            #expect(try fetch(f, epoch: 5, version: version).errorCode == 0)
        }
        #expect(try fetch(f, epoch: 4, version: 8).errorCode == 0, "no epoch before v9")
    }

    @Test func aFollowerServesOnlyFetchesFromV11AndNeverOffsetLookups() throws {
        let f = try AdminFixture()
        try f.createTopic("t")
        let partition = try #require(f.broker.replicaManager.partition(topic: "t", index: 0))
        partition.setRole(leader: 42, leaderEpoch: 2, isr: [42, f.broker.brokerId], localBrokerId: f.broker.brokerId)
        #expect(try fetch(f, epoch: 2, version: 10).errorCode == ErrorCode.notLeaderOrFollower.rawValue)
        #expect(try fetch(f, epoch: 2, version: 11).errorCode == 0)
        #expect(try listOffsets(f, epoch: 2).errorCode == ErrorCode.notLeaderOrFollower.rawValue)
        #expect(try epochEnd(f, current: 2, epoch: 2).errorCode == ErrorCode.notLeaderOrFollower.rawValue)
    }

    @Test func aNewLeaderBehindItsEpochStartAnswersOffsetNotAvailable() throws {
        let f = try AdminFixture()
        try f.createTopic("t")
        let me = f.broker.brokerId
        let partition = try #require(f.broker.replicaManager.partition(topic: "t", index: 0))
        partition.setRole(leader: 42, leaderEpoch: 1, isr: [42, me], localBrokerId: me)
        var b = RecordBatchBuilder(baseOffset: 0)
        for i in 0..<4 { b.append(key: nil, value: ByteBuffer(string: "v\(i)"), timestamp: 1000 + Int64(i)) }
        try partition.appendAsFollower(try b.build(), leaderHighWatermark: 1)
        partition.setRole(leader: me, leaderEpoch: 2, isr: [me, 42], localBrokerId: me)
        let latest = try listOffsets(f, epoch: 2)
        #expect(latest.errorCode == ErrorCode.offsetNotAvailable.rawValue && latest.offset == -1)
        #expect(try listOffsets(f, epoch: 2, timestamp: -2).errorCode == 0, "earliest is always known")
        #expect(try listOffsets(f, epoch: 2, timestamp: 1000).offset == 0, "found below the high watermark")
        #expect(try listOffsets(f, epoch: 2, timestamp: 1003).errorCode == ErrorCode.offsetNotAvailable.rawValue)
        partition.recordFollowerFetch(replicaId: 42, fetchOffset: 4, nowMs: 1)
        let after = try listOffsets(f, epoch: 2)
        #expect(after.errorCode == 0 && after.offset == 4)
    }
}
