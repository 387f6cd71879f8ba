import KafkaProtocol
import NIOCore
import Testing
@testable import TernStorage

@Suite struct RetentionTests {
    let tp = TopicPartition(topic: "metrics", partition: 0)

    /// 30 batches of 4 records, batch i stamped `base + i * 1000` ms, in segments of about 5 batches.
    func populate(_ dir: TempDir, clock: ManualClock, config: LogConfig = LogConfig(), base: Int64 = 1_000_000) throws -> (LogManager, Log) {
        var config = config
        config.segmentBytes = 1024
        let manager = makeManager(dir, config: config, clock: clock)
        try manager.startup()
        let log = try manager.getOrCreateLog(tp)
        for i in 0..<30 { try log.append(batches: BatchBuilder.batch(count: 4, valueSize: 20, baseTimestamp: base + Int64(i) * 1000)) }
        log.updateHighWatermark(log.logEndOffset)
        return (manager, log)
    }

    @Test func retentionByTimeDeletesOldSegmentsFromTheHead() throws {
        let dir = TempDir()
        let clock = ManualClock(1_000_000 + 30_000)
        let (_, log) = try populate(dir, clock: clock)
        let segmentsBefore = log.segmentBaseOffsets
        #expect(segmentsBefore.count > 4)
        // Keep 10 s: segments whose newest batch is older than now - 10 s go.
        let deleted = try log.deleteOldSegments(retentionMs: 10_000, retentionBytes: -1, now: clock.now.withLock { $0 })
        #expect(deleted > 0)
        let segmentsAfter = log.segmentBaseOffsets
        #expect(segmentsAfter == Array(segmentsBefore.dropFirst(deleted)))
        #expect(log.logStartOffset == segmentsAfter[0])
        #expect(throws: StorageError.self) { try log.read(from: 0, maxBytes: 100) }
        // Every remaining segment other than the active one has a batch within retention.
        let firstKept = try #require(batchHeaders(try log.read(from: log.logStartOffset, maxBytes: 1 << 20).records).last)
        #expect(firstKept.maxTimestamp >= 1_000_000 + 20_000)
        #expect(try !FileManagerExists(segmentPath(log, segmentsBefore[0])))
    }

    @Test func retentionDeletingEverythingRollsFirst() throws {
        let dir = TempDir()
        let clock = ManualClock(5_000_000)
        let (_, log) = try populate(dir, clock: clock)
        try log.deleteOldSegments(retentionMs: 1000, retentionBytes: -1, now: 5_000_000)
        #expect(log.segmentBaseOffsets == [120])
        #expect(log.logStartOffset == 120 && log.logEndOffset == 120)
        #expect(try log.append(batches: BatchBuilder.batch(count: 1)).firstOffset == 120)
    }

    @Test func retentionBySize() throws {
        let dir = TempDir()
        let clock = ManualClock()
        let (_, log) = try populate(dir, clock: clock)
        let limit: Int64 = 2500
        let deleted = try log.deleteOldSegments(retentionMs: -1, retentionBytes: limit, now: 0)
        #expect(deleted > 0)
        // As Kafka: delete head segments only while the log stays at or above retention.bytes.
        #expect(log.size >= limit)
        #expect(log.size < limit + 1024)
    }

    @Test func retentionNeverPassesTheHighWatermark() throws {
        let dir = TempDir()
        let clock = ManualClock(5_000_000)
        let (_, log) = try populate(dir, clock: clock)
        log.updateHighWatermark(0)
        #expect(try log.deleteOldSegments(retentionMs: 0, retentionBytes: 0, now: 5_000_000) == 0)
    }

    @Test func deleteRecordsAdvancesTheLogStart() throws {
        let dir = TempDir()
        let clock = ManualClock()
        let (manager, log) = try populate(dir, clock: clock)
        let bases = log.segmentBaseOffsets
        let target = bases[2] + 1
        #expect(try log.deleteRecordsBefore(target) == target)
        #expect(log.logStartOffset == target)
        #expect(log.segmentBaseOffsets.first == bases[2])
        #expect(throws: StorageError.self) { try log.read(from: target - 1, maxBytes: 100) }
        // The batch holding the new log start is returned whole; the client skips the records below it.
        #expect(batchHeaders(try log.read(from: target, maxBytes: 100).records).first!.baseOffset == bases[2])
        #expect { try log.deleteRecordsBefore(log.highWatermark + 1) } throws: { ($0 as? StorageError)?.kind == .offsetOutOfRange }
        // The log start survives a restart through log-start-offset-checkpoint.
        try manager.shutdown()
        let reopened = makeManager(dir, clock: clock)
        try reopened.startup()
        #expect(reopened.getLog(tp)!.logStartOffset == target)
    }
}

func FileManagerExists(_ path: String) throws -> Bool { FileSystem.exists(path) }

@Suite struct CleanerTests {
    let tp = TopicPartition(topic: "compacted", partition: 0)

    @Test func compactionKeepsTheLatestValuePerKeyWithOffsetsUnchanged() throws {
        let dir = TempDir()
        var config = LogConfig()
        config.segmentBytes = 600
        config.cleanupPolicy = [.compact]
        config.deleteRetentionMs = 10_000
        let clock = ManualClock(1_000_000)
        let manager = makeManager(dir, config: config, clock: clock)
        try manager.startup()
        let log = try manager.getOrCreateLog(tp)
        // Offsets 0..<40: keys k0..k3 rotating; the tombstone for k1 is old, the one for k2 recent.
        for i in 0..<20 {
            try log.append(batches: BatchBuilder.batch(baseTimestamp: 1_000_000, records: [
                .init(key: "k\(i % 4)", value: "v\(i)"), .init(key: "k\((i + 1) % 4)", value: "w\(i)"),
            ]))
        }
        try log.append(batches: BatchBuilder.batch(baseTimestamp: 1_000_000, records: [.init(key: "k1", value: nil)]))  // 40
        try log.append(batches: BatchBuilder.batch(baseTimestamp: 1_050_000, records: [.init(key: "k2", value: nil)]))  // 41
        try log.append(batches: BatchBuilder.batch(baseTimestamp: 1_050_000, records: [.init(key: "k3", value: "last")]))  // 42
        try log.roll()
        try log.append(batches: BatchBuilder.batch(baseTimestamp: 1_050_000, records: [.init(key: "k0", value: "active")]))  // 43
        log.updateHighWatermark(log.logEndOffset)
        let before = records(try readAll(log))
        #expect(before.count == 44)

        clock.advance(by: 55_000)  // tombstone at 40 is older than delete.retention.ms, the one at 41 is not
        let result = try #require(try LogCleaner.clean(log, force: true))
        #expect(result.recordsRemoved > 0)
        let after = records(try readAll(log))
        // k0: offset 39 (latest in the cleaned part) plus 43 in the active segment, never cleaned.
        #expect(after.map(\.offset) == [39, 41, 42, 43])
        #expect(after.map(\.key) == ["k0", "k2", "k3", "k0"])
        #expect(after.map(\.tombstone) == [false, true, false, false])
        #expect(allCRCsValid(try readAll(log)))
        #expect(log.logEndOffset == 44)
        // Reading from a removed offset returns the next batch that still exists (its base offset is kept: 38).
        #expect(try log.read(from: 5, maxBytes: 1 << 20).firstBatchOffset == 38)
        // The cleaned segments survive a restart, and appends continue at the same offset.
        try manager.shutdown()
        let reopened = makeManager(dir, config: config, clock: clock)
        try reopened.startup()
        let log2 = try #require(reopened.getLog(tp))
        #expect(records(try readAll(log2)).map(\.offset) == [39, 41, 42, 43])
        #expect(try log2.append(batches: BatchBuilder.batch(count: 1)).firstOffset == 44)
        #expect(!(try FileSystem.listDirectory(log2.dir)).contains { $0.hasSuffix(".cleaned") })
    }

    @Test func dirtyRatioGatesCleaning() throws {
        let dir = TempDir()
        var config = LogConfig()
        config.segmentBytes = 600
        config.cleanupPolicy = [.compact]
        let manager = makeManager(dir, config: config)
        try manager.startup()
        let log = try manager.getOrCreateLog(tp)
        for i in 0..<20 { try log.append(batches: BatchBuilder.batch(records: [.init(key: "k\(i % 2)", value: "v\(i)")])) }
        #expect(try LogCleaner.clean(log) != nil)  // everything dirty: ratio 1
        #expect(try LogCleaner.clean(log) == nil)  // nothing dirty any more
        #expect(manager.runCleaner() == 0)
    }

    func readAll(_ log: Log) throws -> ByteBuffer {
        var all = ByteBuffer()
        var offset = log.logStartOffset
        while offset < log.logEndOffset {
            var data = try log.read(from: offset, maxBytes: 1 << 20)
            guard let last = batchHeaders(data.records).last else { break }
            all.writeBuffer(&data.records)
            offset = last.nextOffset
        }
        return all
    }
}

@Suite struct LogConfigTests {
    @Test func defaultsMatchKafka() {
        let config = LogConfig()
        #expect(config.segmentBytes == 1_073_741_824)
        #expect(config.segmentMs == 604_800_000)
        #expect(config.retentionMs == 604_800_000)
        #expect(config.retentionBytes == -1)
        #expect(config.cleanupPolicy == [.delete])
        #expect(config.indexIntervalBytes == 4096)
        #expect(config.segmentIndexBytes == 10_485_760)
        #expect(config.maxMessageBytes == 1_048_588)
        #expect(config.messageTimestampType == .createTime)
        #expect(config.flushMessages == .max && config.flushMs == .max)
        #expect(config.deleteRetentionMs == 86_400_000)
        #expect(config.minCleanableDirtyRatio == 0.5)
        #expect(config.minInsyncReplicas == 1)
        #expect(config.describe.count == LogConfig.names.count)
    }

    @Test func parsesKafkaNames() throws {
        let config = try LogConfig([
            "segment.bytes": "1048576", "cleanup.policy": "compact,delete", "retention.ms": "-1",
            "message.timestamp.type": "LogAppendTime", "min.cleanable.dirty.ratio": "0.1",
        ])
        #expect(config.segmentBytes == 1_048_576)
        #expect(config.cleanupPolicy == [.compact, .delete])
        #expect(config.retentionMs == -1)
        #expect(config.messageTimestampType == .logAppendTime)
        #expect(config.minCleanableDirtyRatio == 0.1)
    }

    @Test(arguments: [
        ("segment.bytes", "abc", "segment.bytes"), ("segment.bytes", "10", "int32 >= 14"),
        ("cleanup.policy", "shred", "[delete, compact]"), ("message.timestamp.type", "Now", "CreateTime"),
        ("retention.ms", "-2", "int64 >= -1"), ("no.such.config", "1", "Unknown topic config name"),
    ])
    func rejectsBadValuesNamingTheKey(key: String, value: String, expected: String) {
        #expect {
            try LogConfig([key: value])
        } throws: { error in
            guard let error = error as? StorageError, error.kind == .invalidConfig else { return false }
            return error.message.contains(key) && error.message.contains(expected)
        }
    }
}
