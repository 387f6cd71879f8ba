import Foundation
import KafkaProtocol
import Logging
import NIOCore
import Testing
import TernStorage

@testable import TernBroker

/// Leader-epoch fencing of client requests (KIP-320), the new leader's OFFSET_NOT_AVAILABLE window (KIP-207) and
/// the leader's choice of a read replica (KIP-392), on real logs in a temporary directory.
@Suite struct LeaderEpochTests {
    let logger = Logger(label: "test")

    private func makePartition(_ name: String) throws -> (Partition, String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tern-epoch-\(UUID().uuidString)").path
        let manager = LogManager(logDirs: [dir], logger: logger)
        _ = try manager.startup()
        let tp = TopicPartition(topic: name, partition: 0)
        return (Partition(topicPartition: tp, log: try manager.getOrCreateLog(tp), logger: logger), dir)
    }

    private func appendAsLeader(_ p: Partition, _ count: Int) throws {
        var b = RecordBatchBuilder(baseOffset: 0)
        for i in 0..<count { b.append(key: nil, value: ByteBuffer(string: "v\(i)"), timestamp: 0) }
        let records = try b.build()
        _ = try p.appendAsLeader(records, headers: try RecordBatchValidator.validate(records, options: .init()))
    }

    @Test func epochComparisonFollowsKafka() {
        #expect(Partition.compareLeaderEpoch(requested: -1, current: 7) == .none, "-1: no check")
        #expect(Partition.compareLeaderEpoch(requested: 7, current: 7) == .none)
        #expect(Partition.compareLeaderEpoch(requested: 6, current: 7) == .fencedLeaderEpoch)
        #expect(Partition.compareLeaderEpoch(requested: 8, current: 7) == .unknownLeaderEpoch)
        #expect(ErrorCode.fencedLeaderEpoch.rawValue == 74 && ErrorCode.unknownLeaderEpoch.rawValue == 75)
    }

    @Test func aBrokerAloneLeadsAtEpochZero() throws {
        let (p, dir) = try makePartition("alone")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(p.checkAccess(currentLeaderEpoch: 0, requireLeader: true) == .none)
        #expect(p.checkAccess(currentLeaderEpoch: 1, requireLeader: true) == .unknownLeaderEpoch)
        #expect(p.offsetLookupError == .none)
    }

    @Test func theEpochIsCheckedBeforeLeadership() throws {
        let (p, dir) = try makePartition("follower")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        p.setRole(leader: 1, leaderEpoch: 3, isr: [1, 0], localBrokerId: 0)
        #expect(p.checkAccess(currentLeaderEpoch: 3, requireLeader: true) == .notLeaderOrFollower)
        #expect(p.checkAccess(currentLeaderEpoch: 3, requireLeader: false) == .none, "v11+ consumers read followers")
        #expect(p.checkAccess(currentLeaderEpoch: -1, requireLeader: false) == .none)
        #expect(p.checkAccess(currentLeaderEpoch: 2, requireLeader: true) == .fencedLeaderEpoch)
        #expect(p.checkAccess(currentLeaderEpoch: 4, requireLeader: false) == .unknownLeaderEpoch)
        p.setRole(leader: 0, leaderEpoch: 4, isr: [0, 1], localBrokerId: 0)
        #expect(p.checkAccess(currentLeaderEpoch: 4, requireLeader: true) == .none)
        #expect(p.checkAccess(currentLeaderEpoch: 3, requireLeader: true) == .fencedLeaderEpoch)
    }

    @Test func aNewLeaderAnswersOffsetNotAvailableUntilItsHighWatermarkReachesTheEpochStart() throws {
        let (p, dir) = try makePartition("kip207")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        p.setRole(leader: 1, leaderEpoch: 1, isr: [1, 0], localBrokerId: 0)
        try p.appendAsFollower(
            { var b = RecordBatchBuilder(baseOffset: 0); b.append(key: nil, value: ByteBuffer(string: "x"), timestamp: 0)
              b.append(key: nil, value: ByteBuffer(string: "y"), timestamp: 0); return try b.build() }(),
            leaderHighWatermark: 0)
        #expect(p.log.highWatermark == 0)
        p.setRole(leader: 0, leaderEpoch: 2, isr: [0, 1], localBrokerId: 0)
        #expect(p.leaderEpochStartOffset == 2)
        #expect(p.offsetLookupError == .offsetNotAvailable)
        p.recordFollowerFetch(replicaId: 1, fetchOffset: 2, nowMs: 1000)
        #expect(p.log.highWatermark == 2)
        #expect(p.offsetLookupError == .none)
    }

    @Test func followersLearnTheLeadersLogStartOffset() throws {
        let (p, dir) = try makePartition("logstart")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        p.setRole(leader: 1, leaderEpoch: 1, isr: [1, 0], localBrokerId: 0)
        var b = RecordBatchBuilder(baseOffset: 0)
        for i in 0..<4 { b.append(key: nil, value: ByteBuffer(string: "v\(i)"), timestamp: 0) }
        try p.appendAsFollower(try b.build(), leaderHighWatermark: 4, leaderLogStartOffset: 0)
        #expect(p.log.logStartOffset == 0)
        try p.appendAsFollower(ByteBuffer(), leaderHighWatermark: 4, leaderLogStartOffset: 3)
        #expect(p.log.logStartOffset == 3)
        try p.appendAsFollower(ByteBuffer(), leaderHighWatermark: 4, leaderLogStartOffset: 1)
        #expect(p.log.logStartOffset == 3, "never moves back")
    }

    @Test func theLowWatermarkIsTheSmallestLogStartOverLiveReplicas() throws {
        let (p, dir) = try makePartition("lowwatermark")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        p.setRole(leader: 0, leaderEpoch: 1, isr: [0, 1, 2], localBrokerId: 0)
        try appendAsLeader(p, 10)
        #expect(p.lowWatermark(isAlive: { _ in true }) == -1, "followers have not reported yet")
        #expect(p.recordFollowerFetch(replicaId: 1, fetchOffset: 10, logStartOffset: 0, nowMs: 1000))
        #expect(p.recordFollowerFetch(replicaId: 2, fetchOffset: 10, logStartOffset: 0, nowMs: 1000))
        _ = try p.log.deleteRecordsBefore(6)
        #expect(p.lowWatermark(isAlive: { _ in true }) == 0)
        #expect(p.recordFollowerFetch(replicaId: 1, fetchOffset: 10, logStartOffset: 6, nowMs: 1100), "log start moved")
        #expect(p.lowWatermark(isAlive: { _ in true }) == 0)
        #expect(p.lowWatermark(isAlive: { $0 != 2 }) == 6, "a dead broker does not hold it back")
        p.recordFollowerFetch(replicaId: 2, fetchOffset: 10, logStartOffset: 6, nowMs: 1100)
        #expect(p.lowWatermark(isAlive: { _ in true }) == 6)
    }

    /// KIP-392 with read_committed: a follower keeps the transaction state of the batches it replicates, so it
    /// stops consumers at its own last stable offset and lists the aborted transactions.
    @Test func aFollowerTracksTransactionsForReadCommittedConsumers() throws {
        let (p, dir) = try makePartition("followertxn")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        p.setRole(leader: 1, leaderEpoch: 1, isr: [1, 0], localBrokerId: 0)
        func txn(_ pid: Int64, count: Int, at offset: Int64) throws -> ByteBuffer {
            var b = RecordBatchBuilder(baseOffset: offset, isTransactional: true, producerId: pid, producerEpoch: 0, baseSequence: 0)
            for i in 0..<count { b.append(key: nil, value: ByteBuffer(string: "t\(i)"), timestamp: 0) }
            return try b.build()
        }
        try p.appendAsFollower(try txn(7, count: 3, at: 0), leaderHighWatermark: 3)  // 0-2, open
        #expect(p.lastStableOffset == 0)
        let abort = RecordBatchBuilder.transactionMarker(
            ControlRecord(type: .abort, coordinatorEpoch: 0), producerId: 7, producerEpoch: 0, timestamp: 0, baseOffset: 3)
        try p.appendAsFollower(abort, leaderHighWatermark: 4)  // 3
        try p.appendAsFollower(try txn(8, count: 1, at: 4), leaderHighWatermark: 5)  // 4, open
        #expect(p.lastStableOffset == 4)
        #expect(p.abortedTransactions(from: 0, to: 4).map(\.producerId) == [7])
    }

    @Test func aParkedFollowerFetchHearsOfEachNewHighWatermarkOnce() throws {
        let (p, dir) = try makePartition("hwnews")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        p.setRole(leader: 0, leaderEpoch: 1, isr: [0, 1], localBrokerId: 0)
        try appendAsLeader(p, 3)
        p.recordFollowerFetch(replicaId: 1, fetchOffset: 0, nowMs: 1000)
        #expect(p.highWatermarkForFollower(1) == (0, true))
        #expect(p.highWatermarkForFollower(1) == (0, false))
        p.recordFollowerFetch(replicaId: 1, fetchOffset: 3, nowMs: 1000)
        #expect(p.highWatermarkForFollower(1) == (3, true))
        #expect(p.highWatermarkForFollower(1) == (3, false))
    }

    @Test func readReplicaCandidatesAreInSyncFollowersHoldingTheOffset() throws {
        let (p, dir) = try makePartition("candidates")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        p.setRole(leader: 0, leaderEpoch: 1, isr: [0, 1, 2], localBrokerId: 0)
        try appendAsLeader(p, 10)
        p.recordFollowerFetch(replicaId: 1, fetchOffset: 10, logStartOffset: 0, nowMs: 1000)
        p.recordFollowerFetch(replicaId: 2, fetchOffset: 4, logStartOffset: 0, nowMs: 1000)
        p.recordFollowerFetch(replicaId: 3, fetchOffset: 10, logStartOffset: 0, nowMs: 1000)  // not in the ISR
        #expect(p.readReplicaCandidates(fetchOffset: 5, nowMs: 1500).map(\.brokerId) == [1])
        #expect(p.readReplicaCandidates(fetchOffset: 2, nowMs: 1500).map(\.brokerId) == [1, 2])
        p.recordFollowerFetch(replicaId: 2, fetchOffset: 10, logStartOffset: 6, nowMs: 1000)
        #expect(p.readReplicaCandidates(fetchOffset: 2, nowMs: 1500).map(\.brokerId) == [1], "offset below its log start")
    }

    @Test func rackAwareSelectorPicksTheMostCaughtUpReplicaInTheClientsRack() {
        let leader = ReplicaView(brokerId: 0, rack: "a", logEndOffset: 100, timeSinceLastCaughtUpMs: 0)
        let followers = [
            ReplicaView(brokerId: 1, rack: "b", logEndOffset: 90, timeSinceLastCaughtUpMs: 10),
            ReplicaView(brokerId: 2, rack: "b", logEndOffset: 100, timeSinceLastCaughtUpMs: 50),
            ReplicaView(brokerId: 3, rack: "b", logEndOffset: 100, timeSinceLastCaughtUpMs: 20),
            ReplicaView(brokerId: 4, rack: "c", logEndOffset: 100, timeSinceLastCaughtUpMs: 0),
        ]
        #expect(ReplicaSelector.select(.rackAware, clientRack: "b", leader: leader, followers: followers) == 3)
        #expect(ReplicaSelector.select(.rackAware, clientRack: "c", leader: leader, followers: followers) == 4)
        #expect(ReplicaSelector.select(.rackAware, clientRack: "a", leader: leader, followers: followers) == nil,
                "the leader is in the client's rack")
        #expect(ReplicaSelector.select(.rackAware, clientRack: "z", leader: leader, followers: followers) == nil)
        #expect(ReplicaSelector.select(.rackAware, clientRack: "", leader: leader, followers: followers) == nil)
        #expect(ReplicaSelector.select(.leader, clientRack: "b", leader: leader, followers: followers) == nil)
    }

    @Test func selectorClassNamesAreKafkas() throws {
        #expect(ReplicaSelectorKind(className: "org.apache.kafka.common.replica.RackAwareReplicaSelector") == .rackAware)
        #expect(ReplicaSelectorKind(className: "org.apache.kafka.common.replica.LeaderSelector") == .leader)
        #expect(ReplicaSelectorKind(className: "com.example.Mine") == nil)
        let config = try BrokerConfig.parse(properties: [
            "replica.selector.class": "org.apache.kafka.common.replica.RackAwareReplicaSelector", "log.dirs": "/tmp/x"])
        #expect(config.replicaSelector == .rackAware)
        #expect(throws: BrokerConfigError.self) {
            try BrokerConfig.parse(properties: ["replica.selector.class": "com.example.Mine", "log.dirs": "/tmp/x"])
        }
    }
}
