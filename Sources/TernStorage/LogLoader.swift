import Logging

/// Opens one partition directory as a `Log`, recovering it after an unclean shutdown.
///
/// Steps, as Kafka's LogLoader:
/// 1. Remove leftovers of interrupted operations: `*.cleaned` (a compaction that never swapped), `*.tmp`
///    (an unfinished checkpoint), `*.deleted`; and index files whose `.log` is gone.
/// 2. Open every `<20-digit offset>.log` as a segment; indexes stay on disk (lazy), so a clean start of
///    thousands of partitions reads only the active segment's tail.
/// 3. Clean shutdown: the log end comes from the active segment's last index entry plus a short scan; a tail that
///    does not parse still triggers recovery of that segment.
///    Unclean shutdown: every segment from the one holding the recovery point on is recovered (batch size, magic,
///    offsets and CRC32C checked; indexes rebuilt). The file is truncated at the first bad batch, which is logged
///    with the file name and byte counts, and every later segment is deleted: nothing after a hole can be trusted.
/// 4. The recovered tail is not fsynced (as Kafka): the recovery point stays at the checkpoint until the next flush.
enum LogLoader {
    static let leftoverSuffixes = [".cleaned", ".tmp", ".deleted"]

    static func load(
        dir: String, topicPartition: TopicPartition, config: LogConfig, recoveryPoint checkpointedRecoveryPoint: Int64?,
        logStartOffset checkpointedLogStart: Int64?, hadCleanShutdown: Bool, clock: LogClock, logger baseLogger: Logger
    ) throws -> Log {
        var logger = baseLogger
        logger[metadataKey: "partition"] = "\(topicPartition)"
        var logBases: [Int64] = []
        var indexFiles: [(base: Int64, name: String)] = []
        for name in try FileSystem.listDirectory(dir) {
            if leftoverSuffixes.contains(where: name.hasSuffix) {
                logger.info("Removing leftover file", metadata: ["file": "\(dir)/\(name)"])
                try FileSystem.remove(dir + "/" + name)
                continue
            }
            guard let dot = name.firstIndex(of: "."), let base = Int64(name[..<dot]), base >= 0 else { continue }
            switch name[dot...] {
            case ".log": logBases.append(base)
            case ".index", ".timeindex": indexFiles.append((base, name))
            default: continue
            }
        }
        logBases.sort()
        let logBaseSet = Set(logBases)
        for (base, name) in indexFiles where !logBaseSet.contains(base) {
            try FileSystem.remove(dir + "/" + name)
        }

        var segments: [LogSegment] = []
        for base in logBases {
            segments.append(try LogSegment.open(dir: dir, baseOffset: base, config: config, logger: logger))
        }
        if segments.isEmpty {
            let start = max(checkpointedLogStart ?? 0, 0)
            segments.append(try LogSegment.create(dir: dir, baseOffset: start, config: config, now: clock.nowMs(), logger: logger))
        }

        var recoveryPoint = checkpointedRecoveryPoint ?? 0
        var logEndOffset: Int64
        if hadCleanShutdown, let next = try segments.last!.readNextOffset() {
            logEndOffset = next
            recoveryPoint = logEndOffset  // a clean shutdown flushed everything
        } else {
            if hadCleanShutdown { recoveryPoint = segments.last!.baseOffset }  // tail unreadable: recover it
            logEndOffset = try recover(&segments, from: recoveryPoint, dir: dir, logger: logger)
            // As Kafka: the recovered tail is not fsynced here and the recovery point stays where it was (a second
            // crash scans the tail again); the next flush moves it. An fsync of gigabytes just written before the
            // crash would hold start-up for seconds.
            recoveryPoint = min(recoveryPoint, logEndOffset)
        }

        var logStartOffset = max(checkpointedLogStart ?? segments[0].baseOffset, segments[0].baseOffset)
        logStartOffset = min(logStartOffset, logEndOffset)

        var epochCache = LeaderEpochCache(path: dir + "/leader-epoch-checkpoint")
        var epochChanged = epochCache.truncateFromEnd(logEndOffset)
        if logStartOffset > 0 { epochChanged = epochCache.truncateFromStart(logStartOffset) || epochChanged }
        if epochChanged { try epochCache.persist() }

        return Log(
            topicPartition: topicPartition, dir: dir, config: config, segments: segments, logStartOffset: logStartOffset,
            logEndOffset: logEndOffset, recoveryPoint: recoveryPoint, epochCache: epochCache, clock: clock,
            logger: baseLogger)
    }

    /// Recovers the segments from the one holding `recoveryPoint` to the end; returns the log end offset.
    private static func recover(
        _ segments: inout [LogSegment], from recoveryPoint: Int64, dir: String, logger: Logger
    ) throws -> Int64 {
        let first = segments.lastIndex(where: { $0.baseOffset <= recoveryPoint }) ?? 0
        var i = first
        while i < segments.count {
            let segment = segments[i]
            let sizeBefore = try segment.file.size()
            let truncated = try segment.recover()
            if truncated > 0 {
                logger.warning("Truncated invalid tail of log segment during recovery", metadata: [
                    "file": "\(segment.logPath)", "validBytes": "\(sizeBefore - truncated)",
                    "truncatedBytes": "\(truncated)",
                ])
                for later in segments[(i + 1)...] {
                    logger.warning("Deleting log segment after a truncated one", metadata: [
                        "file": "\(later.logPath)", "bytes": "\(later.size)",
                    ])
                    try later.deleteFiles()
                }
                segments.removeSubrange((i + 1)...)
                break
            }
            i += 1
        }
        let active = segments.last!
        return try active.readNextOffset() ?? active.baseOffset
    }
}
