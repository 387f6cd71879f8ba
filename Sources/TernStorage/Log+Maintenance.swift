import Logging

/// Flush, truncation, log start movement, retention and close.
extension Log {
    // MARK: Flush

    /// fsyncs every segment holding data between the recovery point and `offset` (default: the log end), then
    /// advances the recovery point. Index files are written under the lock; the log fsyncs run outside it.
    public func flush(upTo offset: Int64? = nil) throws {
        let now = clock.nowMs()
        let (files, target) = try lock.withLock { () throws -> ([SegmentFile], Int64) in
            let target = min(offset ?? state.logEndOffset, state.logEndOffset)
            guard target > state.recoveryPoint else { return ([], target) }
            let first = segmentIndex(containing: state.recoveryPoint)
            let last = segmentIndex(containing: max(target - 1, 0))
            var files: [SegmentFile] = []
            for segment in state.segments[first...max(first, last)] {
                try segment.flushIndexes()
                files.append(segment.file)
            }
            return (files, target)
        }
        for file in files { try file.sync() }
        lock.withLock {
            if target > state.recoveryPoint { state.recoveryPoint = target }
            if target >= state.logEndOffset {
                state.unflushedRecords = 0
                state.lastFlushMs = now
            }
        }
    }

    /// The scheduler's periodic check for flush.ms.
    public func flushIfNeeded() throws {
        let now = clock.nowMs()
        let due = lock.withLock {
            state.unflushedRecords > 0 && now - state.lastFlushMs >= state.config.flushMs
        }
        if due { try flush() }
    }

    // MARK: Truncation (replication)

    /// Removes every batch whose last offset is >= `offset` (a batch holding `offset` goes whole); the log end
    /// becomes the next offset after what remains. For follower truncation to a leader epoch boundary.
    public func truncate(to offset: Int64) throws {
        try lock.withLock {
            // A replica's fetcher may still be truncating a log just deleted (the partition moved away).
            guard !state.closed else { throw StorageError(.logClosed, "log \(topicPartition) is closed", path: dir) }
            guard offset < state.logEndOffset else { return }
            if offset <= state.logStartOffset {
                try truncateFullyLocked(startingAt: max(offset, 0))
                return
            }
            while state.segments.count > 1, state.segments.last!.baseOffset >= offset {
                try state.segments.removeLast().deleteFiles()
            }
            state.truncations += 1
            let active = state.segments.last!
            let removed = try active.truncate(to: offset)
            state.logEndOffset = try active.readNextOffset() ?? active.baseOffset
            state.highWatermark = min(state.highWatermark, state.logEndOffset)
            state.recoveryPoint = min(state.recoveryPoint, state.logEndOffset)
            state.firstDirtyOffset = min(state.firstDirtyOffset, state.logEndOffset)
            if state.epochCache.truncateFromEnd(state.logEndOffset) { try state.epochCache.persist() }
            logger.info("Truncated log", metadata: [
                "to": "\(offset)", "logEndOffset": "\(state.logEndOffset)", "bytesRemovedFromActive": "\(removed)",
            ])
        }
    }

    /// Deletes every segment and starts an empty log at `offset`.
    public func truncateFully(startingAt offset: Int64) throws {
        try lock.withLock {
            guard !state.closed else { throw StorageError(.logClosed, "log \(topicPartition) is closed", path: dir) }
            try truncateFullyLocked(startingAt: offset)
        }
    }

    private func truncateFullyLocked(startingAt offset: Int64) throws {
        state.truncations += 1
        for segment in state.segments { try segment.deleteFiles() }
        state.segments = [try LogSegment.create(dir: dir, baseOffset: offset, config: state.config, now: clock.nowMs(), logger: logger)]
        state.logStartOffset = offset
        state.logEndOffset = offset
        state.highWatermark = offset
        state.recoveryPoint = offset
        state.firstDirtyOffset = offset
        if state.epochCache.truncateFromEnd(offset) { try state.epochCache.persist() }
    }

    // MARK: Log start offset (DeleteRecords) and retention

    /// DeleteRecords: moves the log start offset up to `offset` (<= high watermark) and deletes the segments
    /// wholly below it. Returns the new log start offset (the partition's low watermark).
    @discardableResult
    public func deleteRecordsBefore(_ offset: Int64) throws -> Int64 {
        try lock.withLock {
            guard offset <= state.highWatermark else {
                throw StorageError(.offsetOutOfRange,
                    "cannot move log start of \(topicPartition) to \(offset), beyond the high watermark \(state.highWatermark)")
            }
            if offset > state.logStartOffset {
                state.logStartOffset = offset
                state.firstDirtyOffset = max(state.firstDirtyOffset, offset)
                if state.epochCache.truncateFromStart(offset) { try state.epochCache.persist() }
            }
            _ = try deleteSegmentsLocked(reason: "log start offset breach") { _, upper in upper <= self.state.logStartOffset }
            return state.logStartOffset
        }
    }

    /// Retention with this log's config (retention.ms, retention.bytes, only when cleanup.policy has delete), plus
    /// deletion of segments below the log start offset. Returns the number of segments deleted.
    @discardableResult
    public func deleteOldSegments() throws -> Int {
        let config = self.config
        return try deleteOldSegments(
            retentionMs: config.isDeleteEnabled ? config.retentionMs : -1,
            retentionBytes: config.isDeleteEnabled ? config.retentionBytes : -1, now: clock.nowMs())
    }

    /// Kafka's retention: deletes whole segments from the head while each is older than `retentionMs` (by its
    /// newest timestamp), or while the log stays above `retentionBytes` without it, or lies below the log start.
    /// Only segments entirely below the high watermark qualify. When every segment qualifies, the active one is
    /// rolled first, so the log keeps an (empty) active segment at the log end. -1 disables a limit.
    @discardableResult
    public func deleteOldSegments(retentionMs: Int64, retentionBytes: Int64, now: Int64) throws -> Int {
        try lock.withLock {
            var deleted = try deleteSegmentsLocked(reason: "log start offset breach") { _, upper in upper <= self.state.logStartOffset }
            if retentionMs >= 0 {
                deleted += try deleteSegmentsLocked(reason: "retention.ms \(retentionMs)") { segment, _ in
                    now - (try segment.largestTimestamp()) > retentionMs
                }
            }
            if retentionBytes >= 0 {
                var excess = state.segments.reduce(Int64(0)) { $0 + $1.size } - retentionBytes
                deleted += try deleteSegmentsLocked(reason: "retention.bytes \(retentionBytes)") { segment, _ in
                    guard excess - segment.size >= 0 else { return false }
                    excess -= segment.size
                    return true
                }
            }
            return deleted
        }
    }

    /// Deletes head segments while `predicate(segment, nextSegmentBaseOrLogEnd)` holds. Caller holds the lock.
    private func deleteSegmentsLocked(reason: String, _ predicate: (LogSegment, Int64) throws -> Bool) throws -> Int {
        var count = 0
        for (i, segment) in state.segments.enumerated() {
            let isLast = i == state.segments.count - 1
            if isLast && segment.size == 0 { break }
            let upper = isLast ? state.logEndOffset : state.segments[i + 1].baseOffset
            guard state.highWatermark >= upper, try predicate(segment, upper) else { break }
            count += 1
        }
        guard count > 0 else { return 0 }
        if count == state.segments.count { try rollLocked(newBaseOffset: state.logEndOffset, now: clock.nowMs()) }
        for _ in 0..<count {
            let segment = state.segments.removeFirst()
            try segment.deleteFiles()
            logger.info("Deleted log segment", metadata: [
                "file": "\(segment.logPath)", "bytes": "\(segment.size)", "reason": "\(reason)",
            ])
        }
        let newStart = state.segments[0].baseOffset
        if newStart > state.logStartOffset {
            state.logStartOffset = newStart
            state.firstDirtyOffset = max(state.firstDirtyOffset, newStart)
            if state.epochCache.truncateFromStart(newStart) { try state.epochCache.persist() }
        }
        state.recoveryPoint = max(state.recoveryPoint, state.logStartOffset)
        return count
    }

    // MARK: Close and delete

    /// Clean shutdown of this log: trims and fsyncs indexes, fsyncs segments. Later calls throw `logClosed`.
    public func close() throws {
        try lock.withLock {
            guard !state.closed else { return }
            for (i, segment) in state.segments.enumerated() {
                let upper = i + 1 < state.segments.count ? state.segments[i + 1].baseOffset : state.logEndOffset
                try segment.close(syncLog: upper > state.recoveryPoint || i == state.segments.count - 1)
            }
            state.recoveryPoint = state.logEndOffset
            state.closed = true
        }
    }
}
