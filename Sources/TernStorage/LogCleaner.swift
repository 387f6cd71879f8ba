import KafkaProtocol
import Logging
import NIOCore

/// Compaction for `cleanup.policy=compact`: keeps the latest record of each key, with offsets unchanged.
///
/// A pass: (1) under the log lock, snapshot the inactive segments and split them into the clean part (below the
/// first dirty offset) and the dirty part (up to the first segment newer than min.compaction.lag.ms); skip when
/// dirty bytes / total bytes < min.cleanable.dirty.ratio. (2) Without the lock, build a key -> latest offset map
/// over the dirty part, then rewrite every cleanable segment into `<base>.log.cleaned` (+ `.index.cleaned`,
/// `.timeindex.cleaned`): records superseded by a later offset of their key are dropped, tombstones are dropped
/// once their batch is older than delete.retention.ms, a batch losing records is re-encoded with its original
/// base offset and lastOffsetDelta (offsets never move) and a fresh CRC, an emptied batch is dropped.
/// (3) Under the lock, for each segment still present: delete its index files, rename the `.cleaned` log over
/// the old one (atomic), then rename the indexes. Appends only wait for (1) and (3).
///
/// Compressed batches are kept whole and their records are not added to the key map: decompressing and
/// recompressing is left for later; keeping more records than needed is always safe. Control and transactional
/// batches are kept as they are. Unlike Kafka, small cleaned segments are not merged, and the tombstone horizon
/// is the batch timestamp rather than KIP-534's delete horizon in the batch header.
///
/// Crash behaviour: a crash before the log rename leaves `*.cleaned` files, removed by `LogLoader`, and the old
/// segment intact (its indexes, if already deleted, are rebuilt from the log). After the log rename the new
/// segment is complete (it was fsynced first); missing index files are rebuilt.
public enum LogCleaner {
    public struct Result: Sendable, Equatable {
        public var segmentsCleaned: Int
        public var bytesBefore: Int64
        public var bytesAfter: Int64
        public var recordsRemoved: Int
    }

    private struct Snapshot {
        var segment: LogSegment
        var file: SegmentFile
        var baseOffset: Int64
        var size: Int64
    }

    /// Runs one pass over `log`. With `force`, ignores min.cleanable.dirty.ratio. nil when nothing was cleanable.
    @discardableResult
    public static func clean(_ log: Log, force: Bool = false) throws -> Result? {
        let now = log.clock.nowMs()
        let prepared = try log.lock.withLock { () throws -> (LogConfig, [Snapshot], Int, Int64, Int)? in
            let config = log.state.config
            let inactive = log.state.segments.dropLast()
            guard !inactive.isEmpty else { return nil }
            var snapshots: [Snapshot] = []
            var dirtyStart = -1
            for (i, segment) in inactive.enumerated() {
                let upper = i + 1 < log.state.segments.count ? log.state.segments[i + 1].baseOffset : log.state.logEndOffset
                if upper > log.state.firstDirtyOffset && dirtyStart < 0 {
                    dirtyStart = i
                }
                if dirtyStart >= 0, now - (try segment.largestTimestamp()) < config.minCompactionLagMs { break }
                snapshots.append(Snapshot(segment: segment, file: segment.file, baseOffset: segment.baseOffset, size: segment.size))
            }
            guard dirtyStart >= 0, dirtyStart < snapshots.count else { return nil }
            let dirtyEnd = snapshots.count < log.state.segments.count ? log.state.segments[snapshots.count].baseOffset : log.state.logEndOffset
            return (config, snapshots, dirtyStart, dirtyEnd, log.state.truncations)
        }
        guard let (config, snapshots, dirtyStart, dirtyEnd, truncations) = prepared else { return nil }
        let dirtyBytes = snapshots[dirtyStart...].reduce(Int64(0)) { $0 + $1.size }
        let totalBytes = snapshots.reduce(Int64(0)) { $0 + $1.size }
        if !force, totalBytes > 0, Double(dirtyBytes) / Double(totalBytes) < config.minCleanableDirtyRatio { return nil }

        var latest: [[UInt8]: Int64] = [:]
        for snapshot in snapshots[dirtyStart...] { try buildOffsetMap(snapshot, into: &latest) }

        let tombstoneHorizon = now - config.deleteRetentionMs
        var result = Result(segmentsCleaned: 0, bytesBefore: 0, bytesAfter: 0, recordsRemoved: 0)
        var cleaned: [(Snapshot, LogSegment)] = []
        for snapshot in snapshots {
            let (segment, removed) = try rewrite(snapshot, latest: latest, tombstoneHorizon: tombstoneHorizon, log: log, config: config, now: now)
            cleaned.append((snapshot, segment))
            result.recordsRemoved += removed
        }

        try log.lock.withLock {
            guard log.state.truncations == truncations, !log.state.closed else {
                for (_, segment) in cleaned { try deleteCleaned(segment) }
                return
            }
            for (old, new) in cleaned {
                guard let index = log.state.segments.firstIndex(where: { $0 === old.segment }) else {
                    try deleteCleaned(new)  // removed by retention meanwhile
                    continue
                }
                try FileSystem.remove(old.segment.offsetIndexPath)
                try FileSystem.remove(old.segment.timeIndexPath)
                try FileSystem.rename(new.logPath, old.segment.logPath)
                try FileSystem.rename(new.offsetIndexPath, old.segment.offsetIndexPath)
                try FileSystem.rename(new.timeIndexPath, old.segment.timeIndexPath)
                log.state.segments[index] = try LogSegment.open(dir: log.dir, baseOffset: old.baseOffset, config: config, logger: log.logger)
                result.segmentsCleaned += 1
                result.bytesBefore += old.size
                result.bytesAfter += new.size
            }
            FileSystem.syncDirectory(log.dir)
            log.state.firstDirtyOffset = max(log.state.firstDirtyOffset, dirtyEnd)
        }
        log.logger.info("Cleaned log", metadata: [
            "segments": "\(result.segmentsCleaned)", "bytesBefore": "\(result.bytesBefore)",
            "bytesAfter": "\(result.bytesAfter)", "recordsRemoved": "\(result.recordsRemoved)",
        ])
        return result
    }

    private static func buildOffsetMap(_ snapshot: Snapshot, into latest: inout [[UInt8]: Int64]) throws {
        var walker = BatchWalker(file: snapshot.file, from: 0, end: snapshot.size, wholeBatches: true)
        while case .batch(_, let header, let bytes?) = try walker.next() {
            guard !header.attributes.isControl, var reader = RecordReader(batch: bytes) else { continue }
            while let record = reader.next() {
                if let key = record.key { latest[key] = header.baseOffset + Int64(record.offsetDelta) }
            }
        }
    }

    /// Writes the cleaned copy of one segment; returns it and the number of records dropped.
    private static func rewrite(
        _ snapshot: Snapshot, latest: [[UInt8]: Int64], tombstoneHorizon: Int64, log: Log, config: LogConfig, now: Int64
    ) throws -> (LogSegment, Int) {
        let target = try LogSegment.create(
            dir: log.dir, baseOffset: snapshot.baseOffset, config: config, now: now, suffix: ".cleaned", logger: log.logger)
        var removed = 0
        var walker = BatchWalker(file: snapshot.file, from: 0, end: snapshot.size, wholeBatches: true)
        while case .batch(_, let header, let bytes?) = try walker.next() {
            let info = LogSegment.BatchInfo(size: header.totalSize, lastOffset: header.lastOffset, maxTimestamp: header.maxTimestamp)
            guard !header.attributes.isControl, var reader = RecordReader(batch: bytes) else {
                try target.append(bytes, batches: [info])  // compressed or control: kept whole
                continue
            }
            let dropTombstones = header.maxTimestamp < tombstoneHorizon
            var kept: [RecordReader.Record] = []
            var total = 0
            while let record = reader.next() {
                total += 1
                let offset = header.baseOffset + Int64(record.offsetDelta)
                if let key = record.key, let newest = latest[key], newest > offset { continue }
                if record.isTombstone && dropTombstones { continue }
                kept.append(record)
            }
            if reader.failed {  // unparsable records: keep the batch as it was
                try target.append(bytes, batches: [info])
                continue
            }
            removed += total - kept.count
            if kept.count == total {
                try target.append(bytes, batches: [info])
            } else if !kept.isEmpty {
                let rebuilt = rebuildBatch(bytes, header: header, keeping: kept)
                try target.append(rebuilt, batches: [.init(size: rebuilt.readableBytes, lastOffset: header.lastOffset, maxTimestamp: header.maxTimestamp)])
            }
        }
        try target.onBecomeInactive()
        try target.file.sync()
        return (target, removed)
    }

    /// The same batch with only `kept` records: base offset, lastOffsetDelta, timestamps and producer fields
    /// unchanged; length, record count and CRC recomputed.
    static func rebuildBatch(_ batch: ByteBuffer, header: RecordBatchHeader, keeping kept: [RecordReader.Record]) -> ByteBuffer {
        let recordBytes = kept.reduce(0) { $0 + $1.end - $1.start }
        var out = ByteBuffer()
        out.reserveCapacity(RecordBatchHeader.size + recordBytes)
        var newHeader = header
        newHeader.batchLength = Int32(RecordBatchHeader.size - RecordBatchHeader.logOverhead + recordBytes)
        newHeader.recordCount = Int32(kept.count)
        newHeader.crc = 0
        newHeader.write(to: &out)
        for record in kept {
            var slice = batch.getSlice(at: record.start, length: record.end - record.start)!
            out.writeBuffer(&slice)
        }
        let crc = RecordBatchHeader.computeCRC(of: out, batchAt: 0, totalSize: out.readableBytes)
        out.setInteger(crc, at: RecordBatchHeader.crcOffset)
        return out
    }

    private static func deleteCleaned(_ segment: LogSegment) throws {
        try FileSystem.remove(segment.logPath)
        try FileSystem.remove(segment.offsetIndexPath)
        try FileSystem.remove(segment.timeIndexPath)
    }
}
