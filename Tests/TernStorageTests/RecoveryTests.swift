import Foundation
import KafkaProtocol
import NIOCore
import Testing
@testable import TernStorage

/// One test per crash point. A "crash" is dropping the manager without `shutdown()`: no clean-shutdown marker,
/// no checkpoint, index entries only in memory; the bytes written with pwrite are in the files, as after a
/// process crash.
@Suite struct RecoveryTests {
    let tp = TopicPartition(topic: "events", partition: 2)

    /// Appends `batches` batches of 4 records and returns the log's directory and the active segment's path.
    func populate(_ dir: TempDir, config: LogConfig = LogConfig(), batches: Int = 10, cleanShutdown: Bool) throws -> (logDir: String, activeLog: String) {
        let manager = makeManager(dir, config: config)
        try manager.startup()
        let log = try manager.getOrCreateLog(tp)
        for _ in 0..<batches { try log.append(batches: BatchBuilder.batch(count: 4, valueSize: 30)) }
        let active = segmentPath(log, log.segmentBaseOffsets.last!)
        if cleanShutdown { try manager.shutdown() }
        return (log.dir, active)
    }

    func reopen(_ dir: TempDir, config: LogConfig = LogConfig()) throws -> (LogManager, Log, Bool) {
        let manager = makeManager(dir, config: config)
        let clean = try manager.startup()
        return (manager, try #require(manager.getLog(tp)), clean)
    }

    @Test func restartAfterCleanShutdownKeepsEverything() throws {
        let dir = TempDir()
        var config = LogConfig()
        config.segmentBytes = 2048
        config.indexIntervalBytes = 200
        _ = try populate(dir, config: config, batches: 40, cleanShutdown: true)
        #expect(FileManager.default.fileExists(atPath: dir.path + "/data/.kafka_cleanshutdown"))
        let (manager, log, clean) = try reopen(dir, config: config)
        #expect(clean)
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/data/.kafka_cleanshutdown"))
        #expect(log.logEndOffset == 160)
        #expect(log.recoveryPoint == 160)
        let data = try log.read(from: 77, maxBytes: 1 << 20)
        #expect(batchHeaders(data.records).first!.baseOffset == 76)
        // Appends continue at the right offset.
        #expect(try log.append(batches: BatchBuilder.batch(count: 1)).firstOffset == 160)
        // The checkpoint files use Kafka's text format.
        try manager.shutdown()
        let text = try String(contentsOfFile: dir.path + "/data/recovery-point-offset-checkpoint", encoding: .utf8)
        #expect(text == "0\n1\nevents 2 161\n")
    }

    @Test func tornTailIsTruncated() throws {
        let dir = TempDir()
        let (_, active) = try populate(dir, cleanShutdown: false)
        let validSize = fileSize(active)
        let partial = BatchBuilder.batch(count: 4, valueSize: 30)
        appendBytes(Array(partial.readableBytesView.prefix(partial.readableBytes / 2)), to: active)
        let (_, log, clean) = try reopen(dir)
        #expect(!clean)
        #expect(fileSize(active) == validSize)
        #expect(log.logEndOffset == 40)
        #expect(try log.append(batches: BatchBuilder.batch(count: 2)).firstOffset == 40)
        #expect(allCRCsValid(try log.read(from: 0, maxBytes: 1 << 20).records))
    }

    @Test func garbageAfterTheLastBatchIsTruncated() throws {
        let dir = TempDir()
        let (_, active) = try populate(dir, cleanShutdown: false)
        let validSize = fileSize(active)
        var random = SeededRandom(seed: 42)
        appendBytes((0..<777).map { _ in UInt8.random(in: 0...255, using: &random) }, to: active)
        let (_, log, _) = try reopen(dir)
        #expect(fileSize(active) == validSize)
        #expect(log.logEndOffset == 40)
    }

    @Test func corruptCRCInTheLastBatchDropsThatBatch() throws {
        let dir = TempDir()
        let (_, active) = try populate(dir, cleanShutdown: false)
        let size = fileSize(active)
        let handle = FileHandle(forUpdatingAtPath: active)!
        handle.seek(toFileOffset: UInt64(size - 5))  // inside the last batch's records
        let byte = handle.readData(ofLength: 1)[0]
        handle.seek(toFileOffset: UInt64(size - 5))
        handle.write(Data([byte ^ 0xff]))
        handle.closeFile()
        let (_, log, _) = try reopen(dir)
        #expect(log.logEndOffset == 36)
        #expect(fileSize(active) == size - Int64(BatchBuilder.batch(count: 4, valueSize: 30).readableBytes))
    }

    @Test func tornSegmentDeletesTheSegmentsAfterIt() throws {
        let dir = TempDir()
        var config = LogConfig()
        config.segmentBytes = 1024
        let (logDir, _) = try populate(dir, config: config, batches: 30, cleanShutdown: false)
        let bases = try FileManager.default.contentsOfDirectory(atPath: logDir).filter { $0.hasSuffix(".log") }.sorted()
        #expect(bases.count > 3)
        // Corrupt the header magic of the first batch of the second segment.
        let second = logDir + "/" + bases[1]
        let handle = FileHandle(forUpdatingAtPath: second)!
        handle.seek(toFileOffset: 16)
        handle.write(Data([7]))
        handle.closeFile()
        let (_, log, _) = try reopen(dir, config: config)
        #expect(log.segmentCount == 2)
        #expect(log.logEndOffset == Int64(bases[1].prefix(20))!)
        #expect(fileSize(second) == 0)
    }

    @Test func corruptOrMissingIndexFilesAreRebuilt() throws {
        let dir = TempDir()
        var config = LogConfig()
        config.segmentBytes = 2048
        config.indexIntervalBytes = 100
        _ = try populate(dir, config: config, batches: 40, cleanShutdown: true)
        let logDir = dir.path + "/data/events-2"
        let indexes = try FileManager.default.contentsOfDirectory(atPath: logDir).filter { $0.hasSuffix(".index") }.sorted()
        #expect(indexes.count > 2)
        // First segment: garbage entries (positions going backwards, past the end). Second: index missing.
        var garbage = [UInt8]()
        for i in (1...8).reversed() { garbage += [0, 0, 0, UInt8(i), 0, 0x7f, 0, UInt8(i)] }
        try Data(garbage).write(to: URL(fileURLWithPath: logDir + "/" + indexes[0]))
        try FileManager.default.removeItem(atPath: logDir + "/" + indexes[1])
        try FileManager.default.removeItem(atPath: logDir + "/" + indexes[1].replacingOccurrences(of: ".index", with: ".timeindex"))
        let (_, log, clean) = try reopen(dir, config: config)
        #expect(clean)
        for offset in stride(from: Int64(0), to: 160, by: 3) {
            let first = try #require(batchHeaders(try log.read(from: offset, maxBytes: 100).records).first)
            #expect(first.baseOffset <= offset && offset <= first.lastOffset)
        }
        #expect(FileManager.default.fileExists(atPath: logDir + "/" + indexes[1]))
        #expect(fileSize(logDir + "/" + indexes[0]) % 8 == 0)
    }

    @Test func crashBeforeCheckpointRecoversFromTheOlderRecoveryPoint() throws {
        let dir = TempDir()
        var config = LogConfig()
        config.segmentBytes = 1024
        var checkpointed: Int64 = -1
        do {
            let manager = makeManager(dir, config: config)
            try manager.startup()
            let log = try manager.getOrCreateLog(tp)
            for _ in 0..<10 { try log.append(batches: BatchBuilder.batch(count: 4, valueSize: 30)) }
            try manager.checkpoint()  // recovery point as of the rolls so far
            checkpointed = log.recoveryPoint
            for _ in 0..<10 { try log.append(batches: BatchBuilder.batch(count: 4, valueSize: 30)) }
            try log.flush()  // flushed, but the checkpoint is never written: crash
            #expect(log.recoveryPoint == 80)
        }
        let (manager, log, clean) = try reopen(dir, config: config)
        #expect(!clean)
        #expect(log.logEndOffset == 80)
        // As Kafka: recovery does not fsync, so the recovery point stays at the checkpoint until the next flush.
        #expect(checkpointed < 80)
        #expect(log.recoveryPoint == checkpointed)
        #expect(records(try log.read(from: 40, maxBytes: 1 << 20).records).first!.offset == 40)
        try manager.shutdown()
        let text = try String(contentsOfFile: dir.path + "/data/recovery-point-offset-checkpoint", encoding: .utf8)
        #expect(text == "0\n1\nevents 2 80\n")
    }

    @Test func leftoverCleanedFilesAreRemoved() throws {
        let dir = TempDir()
        let (logDir, _) = try populate(dir, batches: 2, cleanShutdown: true)
        _ = FileManager.default.createFile(atPath: logDir + "/00000000000000000000.log.cleaned", contents: Data([1, 2, 3]))
        let (_, log, _) = try reopen(dir)
        #expect(!FileManager.default.fileExists(atPath: logDir + "/00000000000000000000.log.cleaned"))
        #expect(log.logEndOffset == 8)
    }

    @Test func leaderEpochCheckpointUsesKafkasFormat() throws {
        let dir = TempDir()
        let manager = makeManager(dir)
        try manager.startup()
        let log = try manager.getOrCreateLog(tp)
        try log.append(batches: BatchBuilder.batch(count: 3), leaderEpoch: 0)
        try log.append(batches: BatchBuilder.batch(count: 3), leaderEpoch: 2)
        let text = try String(contentsOfFile: log.dir + "/leader-epoch-checkpoint", encoding: .utf8)
        #expect(text == "0\n2\n0 0\n2 3\n")
        try manager.shutdown()
        let (_, reopened, _) = try reopen(dir)
        #expect(reopened.endOffset(forLeaderEpoch: 1) == (0, 3))
        #expect(reopened.endOffset(forLeaderEpoch: 2) == (2, 6))
    }

    @Test func manyPartitionsStartQuickly() throws {
        let dir = TempDir()
        do {
            let manager = makeManager(dir)
            try manager.startup()
            for p in 0..<1000 {
                let log = try manager.getOrCreateLog(TopicPartition(topic: "many", partition: Int32(p)))
                try log.append(batches: BatchBuilder.batch(count: 2))
            }
            try manager.shutdown()
        }
        let start = ContinuousClock.now
        let manager = makeManager(dir)
        #expect(try manager.startup())
        let elapsed = ContinuousClock.now - start
        #expect(manager.partitions.count == 1000)
        print("Clean startup of 1000 partitions took \(elapsed)")
    }
}
