import Foundation
import KafkaProtocol
import NIOCore
import Testing

@testable import TernStorage

/// The produce path's append without a copy of the request bytes, and the headers-only walk start-up replays use.
@Suite struct StartupReplayAndAppendTests {
    let tp = TopicPartition(topic: "events", partition: 0)

    @Test func appendLeavesTheCallersBufferUntouchedAndStoresTheAssignedOffsets() throws {
        let dir = TempDir()
        let manager = makeManager(dir)
        try manager.startup()
        let log = try manager.getOrCreateLog(tp)
        try log.append(batches: BatchBuilder.batch(count: 3), leaderEpoch: 7)
        // Two batches in one buffer that the caller keeps (as the connection's read buffer does).
        var kept = BatchBuilder.batch(count: 2)
        var second = BatchBuilder.batch(count: 4)
        kept.writeBuffer(&second)
        let before = Array(kept.readableBytesView)
        let info = try log.append(batches: kept, leaderEpoch: 7)
        #expect(Array(kept.readableBytesView) == before)
        #expect(info.firstOffset == 3 && info.lastOffset == 8)
        let stored = batchHeaders(try log.read(from: 0, maxBytes: 1 << 20).records)
        #expect(stored.map(\.baseOffset) == [0, 3, 5])
        #expect(stored.map(\.partitionLeaderEpoch) == [7, 7, 7])
        // The CRC does not cover base offset and epoch: the stored batches still validate.
        var options = RecordBatchValidator.Options()
        options.walkRecords = true
        _ = try RecordBatchValidator.validate(try log.read(from: 0, maxBytes: 1 << 20).records, options: options)
        #expect(records(try log.read(from: 4, maxBytes: 1 << 20).records).map(\.offset).contains(4))
    }

    @Test func forEachBatchWalksHeadersAndReadsOnlyTheBatchesAskedFor() throws {
        let dir = TempDir()
        var config = LogConfig()
        config.segmentBytes = 1024  // several segments
        let manager = makeManager(dir, config: config)
        try manager.startup()
        let log = try manager.getOrCreateLog(tp)
        for _ in 0..<20 { try log.append(batches: BatchBuilder.batch(count: 4, valueSize: 30)) }
        #expect(log.segmentCount > 2)
        var seen: [Int64] = []
        var read: [Int64] = []
        try log.forEachBatch(from: 42, wantsBytes: { $0.baseOffset % 8 == 0 }) { header, bytes in
            seen.append(header.baseOffset)
            if let bytes {
                read.append(header.baseOffset)
                #expect(bytes.readableBytes == header.totalSize)
                #expect(RecordBatchHeader(peekingAt: bytes.readerIndex, of: bytes)?.baseOffset == header.baseOffset)
            }
        }
        // From the batch holding offset 42 (40-43) to the end, every batch once.
        #expect(seen == Array(stride(from: Int64(40), to: 80, by: 4)))
        #expect(read == Array(stride(from: Int64(40), to: 80, by: 8)))
        var none = 0
        try log.forEachBatch(from: 80, wantsBytes: { _ in true }) { _, _ in none += 1 }
        #expect(none == 0)
    }
}
