import KafkaProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// One partition's log: an ordered list of `LogSegment`s in `<log dir>/<topic>-<partition>/`, the last one active.
///
/// Offsets: `logStartOffset` <= `highWatermark` <= `logEndOffset`. The broker sets the high watermark (a single
/// broker sets it to the log end after each append); `recoveryPoint` is the offset below which everything was
/// fsynced, so recovery after a crash only scans from there.
///
/// Concurrency: every mutable field lives in `state`, guarded by `lock`; each append or read takes the lock once.
/// fsyncs and the bulk `pread` of a fetch run outside it, so a flush or a large read does not stall producers.
///
/// Crash behaviour: an append is acknowledged after its `pwrite` (the page cache holds it, as in Kafka with the
/// default flush.messages/flush.ms); after an unclean shutdown `LogLoader` re-validates everything past the
/// recovery point and truncates a torn tail. The leader epoch checkpoint is rewritten atomically when it changes.
public final class Log: @unchecked Sendable {  // all mutable state is behind `lock`
    public let topicPartition: TopicPartition
    public let dir: String
    let clock: LogClock
    let logger: Logger
    let lock = NIOLock()

    struct State {
        var config: LogConfig
        var segments: [LogSegment]
        var logStartOffset: Int64
        var logEndOffset: Int64
        var highWatermark: Int64
        var recoveryPoint: Int64
        var unflushedRecords: Int64 = 0
        var lastFlushMs: Int64
        var epochCache: LeaderEpochCache
        var closed = false
        /// First offset not yet compacted (cleaner checkpoint, kept in memory: after a restart the cleaner
        /// rescans from the log start, which costs time but never correctness).
        var firstDirtyOffset: Int64
        /// Bumped by every truncation, so a cleaner pass started before one does not swap in stale segments.
        var truncations = 0
    }

    /// Guarded by `lock`.
    var state: State

    init(
        topicPartition: TopicPartition, dir: String, config: LogConfig, segments: [LogSegment], logStartOffset: Int64,
        logEndOffset: Int64, recoveryPoint: Int64, epochCache: LeaderEpochCache, clock: LogClock, logger: Logger
    ) {
        precondition(!segments.isEmpty, "a log always has an active segment")
        self.topicPartition = topicPartition
        self.dir = dir
        self.clock = clock
        var logger = logger
        logger[metadataKey: "partition"] = "\(topicPartition)"
        self.logger = logger
        self.state = State(
            config: config, segments: segments, logStartOffset: logStartOffset, logEndOffset: logEndOffset,
            highWatermark: logEndOffset, recoveryPoint: recoveryPoint, lastFlushMs: clock.nowMs(),
            epochCache: epochCache, firstDirtyOffset: logStartOffset)
    }

    // MARK: Offsets and configuration

    public var offsets: LogOffsets {
        lock.withLock {
            LogOffsets(
                logStartOffset: state.logStartOffset, logEndOffset: state.logEndOffset,
                highWatermark: state.highWatermark, recoveryPoint: state.recoveryPoint)
        }
    }
    public var logStartOffset: Int64 { lock.withLock { state.logStartOffset } }
    public var logEndOffset: Int64 { lock.withLock { state.logEndOffset } }
    public var highWatermark: Int64 { lock.withLock { state.highWatermark } }
    public var recoveryPoint: Int64 { lock.withLock { state.recoveryPoint } }
    public var config: LogConfig { lock.withLock { state.config } }
    public var segmentCount: Int { lock.withLock { state.segments.count } }
    /// Total bytes of all segments.
    public var size: Int64 { lock.withLock { state.segments.reduce(0) { $0 + $1.size } } }
    /// Base offsets of the segments, oldest first.
    public var segmentBaseOffsets: [Int64] { lock.withLock { state.segments.map(\.baseOffset) } }

    public func updateConfig(_ config: LogConfig) { lock.withLock { state.config = config } }

    /// Sets the high watermark, clamped to [logStartOffset, logEndOffset]; returns the value set.
    @discardableResult
    public func updateHighWatermark(_ offset: Int64) -> Int64 {
        lock.withLock {
            state.highWatermark = min(max(offset, state.logStartOffset), state.logEndOffset)
            return state.highWatermark
        }
    }

    public var latestEpoch: Int32? { lock.withLock { state.epochCache.latestEpoch } }

    /// OffsetForLeaderEpoch: (largest epoch <= `epoch`, its end offset), (-1, -1) when unknown.
    public func endOffset(forLeaderEpoch epoch: Int32) -> (epoch: Int32, endOffset: Int64) {
        lock.withLock { state.epochCache.endOffset(for: epoch, logEndOffset: state.logEndOffset) }
    }

    /// (epoch, startOffset) entries of the leader epoch cache, oldest first.
    public var leaderEpochEntries: [(epoch: Int32, startOffset: Int64)] {
        lock.withLock { state.epochCache.entries.map { ($0.epoch, $0.startOffset) } }
    }

    // MARK: Append

    /// Appends already-validated magic v2 batches (one or more, concatenated) with a single write (plus one
    /// 16-byte write per batch for the assigned header fields).
    ///
    /// With `assignOffsets` (leader appends) each batch's baseOffset and partitionLeaderEpoch are set in the
    /// stored copy (the CRC does not cover them); under `message.timestamp.type=LogAppendTime` the timestamp type bit
    /// and maxTimestamp are set to the broker clock and the CRC recomputed. Without it (replication) the batches
    /// keep their offsets, which must start at or after the log end.
    /// Throws `recordListTooLarge` when the append exceeds segment.bytes, `messageTooLarge` when a batch exceeds
    /// max.message.bytes, `corruptRecord` when the bytes are not whole v2 batches.
    ///
    /// `batches` is not copied: the new base offsets and leader epochs are written over the file's copy of each
    /// header (only LogAppendTime, which recomputes the CRC, patches the buffer, copying it when it is shared).
    @discardableResult
    public func append(batches: consuming ByteBuffer, leaderEpoch: Int32 = -1, assignOffsets: Bool = true) throws -> LogAppendInfo {
        let now = clock.nowMs()
        let (info, flushUpTo) = try lock.withLock { try appendLocked(&batches, leaderEpoch: leaderEpoch, assignOffsets: assignOffsets, now: now) }
        if let flushUpTo { try flush(upTo: flushUpTo) }
        return info
    }

    private func appendLocked(
        _ buffer: inout ByteBuffer, leaderEpoch: Int32, assignOffsets: Bool, now: Int64
    ) throws -> (LogAppendInfo, Int64?) {
        guard !state.closed else { throw StorageError(.logClosed, "log \(topicPartition) is closed", path: dir) }
        let total = buffer.readableBytes
        guard total >= RecordBatchHeader.size else {
            throw StorageError(.corruptRecord, "append of \(total) bytes holds no record batch")
        }
        guard total <= state.config.segmentBytes else {
            throw StorageError(.recordListTooLarge, "append of \(total) bytes exceeds segment.bytes \(state.config.segmentBytes)")
        }
        let logAppendTime = state.config.messageTimestampType == .logAppendTime
        var batches: [LogSegment.BatchInfo] = []
        var patches: [LogSegment.HeaderPatch] = []
        var epochs: [(epoch: Int32, offset: Int64)] = []
        var index = buffer.readerIndex
        var nextOffset = state.logEndOffset
        var firstOffset: Int64 = -1
        var maxTimestamp: Int64 = -1, offsetOfMaxTimestamp: Int64 = -1
        var records: Int64 = 0
        while index < buffer.writerIndex {
            guard let header = RecordBatchHeader(peekingAt: index, of: buffer),
                  header.batchLength >= BatchWalker.minimumBatchLength, header.lastOffsetDelta >= 0,
                  index + header.totalSize <= buffer.writerIndex
            else { throw StorageError(.corruptRecord, "bytes at \(index - buffer.readerIndex) are not a whole v2 batch") }
            let size = header.totalSize
            guard size <= state.config.maxMessageBytes else {
                throw StorageError(.messageTooLarge, "batch of \(size) bytes exceeds max.message.bytes \(state.config.maxMessageBytes)")
            }
            var baseOffset = header.baseOffset
            var batchMaxTimestamp = header.maxTimestamp
            if assignOffsets {
                baseOffset = nextOffset
                if !logAppendTime {
                    // The bytes usually share storage with the connection's read buffer: patching them would copy
                    // the whole batch; the segment writes the new offset and epoch over the file's copy instead.
                    patches.append(.init(at: index - buffer.readerIndex, baseOffset: baseOffset, batchLength: header.batchLength,
                                         leaderEpoch: leaderEpoch))
                } else {
                    buffer.setInteger(baseOffset, at: index)
                    buffer.setInteger(leaderEpoch, at: index + 12)
                    var attributes = header.attributes
                    attributes.isLogAppendTime = true
                    buffer.setInteger(attributes.rawValue, at: index + RecordBatchHeader.attributesOffset)
                    buffer.setInteger(now, at: index + 35)
                    batchMaxTimestamp = now
                    let crc = RecordBatchHeader.computeCRC(of: buffer, batchAt: index, totalSize: size)
                    buffer.setInteger(crc, at: index + RecordBatchHeader.crcOffset)
                }
                if leaderEpoch >= 0 && epochs.isEmpty { epochs.append((leaderEpoch, baseOffset)) }
            } else {
                guard baseOffset >= nextOffset else {
                    throw StorageError(.invalidOffset, "batch base offset \(baseOffset) is below log end \(nextOffset)")
                }
                if header.partitionLeaderEpoch >= 0 && epochs.last?.epoch != header.partitionLeaderEpoch {
                    epochs.append((header.partitionLeaderEpoch, baseOffset))
                }
            }
            if firstOffset < 0 { firstOffset = baseOffset }
            let lastOffset = baseOffset + Int64(header.lastOffsetDelta)
            if batchMaxTimestamp > maxTimestamp {
                maxTimestamp = batchMaxTimestamp
                offsetOfMaxTimestamp = lastOffset
            }
            batches.append(.init(size: size, lastOffset: lastOffset, maxTimestamp: batchMaxTimestamp))
            records += Int64(header.lastOffsetDelta) + 1
            nextOffset = lastOffset + 1
            index += size
        }

        var flushUpTo: Int64?
        if try state.segments.last!.shouldRoll(incomingBytes: total, lastOffset: nextOffset - 1, now: now, config: state.config) {
            try rollLocked(newBaseOffset: firstOffset, now: now)
            flushUpTo = firstOffset  // Kafka flushes the rolled segment right away (here: outside the lock)
        }
        try state.segments.last!.append(buffer, batches: batches, patches: patches)
        state.logEndOffset = nextOffset

        var epochChanged = false
        for (epoch, offset) in epochs where epoch > (state.epochCache.latestEpoch ?? -1) {
            epochChanged = state.epochCache.assign(epoch: epoch, startOffset: offset) || epochChanged
        }
        if epochChanged { try state.epochCache.persist() }

        state.unflushedRecords += records
        if state.unflushedRecords >= state.config.flushMessages || now - state.lastFlushMs >= state.config.flushMs {
            flushUpTo = nextOffset
        }
        let info = LogAppendInfo(
            firstOffset: firstOffset, lastOffset: nextOffset - 1, logAppendTime: logAppendTime && assignOffsets ? now : -1,
            maxTimestamp: maxTimestamp, offsetOfMaxTimestamp: offsetOfMaxTimestamp,
            logStartOffset: state.logStartOffset, batchCount: batches.count, validBytes: total)
        return (info, flushUpTo)
    }

    /// Starts a new active segment at the log end (no-op when the active segment is empty).
    public func roll() throws {
        let now = clock.nowMs()
        let rolledAt: Int64? = try lock.withLock {
            guard !state.closed, state.segments.last!.size > 0 else { return nil }
            try rollLocked(newBaseOffset: state.logEndOffset, now: now)
            return state.logEndOffset
        }
        if let rolledAt { try flush(upTo: rolledAt) }
    }

    func rollLocked(newBaseOffset: Int64, now: Int64) throws {
        let active = state.segments.last!
        if active.size == 0 {
            if active.baseOffset == newBaseOffset { return }
            // An empty active segment at another offset (replication jumped ahead): replace it.
            try active.deleteFiles()
            state.segments.removeLast()
        } else {
            try active.onBecomeInactive()
        }
        let segment = try LogSegment.create(dir: dir, baseOffset: newBaseOffset, config: state.config, now: now, logger: logger)
        state.segments.append(segment)
        logger.debug("Rolled new log segment", metadata: ["baseOffset": "\(newBaseOffset)"])
    }

    // MARK: Read

    /// Reads whole batches starting with the one that holds `offset` (a fetch from the middle of a batch returns
    /// the whole batch), up to `maxBytes`, only batches entirely below `maxOffset` (the high watermark for
    /// consumers; Int64.max for replicas), from one segment. With `minOneBatch` the first batch is returned even
    /// when larger than `maxBytes`. Throws `offsetOutOfRange` outside [logStartOffset, logEndOffset].
    ///
    /// With `materialize` (default) the bytes are read with one `pread` outside the lock and a trailing partial
    /// batch is cut. Without it only `file`, `position` and `length` are set, for sendfile/FileRegion: like Kafka's
    /// zero-copy path, that range may end in a partial batch, which clients skip.
    public func read(
        from offset: Int64, maxBytes: Int, maxOffset: Int64 = .max, minOneBatch: Bool = true, materialize: Bool = true
    ) throws -> FetchData {
        let (located, offsets) = try lock.withLock { () throws -> ((SegmentFile, Int64, Int, Int64)?, LogOffsets) in
            let offsets = LogOffsets(
                logStartOffset: state.logStartOffset, logEndOffset: state.logEndOffset,
                highWatermark: state.highWatermark, recoveryPoint: state.recoveryPoint)
            guard offset >= state.logStartOffset, offset <= state.logEndOffset else {
                throw StorageError(.offsetOutOfRange,
                    "offset \(offset) is outside [\(state.logStartOffset), \(state.logEndOffset)] of \(topicPartition)")
            }
            let limit = min(maxOffset, state.logEndOffset)
            guard offset < limit else { return (nil, offsets) }
            var i = segmentIndex(containing: offset)
            while i < state.segments.count {
                let segment = state.segments[i]
                let maxPosition: Int64
                if limit >= state.logEndOffset || (i + 1 < state.segments.count && state.segments[i + 1].baseOffset <= limit) {
                    maxPosition = segment.size
                } else {
                    maxPosition = try segment.translateOffset(limit)?.position ?? segment.size
                }
                if let slice = try segment.read(startOffset: offset, maxSize: maxBytes, maxPosition: maxPosition, minOneBatch: minOneBatch) {
                    return ((segment.file, slice.position, slice.length, slice.firstOffset), offsets)
                }
                i += 1
            }
            return (nil, offsets)
        }
        var data = FetchData(
            records: ByteBuffer(), file: nil, position: 0, length: 0, firstBatchOffset: nil,
            highWatermark: offsets.highWatermark, logStartOffset: offsets.logStartOffset, logEndOffset: offsets.logEndOffset)
        guard let (file, position, length, firstOffset) = located, length > 0 else { return data }
        data.file = file
        data.position = position
        data.firstBatchOffset = firstOffset
        guard materialize else {
            data.length = length
            return data
        }
        var bytes = try file.read(at: position, length: length)
        Self.trimToWholeBatches(&bytes)
        guard bytes.readableBytes > 0 else { return FetchData(
            records: ByteBuffer(), file: nil, position: 0, length: 0, firstBatchOffset: nil,
            highWatermark: offsets.highWatermark, logStartOffset: offsets.logStartOffset, logEndOffset: offsets.logEndOffset) }
        data.records = bytes
        data.length = bytes.readableBytes
        return data
    }

    /// Cuts a trailing partial batch, so readers always get whole batches.
    static func trimToWholeBatches(_ bytes: inout ByteBuffer) {
        var index = bytes.readerIndex
        while index + RecordBatchHeader.logOverhead <= bytes.writerIndex,
              let length = bytes.getInteger(at: index + 8, as: Int32.self), length >= BatchWalker.minimumBatchLength,
              index + Int(length) + RecordBatchHeader.logOverhead <= bytes.writerIndex
        {
            index += Int(length) + RecordBatchHeader.logOverhead
        }
        bytes.moveWriterIndex(to: index)
    }

    /// Index of the segment whose range holds `offset` (the last with baseOffset <= offset). Caller holds the lock.
    func segmentIndex(containing offset: Int64) -> Int {
        var low = 0, high = state.segments.count - 1, found = 0
        while low <= high {
            let mid = (low + high) / 2
            if state.segments[mid].baseOffset <= offset { found = mid; low = mid + 1 } else { high = mid - 1 }
        }
        return found
    }

    // MARK: Offset lookups (ListOffsets)

    /// The first batch at or after the log start whose max timestamp is >= `timestamp`: (its max timestamp,
    /// its base offset). nil when every batch is older. Batch granularity: a consumer seeking there may see a few
    /// earlier records of the same batch, which it skips by timestamp.
    public func offsetForTimestamp(_ timestamp: Int64) throws -> (timestamp: Int64, offset: Int64)? {
        try lock.withLock {
            var i = segmentIndex(containing: state.logStartOffset)
            while i < state.segments.count {
                let segment = state.segments[i]
                if segment.size > 0, try segment.largestTimestamp() >= timestamp,
                   let found = try segment.findOffsetByTimestamp(timestamp, startingOffset: state.logStartOffset)
                {
                    return found
                }
                i += 1
            }
            return nil
        }
    }

    /// ListOffsets EARLIEST (-2).
    public var earliestOffset: Int64 { logStartOffset }
    /// ListOffsets LATEST (-1) for a replica; consumers under read_committed/uncommitted use the high watermark.
    public var latestOffset: Int64 { logEndOffset }

    /// ListOffsets MAX_TIMESTAMP (-3): the largest timestamp and the last offset of the batch carrying it.
    public func maxTimestampOffset() throws -> (timestamp: Int64, offset: Int64)? {
        try lock.withLock {
            var best: (timestamp: Int64, offset: Int64)?
            for segment in state.segments where segment.size > 0 {
                let entry = try segment.maxTimestampAndOffset()
                if entry.timestamp >= 0, entry.timestamp > best?.timestamp ?? -1, entry.offset >= state.logStartOffset {
                    best = entry
                }
            }
            return best
        }
    }
}
