import KafkaProtocol
import NIOCore

extension Log {
    /// Walks the stored batches from the one holding `offset` to the log end reading their headers only; a
    /// batch's bytes are read whole only when `wantsBytes` asks for them. For start-up replays that need batch
    /// metadata (producer and transaction state): reading every record byte of a crashed broker's gigabytes of
    /// unflushed log held start-up for seconds. Batches ending before `offset` are skipped.
    public func forEachBatch(
        from offset: Int64, wantsBytes: (RecordBatchHeader) -> Bool,
        _ body: (RecordBatchHeader, ByteBuffer?) throws -> Void
    ) throws {
        let ranges: [(file: SegmentFile, start: Int64, end: Int64)] = try lock.withLock {
            let from = max(offset, state.logStartOffset)
            guard from < state.logEndOffset else { return [] }
            let first = segmentIndex(containing: from)
            var ranges: [(SegmentFile, Int64, Int64)] = []
            for (i, segment) in state.segments[first...].enumerated() {
                let start = i == 0 ? try segment.translateOffset(from)?.position ?? segment.size : 0
                ranges.append((segment.file, start, segment.size))
            }
            return ranges
        }
        for range in ranges {
            var walker = BatchWalker(file: range.file, from: range.start, end: range.end)
            walk: while true {
                switch try walker.next() {
                case .batch(let position, let header, _):
                    guard header.lastOffset >= offset else { continue }
                    try body(header, wantsBytes(header) ? try range.file.read(at: position, length: header.totalSize) : nil)
                case .end, .invalid:
                    break walk
                }
            }
        }
    }
}
