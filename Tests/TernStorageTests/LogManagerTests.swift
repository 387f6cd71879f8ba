import Foundation
import NIOCore
import Testing
@testable import TernStorage

@Suite struct LogManagerTests {
    @Test func partitionsSpreadOverLogDirsAndReopenFromThem() throws {
        let dir = TempDir()
        let dirs = [dir.path + "/a", dir.path + "/b"]
        let manager = LogManager(logDirs: dirs, clock: ManualClock().logClock, logger: testLogger)
        try manager.startup()
        for p in 0..<4 { try manager.getOrCreateLog(TopicPartition(topic: "t-x", partition: Int32(p))).append(batches: BatchBuilder.batch(count: 1)) }
        #expect(try FileSystem.listDirectory(dirs[0]).filter { $0.hasPrefix("t-x-") }.count == 2)
        #expect(try FileSystem.listDirectory(dirs[1]).filter { $0.hasPrefix("t-x-") }.count == 2)
        try manager.shutdown()
        let reopened = LogManager(logDirs: dirs, clock: ManualClock().logClock, logger: testLogger)
        #expect(try reopened.startup())
        #expect(Set(reopened.partitions) == Set((0..<4).map { TopicPartition(topic: "t-x", partition: Int32($0)) }))
        #expect(reopened.getLog(TopicPartition(topic: "t-x", partition: 3))!.logEndOffset == 1)
    }

    @Test func deleteLogRemovesTheDirectory() throws {
        let dir = TempDir()
        let manager = makeManager(dir)
        try manager.startup()
        let tp = TopicPartition(topic: "gone", partition: 0)
        let log = try manager.getOrCreateLog(tp)
        try log.append(batches: BatchBuilder.batch(count: 1))
        try manager.deleteLog(tp)
        #expect(manager.getLog(tp) == nil)
        #expect(!FileSystem.exists(log.dir))
        #expect { try log.append(batches: BatchBuilder.batch(count: 1)) } throws: { ($0 as? StorageError)?.kind == .logClosed }
    }

    @Test func segmentMsRollsByTheFirstBatchTimestamp() throws {
        let dir = TempDir()
        var config = LogConfig()
        config.segmentMs = 60_000
        let clock = ManualClock(1_000_000)
        let manager = makeManager(dir, config: config, clock: clock)
        try manager.startup()
        let log = try manager.getOrCreateLog(TopicPartition(topic: "t", partition: 0))
        try log.append(batches: BatchBuilder.batch(count: 1, baseTimestamp: 1_000_000))
        clock.advance(by: 30_000)
        try log.append(batches: BatchBuilder.batch(count: 1, baseTimestamp: 1_030_000))
        #expect(log.segmentCount == 1)
        clock.advance(by: 31_000)
        try log.append(batches: BatchBuilder.batch(count: 1, baseTimestamp: 1_061_000))
        #expect(log.segmentBaseOffsets == [0, 2])
        // The rolled segment was flushed: the recovery point moved to the new segment.
        #expect(log.recoveryPoint == 2)
    }

    @Test func flushMessagesAdvancesTheRecoveryPoint() throws {
        let dir = TempDir()
        var config = LogConfig()
        config.flushMessages = 5
        let manager = makeManager(dir, config: config)
        try manager.startup()
        let log = try manager.getOrCreateLog(TopicPartition(topic: "t", partition: 0))
        try log.append(batches: BatchBuilder.batch(count: 3))
        #expect(log.recoveryPoint == 0)
        try log.append(batches: BatchBuilder.batch(count: 3))
        #expect(log.recoveryPoint == 6)
    }

    @Test func concurrentAppendsAndReadsKeepOffsetsDense() async throws {
        let dir = TempDir()
        var config = LogConfig()
        config.segmentBytes = 8192
        let manager = makeManager(dir, config: config)
        try manager.startup()
        let log = try manager.getOrCreateLog(TopicPartition(topic: "t", partition: 0))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<100 { try log.append(batches: BatchBuilder.batch(count: 2)) }
                }
            }
            group.addTask {
                for _ in 0..<200 {
                    let end = log.logEndOffset
                    if end > 0 { _ = try log.read(from: end / 2, maxBytes: 4096) }
                }
            }
            try await group.waitForAll()
        }
        #expect(log.logEndOffset == 800)
        var offset: Int64 = 0
        while offset < 800 {
            let headers = batchHeaders(try log.read(from: offset, maxBytes: 1 << 20).records)
            for header in headers {
                #expect(header.baseOffset == offset)
                offset = header.nextOffset
            }
        }
    }
}
