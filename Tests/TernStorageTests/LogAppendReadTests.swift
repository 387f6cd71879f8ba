import KafkaProtocol
import NIOCore
import Testing
@testable import TernStorage

@Suite struct LogAppendReadTests {
    let tp = TopicPartition(topic: "orders", partition: 0)

    @Test func appendAssignsOffsetsAndReadRoundTrips() throws {
        let dir = TempDir()
        let manager = makeManager(dir)
        try manager.startup()
        let log = try manager.getOrCreateLog(tp)
        var appended: [ByteBuffer] = []
        for i in 0..<3 {
            let batch = BatchBuilder.batch(count: 5, keyPrefix: "b\(i)-")
            appended.append(batch)
            let info = try log.append(batches: batch, leaderEpoch: 3)
            #expect(info.firstOffset == Int64(i * 5))
            #expect(info.lastOffset == Int64(i * 5 + 4))
            #expect(info.logAppendTime == -1)
            #expect(info.batchCount == 1)
        }
        #expect(log.logEndOffset == 15)
        log.updateHighWatermark(15)
        let data = try log.read(from: 0, maxBytes: 1 << 20)
        let headers = batchHeaders(data.records)
        #expect(headers.map(\.baseOffset) == [0, 5, 10])
        #expect(headers.allSatisfy { $0.partitionLeaderEpoch == 3 })
        #expect(allCRCsValid(data.records))
        // Apart from the base offset and leader epoch, the bytes are exactly what was produced.
        var index = 0
        for original in appended {
            let stored = data.records.getSlice(at: index, length: original.readableBytes)!
            #expect(stored.getSlice(at: 16, length: stored.readableBytes - 16) == original.getSlice(at: 16, length: original.readableBytes - 16))
            index += original.readableBytes
        }
        #expect(data.length == data.records.readableBytes)
        #expect(data.file != nil)
        #expect(log.leaderEpochEntries.map(\.epoch) == [3])
        try manager.shutdown()
    }

    @Test func severalBatchesInOneAppend() throws {
        let dir = TempDir()
        let manager = makeManager(dir)
        try manager.startup()
        let log = try manager.getOrCreateLog(tp)
        var buffer = BatchBuilder.batch(count: 2)
        var second = BatchBuilder.batch(count: 3)
        buffer.writeBuffer(&second)
        let info = try log.append(batches: buffer)
        #expect(info.firstOffset == 0 && info.lastOffset == 4 && info.batchCount == 2)
        let data = try log.read(from: 0, maxBytes: 1 << 20)
        #expect(batchHeaders(data.records).map(\.baseOffset) == [0, 2])
        #expect(records(data.records).map(\.offset) == [0, 1, 2, 3, 4])
    }

    @Test func fetchFromTheMiddleOfABatchReturnsTheWholeBatch() throws {
        let dir = TempDir()
        let manager = makeManager(dir)
        try manager.startup()
        let log = try manager.getOrCreateLog(tp)
        for _ in 0..<3 { try log.append(batches: BatchBuilder.batch(count: 5)) }
        let data = try log.read(from: 7, maxBytes: 1 << 20)
        #expect(data.firstBatchOffset == 5)
        #expect(batchHeaders(data.records).map(\.baseOffset) == [5, 10])
        // At the log end: empty, not an error. Past it: out of range.
        #expect(try log.read(from: 15, maxBytes: 100).isEmpty)
        #expect(throws: StorageError.self) { try log.read(from: 16, maxBytes: 100) }
    }

    @Test func minOneBatchReturnsABatchLargerThanMaxBytes() throws {
        let dir = TempDir()
        let manager = makeManager(dir)
        try manager.startup()
        let log = try manager.getOrCreateLog(tp)
        let batch = BatchBuilder.batch(count: 10, valueSize: 100)
        for _ in 0..<2 { try log.append(batches: batch) }
        let one = try log.read(from: 0, maxBytes: 10, minOneBatch: true)
        #expect(batchHeaders(one.records).count == 1)
        #expect(one.length == batch.readableBytes)
        #expect(try log.read(from: 0, maxBytes: 10, minOneBatch: false).isEmpty)
        // maxBytes falling inside the second batch: only whole batches come back.
        let cut = try log.read(from: 0, maxBytes: batch.readableBytes + 20)
        #expect(batchHeaders(cut.records).count == 1 && cut.length == batch.readableBytes)
    }

    @Test func unmaterializedReadGivesTheFileRangeForSendfile() throws {
        let dir = TempDir()
        let manager = makeManager(dir)
        try manager.startup()
        let log = try manager.getOrCreateLog(tp)
        let batch = BatchBuilder.batch(count: 5)
        for _ in 0..<3 { try log.append(batches: batch) }
        let data = try log.read(from: 6, maxBytes: 1 << 20, materialize: false)
        #expect(data.records.readableBytes == 0)
        #expect(data.position == Int64(batch.readableBytes))
        #expect(data.length == 2 * batch.readableBytes)
        let file = try #require(data.file)
        #expect(file.path.hasSuffix("/orders-0/00000000000000000000.log"))
        #expect(file.fileDescriptor >= 0)
        #expect(data.firstBatchOffset == 5)
    }

    @Test func readStopsAtTheHighWatermark() throws {
        let dir = TempDir()
        let manager = makeManager(dir)
        try manager.startup()
        let log = try manager.getOrCreateLog(tp)
        for _ in 0..<3 { try log.append(batches: BatchBuilder.batch(count: 5)) }
        let data = try log.read(from: 0, maxBytes: 1 << 20, maxOffset: 10)
        #expect(batchHeaders(data.records).map(\.baseOffset) == [0, 5])
        #expect(try log.read(from: 10, maxBytes: 1 << 20, maxOffset: 10).isEmpty)
    }

    @Test func segmentsRollAndIndexLookupsWorkAcrossSegments() throws {
        let dir = TempDir()
        var config = LogConfig()
        config.segmentBytes = 4096
        config.indexIntervalBytes = 256
        let manager = makeManager(dir, config: config)
        try manager.startup()
        let log = try manager.getOrCreateLog(tp)
        for _ in 0..<200 { try log.append(batches: BatchBuilder.batch(count: 3, valueSize: 20)) }
        #expect(log.logEndOffset == 600)
        #expect(log.segmentCount > 5)
        for offset in stride(from: Int64(0), to: 600, by: 7) {
            let data = try log.read(from: offset, maxBytes: 300)
            let first = try #require(batchHeaders(data.records).first)
            #expect(first.baseOffset <= offset && offset <= first.lastOffset)
        }
        // A read never spans segments, but walks into the next one when a segment has nothing at the offset.
        let bases = log.segmentBaseOffsets
        let second = try log.read(from: bases[1], maxBytes: 1 << 20)
        #expect(second.firstBatchOffset == bases[1])
        #expect(batchHeaders(second.records).last!.nextOffset == bases[2])
    }

    @Test func logAppendTimeStampsTheBrokerClockAndKeepsTheCRCValid() throws {
        let dir = TempDir()
        var config = LogConfig()
        config.messageTimestampType = .logAppendTime
        let clock = ManualClock(5_000_000)
        let manager = makeManager(dir, config: config, clock: clock)
        try manager.startup()
        let log = try manager.getOrCreateLog(tp)
        let info = try log.append(batches: BatchBuilder.batch(count: 2))
        #expect(info.logAppendTime == 5_000_000 && info.maxTimestamp == 5_000_000)
        let data = try log.read(from: 0, maxBytes: 1 << 20)
        let header = try #require(batchHeaders(data.records).first)
        #expect(header.attributes.isLogAppendTime)
        #expect(header.maxTimestamp == 5_000_000)
        #expect(allCRCsValid(data.records))
    }

    @Test func oversizedAppendsAreRejected() throws {
        let dir = TempDir()
        var config = LogConfig()
        config.segmentBytes = 1024
        config.maxMessageBytes = 512
        let manager = makeManager(dir, config: config)
        try manager.startup()
        let log = try manager.getOrCreateLog(tp)
        let big = BatchBuilder.batch(count: 1, valueSize: 2000)
        #expect { try log.append(batches: big) } throws: { ($0 as? StorageError)?.kind == .recordListTooLarge }
        let medium = BatchBuilder.batch(count: 1, valueSize: 700)
        #expect { try log.append(batches: medium) } throws: { ($0 as? StorageError)?.kind == .messageTooLarge }
        var torn = BatchBuilder.batch(count: 2)
        torn.moveWriterIndex(to: torn.writerIndex - 3)
        #expect { try log.append(batches: torn) } throws: { ($0 as? StorageError)?.kind == .corruptRecord }
        #expect(log.logEndOffset == 0)
    }

    @Test func offsetForTimestampAndMaxTimestamp() throws {
        let dir = TempDir()
        var config = LogConfig()
        config.segmentBytes = 1024
        config.indexIntervalBytes = 128
        let manager = makeManager(dir, config: config)
        try manager.startup()
        let log = try manager.getOrCreateLog(tp)
        // Batch i holds offsets 2i, 2i+1 with max timestamp 10_000 + 100 i.
        for i in 0..<60 {
            try log.append(batches: BatchBuilder.batch(baseTimestamp: 10_000 + Int64(i) * 100 - 50, records: [
                .init(key: "a", value: "x"), .init(key: "b", value: "y", timestampDelta: 50),
            ]))
        }
        #expect(log.segmentCount > 2)
        #expect(try log.offsetForTimestamp(0)! == (10_000, 0))
        #expect(try log.offsetForTimestamp(10_000)! == (10_000, 0))
        #expect(try log.offsetForTimestamp(10_001)! == (10_100, 2))
        #expect(try log.offsetForTimestamp(13_000)! == (13_000, 60))
        #expect(try log.offsetForTimestamp(15_900)! == (15_900, 118))
        #expect(try log.offsetForTimestamp(15_901) == nil)
        #expect(try log.maxTimestampOffset()! == (15_900, 119))
    }

    @Test func replicationAppendKeepsOffsetsAndTruncateRemovesTheTail() throws {
        let dir = TempDir()
        let manager = makeManager(dir)
        try manager.startup()
        let log = try manager.getOrCreateLog(tp)
        var batch = BatchBuilder.batch(count: 4)
        batch.setInteger(Int64(0), at: 0)
        batch.setInteger(Int32(7), at: 12)
        try log.append(batches: batch, assignOffsets: false)
        var next = BatchBuilder.batch(count: 4)
        next.setInteger(Int64(4), at: 0)
        next.setInteger(Int32(8), at: 12)
        try log.append(batches: next, assignOffsets: false)
        #expect(log.leaderEpochEntries.map(\.epoch) == [7, 8])
        #expect(log.endOffset(forLeaderEpoch: 7) == (7, 4))
        #expect { try log.append(batches: next, assignOffsets: false) } throws: { ($0 as? StorageError)?.kind == .invalidOffset }
        try log.truncate(to: 4)
        #expect(log.logEndOffset == 4)
        #expect(log.leaderEpochEntries.map(\.epoch) == [7])
        #expect(batchHeaders(try log.read(from: 0, maxBytes: 1 << 20).records).map(\.baseOffset) == [0])
    }
}
