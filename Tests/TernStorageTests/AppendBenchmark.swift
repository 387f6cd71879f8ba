import Foundation
import NIOCore
import Testing
@testable import TernStorage

/// Prints append throughput for 1 MiB appends (no timing assertion). Run with TERN_STORAGE_BENCH=1, ideally
/// in release: `TERN_STORAGE_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter AppendBenchmark`.
@Suite struct AppendBenchmark {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["TERN_STORAGE_BENCH"] != nil))
    func oneMiBAppends() throws {
        let dir = TempDir()
        var config = LogConfig()
        config.maxMessageBytes = 2 << 20
        let manager = makeManager(dir, config: config, clock: ManualClock())
        try manager.startup()
        let log = try manager.getOrCreateLog(TopicPartition(topic: "bench", partition: 0))
        // One batch of 1024 records of ~1000 bytes: about 1 MiB.
        let template = BatchBuilder.batch(count: 1024, valueSize: 1000)
        // 900 appends stay inside one 1 GiB segment; the roll's fsync of a full segment is measured separately.
        let appends = 900
        let start = ContinuousClock.now
        for _ in 0..<appends { try log.append(batches: template) }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let megabytes = Double(template.readableBytes * appends) / 1_048_576
        print(String(format: "append: %d x %d bytes in %.3f s = %.0f MB/s (%.0f appends/s)",
                     appends, template.readableBytes, seconds, megabytes / seconds, Double(appends) / seconds))
        // Fetch back in 1 MiB reads, through pread.
        let readStart = ContinuousClock.now
        var offset: Int64 = 0
        var bytes = 0
        while offset < log.logEndOffset {
            let data = try log.read(from: offset, maxBytes: 1 << 20)
            bytes += data.length
            offset = batchHeaders(data.records).last!.nextOffset
        }
        let readElapsed = ContinuousClock.now - readStart
        let readSeconds = Double(readElapsed.components.seconds) + Double(readElapsed.components.attoseconds) / 1e18
        print(String(format: "read: %.0f MB/s", Double(bytes) / 1_048_576 / readSeconds))
        let rollStart = ContinuousClock.now
        try log.roll()
        print("roll + fsync of a \(appends) MiB segment: \(ContinuousClock.now - rollStart)")
        try manager.shutdown()
    }
}
