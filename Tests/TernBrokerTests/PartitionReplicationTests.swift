import Foundation
import KafkaProtocol
import Logging
import NIOCore
import Testing
import TernStorage

@testable import TernBroker

/// The leader's high watermark over the ISR, ISR shrink/expand proposals, and follower appends and truncation,
/// on real logs in a temporary directory (no network, no ZooKeeper).
@Suite struct PartitionReplicationTests {
    let logger = Logger(label: "test")

    private func makePartition(_ name: String) throws -> (Partition, String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tern-repl-\(UUID().uuidString)").path
        let manager = LogManager(logDirs: [dir], logger: logger)
        _ = try manager.startup()
        let tp = TopicPartition(topic: name, partition: 0)
        return (Partition(topicPartition: tp, log: try manager.getOrCreateLog(tp), logger: logger), dir)
    }

    private func batch(count: Int, epoch: Int32 = 0, baseOffset: Int64 = 0) -> ByteBuffer {
        var b = RecordBatchBuilder(baseOffset: baseOffset)
        for i in 0..<count { b.append(key: nil, value: ByteBuffer(string: "v\(i)"), timestamp: 0) }
        var buffer = try! b.build()
        buffer.setInteger(epoch, at: buffer.readerIndex + 12)  // partitionLeaderEpoch, as a leader stamps it
        return buffer
    }

    private func appendAsLeader(_ p: Partition, _ count: Int) throws {
        let records = batch(count: count)
        _ = try p.appendAsLeader(records, headers: try RecordBatchValidator.validate(records, options: .init()))
    }

    @Test func aloneTheHighWatermarkIsTheLogEnd() throws {
        let (p, dir) = try makePartition("alone")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try appendAsLeader(p, 3)
        #expect(p.log.highWatermark == 3)
        #expect(p.inSyncReplicaCount == 1)
    }

    @Test func leaderHighWatermarkIsTheIsrMinimum() throws {
        let (p, dir) = try makePartition("leader")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        p.setRole(leader: 0, leaderEpoch: 1, isr: [0, 1, 2], localBrokerId: 0)
        try appendAsLeader(p, 5)
        #expect(p.log.logEndOffset == 5)
        #expect(p.log.highWatermark == 0, "nothing is committed before the followers fetch")
        #expect(p.recordFollowerFetch(replicaId: 1, fetchOffset: 5, nowMs: 1000) == false, "follower 2 still at 0")
        #expect(p.recordFollowerFetch(replicaId: 2, fetchOffset: 3, nowMs: 1000))
        #expect(p.log.highWatermark == 3)
        p.recordFollowerFetch(replicaId: 2, fetchOffset: 5, nowMs: 1000)
        #expect(p.log.highWatermark == 5)
    }

    @Test func laggingFollowerLeavesTheIsrAndComesBackWhenCaughtUp() throws {
        let (p, dir) = try makePartition("isr")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        p.setRole(leader: 0, leaderEpoch: 1, isr: [0, 1, 2], localBrokerId: 0)
        try appendAsLeader(p, 4)
        let t0 = Int64(Date().timeIntervalSince1970 * 1000)
        p.recordFollowerFetch(replicaId: 1, fetchOffset: 4, nowMs: t0 + 20_000)
        p.recordFollowerFetch(replicaId: 2, fetchOffset: 1, nowMs: t0 + 20_000)  // behind, never caught up since t0
        #expect(p.proposedIsr(nowMs: t0 + 20_000, lagMaxMs: 30_000, replicas: [0, 1, 2]) == nil)
        #expect(p.proposedIsr(nowMs: t0 + 31_000, lagMaxMs: 30_000, replicas: [0, 1, 2]) == [0, 1])
        p.setRole(leader: 0, leaderEpoch: 1, isr: [0, 1], zkVersion: 1, localBrokerId: 0)  // the ISR change, written back
        #expect(p.log.highWatermark == 4, "the high watermark now only waits for broker 1")
        p.recordFollowerFetch(replicaId: 2, fetchOffset: 4, nowMs: t0 + 32_000)
        #expect(p.proposedIsr(nowMs: t0 + 32_000, lagMaxMs: 30_000, replicas: [0, 1, 2]) == [0, 1, 2])
    }

    @Test func aFollowerJoiningTheIsrHoldsTheHighWatermarkBeforeTheChangeIsConfirmed() throws {
        let (p, dir) = try makePartition("expand")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        p.setRole(leader: 0, leaderEpoch: 1, isr: [0], localBrokerId: 0)
        try appendAsLeader(p, 4)
        #expect(p.log.highWatermark == 4, "alone in the ISR")
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        p.recordFollowerFetch(replicaId: 1, fetchOffset: 3, nowMs: now)
        #expect(!p.isCaughtUpOutsideIsr(1), "behind the high watermark")
        p.recordFollowerFetch(replicaId: 1, fetchOffset: 4, nowMs: now)  // a new replica (reassignment) caught up
        #expect(p.isCaughtUpOutsideIsr(1), "the fetch path expands the ISR now")
        #expect(p.proposedIsr(nowMs: now, lagMaxMs: 30_000, replicas: [1, 0], committed: [0]) == [0, 1])
        // The write to ZooKeeper is on its way: records acknowledged now must already be on broker 1.
        try appendAsLeader(p, 2)
        #expect(p.log.highWatermark == 4, "waits for the joining follower")
        p.recordFollowerFetch(replicaId: 1, fetchOffset: 6, nowMs: now)
        #expect(p.log.highWatermark == 6)
        // Until ZooKeeper has it, the expansion is proposed again; then it is settled.
        #expect(p.proposedIsr(nowMs: now, lagMaxMs: 30_000, replicas: [1, 0], committed: [0]) == [0, 1])
        #expect(p.proposedIsr(nowMs: now, lagMaxMs: 30_000, replicas: [1, 0], committed: [0, 1]) == nil)
        #expect(!p.isCaughtUpOutsideIsr(1), "already counted in the ISR: no second expansion")
        // A replica being removed by a reassignment stays while in the ISR but never rejoins it.
        #expect(p.proposedIsr(nowMs: now, lagMaxMs: 30_000, replicas: [2, 0, 1], joinable: [2, 0], committed: [0, 1]) == nil)
        p.setRole(leader: 0, leaderEpoch: 2, isr: [0], localBrokerId: 0)
        p.recordFollowerFetch(replicaId: 1, fetchOffset: 6, nowMs: now)
        #expect(p.proposedIsr(nowMs: now, lagMaxMs: 30_000, replicas: [2, 0, 1], joinable: [2, 0], committed: [0]) == nil)
        p.setRole(leader: 0, leaderEpoch: 2, isr: [0, 1], localBrokerId: 0)
        // A replica reassigned away leaves the ISR at once.
        #expect(p.proposedIsr(nowMs: now, lagMaxMs: 30_000, replicas: [0], committed: [0, 1]) == [0])
    }

    @Test func followerAppendsTheLeadersBatchesAndTruncatesWhereItDiverged() throws {
        let (p, dir) = try makePartition("follower")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        p.setRole(leader: 1, leaderEpoch: 2, isr: [1, 0], localBrokerId: 0)
        try p.appendAsFollower(batch(count: 3, epoch: 1, baseOffset: 0), leaderHighWatermark: 2)
        try p.appendAsFollower(batch(count: 2, epoch: 2, baseOffset: 3), leaderHighWatermark: 9)
        #expect(p.log.logEndOffset == 5)
        #expect(p.log.highWatermark == 5, "the leader's high watermark, capped at our log end")
        #expect(!p.isLeader)
        #expect(p.leaderId == 1)
        // Produce to a follower is refused by the API layer; as a log it stays untouched by leader appends.
        // A new leader (epoch 3) ended epoch 2 at offset 4: our offset 4 is not on it and goes.
        p.setRole(leader: 2, leaderEpoch: 3, isr: [2, 0], localBrokerId: 0)
        let ask = try #require(p.truncationRequest)
        #expect(ask.latestEpoch == 2)
        #expect(ask.currentLeaderEpoch == 3)
        try p.truncateForLeader(endOffset: 4, expectedLeaderEpoch: 3)
        #expect(p.truncationRequest == nil)
        // Whole batches: the batch holding offset 4 (3-4) goes.
        #expect(p.log.logEndOffset == 3)
    }
}
