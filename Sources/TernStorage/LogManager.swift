import Dispatch
import Logging
import NIOConcurrencyHelpers

/// Owns the log directories (`log.dirs`) and every partition log in them.
///
/// Disk format, per log directory:
/// - `<topic>-<partition>/`: one partition's segments (see `Log`, `LogSegment`).
/// - `recovery-point-offset-checkpoint`, `log-start-offset-checkpoint`: Kafka's text checkpoints
///   (version 0, count, "topic partition offset" lines), rewritten atomically by `checkpoint()`.
/// - `.kafka_cleanshutdown`: written by `shutdown()` after every log was flushed and closed; removed by
///   `startup()`. Its absence at startup means a crash: logs are recovered from their checkpointed recovery point.
///
/// Crash behaviour: a crash between a flush and the next checkpoint only makes recovery scan more (from an older
/// recovery point); a partition directory being deleted is renamed to `<name>.<n>-delete` first and removed on
/// the next start if the process died half way.
public final class LogManager: @unchecked Sendable {  // mutable state is behind `lock`
    public static let cleanShutdownFile = ".kafka_cleanshutdown"
    public static let recoveryPointCheckpointFile = "recovery-point-offset-checkpoint"
    public static let logStartOffsetCheckpointFile = "log-start-offset-checkpoint"

    public let logDirs: [String]
    public let defaultConfig: LogConfig
    let clock: LogClock
    let logger: Logger
    private let lock = NIOLock()
    private var logs: [TopicPartition: Log] = [:]
    private var logDirOf: [TopicPartition: String] = [:]
    private var deleteCounter = 0

    /// Threads that open (and after a crash recover) the logs of a log dir at startup; 2 as Kafka 4.0's
    /// num.recovery.threads.per.data.dir.
    public let recoveryThreads: Int

    public init(
        logDirs: [String], defaultConfig: LogConfig = LogConfig(), clock: LogClock = .system,
        logger: Logger = Logger(label: "tern.storage"), recoveryThreads: Int = 2
    ) {
        precondition(!logDirs.isEmpty, "log.dirs must name at least one directory")
        self.recoveryThreads = recoveryThreads
        self.logDirs = logDirs
        self.defaultConfig = defaultConfig
        self.clock = clock
        self.logger = logger
    }

    /// Opens every partition directory in every log dir. `configFor` supplies each topic's config (the broker's
    /// topic overrides); the default config otherwise. Returns whether the previous shutdown was clean everywhere.
    @discardableResult
    public func startup(configFor: (TopicPartition) -> LogConfig? = { _ in nil }) throws -> Bool {
        var allClean = true
        for logDir in logDirs {
            try FileSystem.makeDirectory(logDir)
            let marker = logDir + "/" + Self.cleanShutdownFile
            let clean = FileSystem.exists(marker)
            allClean = allClean && clean
            let recoveryPoints = try CheckpointFile.readOffsets(from: logDir + "/" + Self.recoveryPointCheckpointFile)
            let logStarts = try CheckpointFile.readOffsets(from: logDir + "/" + Self.logStartOffsetCheckpointFile)
            // A fresh (empty) log dir has no marker either; only logs that exist need recovering.
            let hasLogs = try FileSystem.listDirectory(logDir).contains { TopicPartition(directoryName: $0) != nil }
            if !clean && hasLogs {
                logger.warning("Unclean shutdown detected, recovering logs", metadata: ["logDir": "\(logDir)"])
            }
            var work: [(tp: TopicPartition, path: String, config: LogConfig)] = []
            for name in try FileSystem.listDirectory(logDir).sorted() {
                let path = logDir + "/" + name
                guard FileSystem.isDirectory(path) else { continue }
                if name.hasSuffix("-delete") {
                    try FileSystem.removeTree(path)
                    continue
                }
                guard let tp = TopicPartition(directoryName: name) else { continue }
                if lock.withLock({ logs[tp] != nil }) {
                    logger.error("Duplicate log directory for partition, ignoring", metadata: ["dir": "\(path)"])
                    continue
                }
                work.append((tp, path, configFor(tp) ?? defaultConfig))
            }
            for log in try load(work, recoveryPoints: recoveryPoints, logStarts: logStarts, clean: clean) {
                lock.withLock {
                    logs[log.topicPartition] = log
                    logDirOf[log.topicPartition] = logDir
                }
            }
            let recovered = work.count
            // Removed only once every log of the dir is loaded: a crash during loading recovers again.
            try FileSystem.remove(marker)
            logger.info("Loaded logs", metadata: ["logDir": "\(logDir)", "partitions": "\(recovered)", "clean": "\(clean)"])
        }
        if !allClean { try checkpoint() }
        return allClean
    }

    /// Opens the logs of one log dir on `recoveryThreads` threads (Kafka's num.recovery.threads.per.data.dir): after
    /// a crash each log's unflushed tail is read and CRC-checked, which keeps a core busy per log.
    private func load(
        _ work: [(tp: TopicPartition, path: String, config: LogConfig)], recoveryPoints: [TopicPartition: Int64],
        logStarts: [TopicPartition: Int64], clean: Bool
    ) throws -> [Log] {
        let threads = max(1, min(recoveryThreads, work.count))
        let results = NIOLockedValueBox([Result<Log, any Error>?](repeating: nil, count: work.count))
        let clock = self.clock, logger = self.logger
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for i in stride(from: thread, to: work.count, by: threads) {
                let item = work[i]
                let result = Result {
                    try LogLoader.load(
                        dir: item.path, topicPartition: item.tp, config: item.config,
                        recoveryPoint: recoveryPoints[item.tp], logStartOffset: logStarts[item.tp],
                        hadCleanShutdown: clean, clock: clock, logger: logger)
                }
                results.withLockedValue { $0[i] = result }
            }
        }
        return try results.withLockedValue { $0 }.map { try $0!.get() }
    }

    public func getLog(_ topicPartition: TopicPartition) -> Log? {
        lock.withLock { logs[topicPartition] }
    }

    public var allLogs: [Log] { lock.withLock { Array(logs.values) } }
    public var partitions: [TopicPartition] { lock.withLock { Array(logs.keys) } }

    /// The partition's log, created empty in the log dir holding the fewest partitions when it does not exist.
    public func getOrCreateLog(_ topicPartition: TopicPartition, config: LogConfig? = nil) throws -> Log {
        try lock.withLock {
            if let log = logs[topicPartition] { return log }
            var counts: [String: Int] = Dictionary(uniqueKeysWithValues: logDirs.map { ($0, 0) })
            for dir in logDirOf.values { counts[dir, default: 0] += 1 }
            let logDir = logDirs.min { counts[$0]! < counts[$1]! }!
            let dir = logDir + "/" + topicPartition.directoryName
            try FileSystem.makeDirectory(logDir)
            try FileSystem.makeDirectory(dir)
            FileSystem.syncDirectory(logDir)
            let log = try LogLoader.load(
                dir: dir, topicPartition: topicPartition, config: config ?? defaultConfig, recoveryPoint: nil,
                logStartOffset: nil, hadCleanShutdown: true, clock: clock, logger: logger)
            logs[topicPartition] = log
            logDirOf[topicPartition] = logDir
            logger.info("Created log", metadata: ["partition": "\(topicPartition)", "dir": "\(dir)"])
            return log
        }
    }

    /// Deletes the partition's log and its directory (renamed to `*-delete` first, so a crash half way does not
    /// resurrect a partial log).
    public func deleteLog(_ topicPartition: TopicPartition) throws {
        let removed: (Log, String)? = lock.withLock {
            guard let log = logs.removeValue(forKey: topicPartition), let dir = logDirOf.removeValue(forKey: topicPartition)
            else { return nil }
            deleteCounter += 1
            return (log, dir + "/" + topicPartition.directoryName + ".\(deleteCounter)-delete")
        }
        guard let (log, doomed) = removed else { return }
        log.lock.withLock {
            log.state.closed = true
            log.state.segments.removeAll()
        }
        try FileSystem.rename(log.dir, doomed)
        try FileSystem.removeTree(doomed)
        logger.info("Deleted log", metadata: ["partition": "\(topicPartition)"])
    }

    /// Writes both checkpoint files of every log dir.
    public func checkpoint() throws {
        let snapshot: [(TopicPartition, String, LogOffsets)] = lock.withLock {
            logs.map { ($0.key, logDirOf[$0.key]!, $0.value.offsets) }
        }
        for logDir in logDirs {
            var recoveryPoints: [TopicPartition: Int64] = [:]
            var logStarts: [TopicPartition: Int64] = [:]
            for (tp, dir, offsets) in snapshot where dir == logDir {
                recoveryPoints[tp] = offsets.recoveryPoint
                logStarts[tp] = offsets.logStartOffset
            }
            try CheckpointFile.writeOffsets(recoveryPoints, to: logDir + "/" + Self.recoveryPointCheckpointFile)
            try CheckpointFile.writeOffsets(logStarts, to: logDir + "/" + Self.logStartOffsetCheckpointFile)
        }
    }

    /// The periodic tasks a scheduler runs (Kafka: log.retention.check.interval.ms, log.flush.*.interval.ms).
    @discardableResult
    public func runRetention() -> Int {
        var deleted = 0
        for log in allLogs {
            do { deleted += try log.deleteOldSegments() } catch {
                logger.error("Retention failed", metadata: ["partition": "\(log.topicPartition)", "error": "\(error)"])
            }
        }
        return deleted
    }

    public func flushDirtyLogs() {
        for log in allLogs {
            do { try log.flushIfNeeded() } catch {
                logger.error("Flush failed", metadata: ["partition": "\(log.topicPartition)", "error": "\(error)"])
            }
        }
    }

    /// One compaction pass over every log with cleanup.policy=compact. Returns the number of logs cleaned.
    @discardableResult
    public func runCleaner() -> Int {
        var cleaned = 0
        for log in allLogs where log.config.isCompacted {
            do { if try LogCleaner.clean(log, force: false) != nil { cleaned += 1 } } catch {
                logger.error("Log cleaning failed", metadata: ["partition": "\(log.topicPartition)", "error": "\(error)"])
            }
        }
        return cleaned
    }

    /// Clean shutdown: flush and close every log, write the checkpoints, then the clean-shutdown markers.
    public func shutdown() throws {
        for log in allLogs { try log.close() }
        try checkpoint()
        for logDir in logDirs {
            try FileSystem.writeAtomically([], to: logDir + "/" + Self.cleanShutdownFile)
        }
        logger.info("Log manager shut down cleanly")
    }
}
