import KafkaProtocol
import Logging
import NIOCore

/// One segment of a partition's log: the record batches from `baseOffset` up to the next segment's base offset.
///
/// Disk format, in the partition directory:
/// - `<20-digit baseOffset>.log`: record batches (magic v2) exactly as produced, with broker-assigned base offsets.
/// - `<20-digit baseOffset>.index`: see `OffsetIndex`.  `<20-digit baseOffset>.timeindex`: see `TimeIndex`.
///
/// Crash behaviour: appends are one `pwrite` each and reach disk when the page cache does, or at `flush`.
/// After an unclean shutdown the `.log` may end in a torn or corrupt batch: `recover` walks every batch,
/// checking size, magic, offsets and CRC32C, truncates the file at the first bad one and rebuilds both indexes.
/// Index files are loaded lazily on first use; a missing or corrupt index is rebuilt from the log, never fatal.
///
/// Not thread safe: the owning `Log` serialises every call under its lock.
final class LogSegment {
    let baseOffset: Int64
    let dir: String
    let suffix: String
    let file: SegmentFile
    private(set) var size: Int64
    private let indexIntervalBytes: Int
    private let maxIndexSize: Int
    private let logger: Logger

    private var offsetIndex: OffsetIndex!
    private var timeIndex: TimeIndex!
    private var indexesLoaded = false
    private var indexesTrimmed = false
    private var bytesSinceLastIndexEntry = 0
    private var maxTimestampSoFar: Int64 = -1
    private(set) var offsetOfMaxTimestampSoFar: Int64 = -1
    private var rollingBasedTimestamp: Int64?
    private let createdMs: Int64

    static func fileName(_ baseOffset: Int64, _ ext: String) -> String {
        let digits = String(baseOffset)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ext
    }

    var logPath: String { dir + "/" + Self.fileName(baseOffset, ".log") + suffix }
    var offsetIndexPath: String { dir + "/" + Self.fileName(baseOffset, ".index") + suffix }
    var timeIndexPath: String { dir + "/" + Self.fileName(baseOffset, ".timeindex") + suffix }

    private init(
        dir: String, baseOffset: Int64, suffix: String, file: SegmentFile, size: Int64, config: LogConfig,
        createdMs: Int64, logger: Logger
    ) {
        self.dir = dir
        self.baseOffset = baseOffset
        self.suffix = suffix
        self.file = file
        self.size = size
        self.indexIntervalBytes = config.indexIntervalBytes
        self.maxIndexSize = config.segmentIndexBytes
        self.createdMs = createdMs
        self.logger = logger
    }

    /// A new, empty segment; its index files are preallocated to `segment.index.bytes`.
    static func create(
        dir: String, baseOffset: Int64, config: LogConfig, now: Int64, suffix: String = "", logger: Logger
    ) throws -> LogSegment {
        let path = dir + "/" + fileName(baseOffset, ".log") + suffix
        let file = try SegmentFile(path: path, create: true, truncate: true)
        let segment = LogSegment(
            dir: dir, baseOffset: baseOffset, suffix: suffix, file: file, size: 0, config: config,
            createdMs: now, logger: logger)
        segment.offsetIndex = OffsetIndex(path: segment.offsetIndexPath, baseOffset: baseOffset, maxIndexSize: config.segmentIndexBytes)
        segment.timeIndex = TimeIndex(path: segment.timeIndexPath, baseOffset: baseOffset, maxIndexSize: config.segmentIndexBytes)
        try segment.offsetIndex.rewrite(trim: false)
        try segment.timeIndex.rewrite(trim: false)
        segment.indexesLoaded = true
        return segment
    }

    /// An existing segment; indexes stay on disk until first needed.
    static func open(dir: String, baseOffset: Int64, config: LogConfig, logger: Logger) throws -> LogSegment {
        let file = try SegmentFile(path: dir + "/" + fileName(baseOffset, ".log"))
        return LogSegment(
            dir: dir, baseOffset: baseOffset, suffix: "", file: file, size: try file.size(), config: config,
            createdMs: file.lastModifiedMs(), logger: logger)
    }

    // MARK: Indexes

    /// Loads both index files, rebuilding them from the log when missing or failing the sanity check.
    func ensureIndexesLoaded() throws {
        guard !indexesLoaded else { return }
        if let offsets = OffsetIndex.load(path: offsetIndexPath, baseOffset: baseOffset, maxIndexSize: maxIndexSize, logSize: size),
           let times = TimeIndex.load(path: timeIndexPath, baseOffset: baseOffset, maxIndexSize: maxIndexSize)
        {
            offsetIndex = offsets
            timeIndex = times
            indexesLoaded = true
            indexesTrimmed = FileSystem.size(offsetIndexPath) == Int64(offsets.count * OffsetIndex.entrySize)
            if let last = times.lastEntry {
                maxTimestampSoFar = last.timestamp
                offsetOfMaxTimestampSoFar = last.offset
            }
            bytesSinceLastIndexEntry = Int(size - offsets.lastPosition)
            return
        }
        logger.warning("Rebuilding index files of segment", metadata: ["file": "\(logPath)"])
        let truncated = try recover()
        if truncated > 0 {
            logger.error("Truncated corrupt segment while rebuilding its index", metadata: [
                "file": "\(logPath)", "truncatedBytes": "\(truncated)",
            ])
        }
    }

    /// Newest batch timestamp in the segment, or the file's mtime when it holds none (as Kafka).
    func largestTimestamp() throws -> Int64 {
        try ensureIndexesLoaded()
        return maxTimestampSoFar >= 0 ? maxTimestampSoFar : file.lastModifiedMs()
    }

    func maxTimestampAndOffset() throws -> (timestamp: Int64, offset: Int64) {
        try ensureIndexesLoaded()
        return (maxTimestampSoFar, offsetOfMaxTimestampSoFar)
    }

    // MARK: Append

    struct BatchInfo {
        var size: Int
        var lastOffset: Int64
        var maxTimestamp: Int64
    }

    /// Appends `buffer` (whole batches, described by `batches`) with one write, then indexes them.
    /// The first 16 bytes of a batch header as the leader assigns them (base offset, length, leader epoch), for
    /// the batch at byte `at` of an appended buffer.
    struct HeaderPatch {
        var at: Int
        var baseOffset: Int64
        var batchLength: Int32
        var leaderEpoch: Int32
    }

    func append(_ buffer: ByteBuffer, batches: [BatchInfo], patches: [HeaderPatch] = []) throws {
        try ensureIndexesLoaded()
        do {
            try file.write(buffer, at: size)
            // Readers see the bytes only once `size` moves past them, so they never see an unpatched header.
            for patch in patches {
                try withUnsafeTemporaryAllocation(byteCount: 16, alignment: 8) { raw in
                    raw.storeBytes(of: patch.baseOffset.bigEndian, toByteOffset: 0, as: Int64.self)
                    raw.storeBytes(of: patch.batchLength.bigEndian, toByteOffset: 8, as: Int32.self)
                    raw.storeBytes(of: patch.leaderEpoch.bigEndian, toByteOffset: 12, as: Int32.self)
                    try file.write(bytes: UnsafeRawBufferPointer(raw), at: size + Int64(patch.at))
                }
            }
        } catch {
            try? file.truncate(to: size)  // drop a partial write so the file never holds a torn batch we ack'd
            throw error
        }
        var position = size
        for batch in batches {
            if rollingBasedTimestamp == nil { rollingBasedTimestamp = batch.maxTimestamp }
            if batch.maxTimestamp > maxTimestampSoFar {
                maxTimestampSoFar = batch.maxTimestamp
                offsetOfMaxTimestampSoFar = batch.lastOffset
            }
            if bytesSinceLastIndexEntry > indexIntervalBytes {
                offsetIndex.append(offset: batch.lastOffset, position: position)
                timeIndex.maybeAppend(timestamp: maxTimestampSoFar, offset: offsetOfMaxTimestampSoFar)
                bytesSinceLastIndexEntry = 0
            }
            position += Int64(batch.size)
            bytesSinceLastIndexEntry += batch.size
        }
        size = position
    }

    /// Kafka's roll rule for an append of `incomingBytes` ending at `lastOffset`.
    func shouldRoll(incomingBytes: Int, lastOffset: Int64, now: Int64, config: LogConfig) throws -> Bool {
        try ensureIndexesLoaded()
        if size > Int64(config.segmentBytes) - Int64(incomingBytes) { return true }
        if size > 0 {
            if rollingBasedTimestamp == nil { rollingBasedTimestamp = try firstBatchTimestamp() }
            let since = rollingBasedTimestamp ?? createdMs
            if now - since > config.segmentMs - config.segmentJitterMs { return true }
        }
        if offsetIndex.isFull || timeIndex.isFull { return true }
        return lastOffset - baseOffset > Int64(Int32.max)
    }

    private func firstBatchTimestamp() throws -> Int64? {
        var walker = BatchWalker(file: file, from: 0, end: size)
        if case .batch(_, let header, _) = try walker.next() { return header.maxTimestamp }
        return nil
    }

    // MARK: Lookups

    /// The first batch whose last offset is >= `offset`, scanning from the index floor (or `from`).
    func translateOffset(_ offset: Int64, from startPosition: Int64 = 0) throws -> (position: Int64, header: RecordBatchHeader)? {
        try ensureIndexesLoaded()
        let floor = offsetIndex.lookup(offset)
        var walker = BatchWalker(file: file, from: max(floor.position, startPosition), end: size)
        while case .batch(let position, let header, _) = try walker.next() {
            if header.lastOffset >= offset { return (position, header) }
        }
        return nil
    }

    /// Kafka's segment read: the byte range starting at the batch holding `startOffset`, at most `maxSize` bytes
    /// (or the whole first batch when `minOneBatch`), never past `maxPosition`. nil when the segment holds no
    /// batch at or after `startOffset`.
    func read(startOffset: Int64, maxSize: Int, maxPosition: Int64, minOneBatch: Bool) throws
        -> (position: Int64, length: Int, firstOffset: Int64)?
    {
        guard let (position, header) = try translateOffset(startOffset) else { return nil }
        let adjusted = minOneBatch ? max(maxSize, header.totalSize) : maxSize
        let length = max(0, min(maxPosition - position, Int64(adjusted)))
        return (position, Int(length), header.baseOffset)
    }

    /// The first batch at or after `startingOffset` whose max timestamp is >= `timestamp`.
    func findOffsetByTimestamp(_ timestamp: Int64, startingOffset: Int64) throws -> (timestamp: Int64, offset: Int64)? {
        try ensureIndexesLoaded()
        let from = max(timeIndex.lookup(before: timestamp) ?? baseOffset, startingOffset)
        var walker = BatchWalker(file: file, from: offsetIndex.lookup(from).position, end: size)
        while case .batch(_, let header, _) = try walker.next() {
            if header.lastOffset >= startingOffset && header.maxTimestamp >= timestamp {
                return (header.maxTimestamp, max(header.baseOffset, startingOffset))
            }
        }
        return nil
    }

    /// The offset after the last batch; nil when the tail does not parse (the caller then runs `recover`).
    func readNextOffset() throws -> Int64? {
        try ensureIndexesLoaded()
        var next = baseOffset
        var walker = BatchWalker(file: file, from: offsetIndex.lastPosition, end: size)
        while true {
            switch try walker.next() {
            case .batch(_, let header, _): next = header.nextOffset
            case .end: return next
            case .invalid: return nil
            }
        }
    }

    // MARK: Recovery and truncation

    /// Validates every batch and rebuilds both indexes; truncates at the first torn or corrupt batch.
    /// Returns the number of bytes truncated.
    @discardableResult
    func recover() throws -> Int64 {
        let fileSize = try file.size()
        offsetIndex = OffsetIndex(path: offsetIndexPath, baseOffset: baseOffset, maxIndexSize: maxIndexSize)
        timeIndex = TimeIndex(path: timeIndexPath, baseOffset: baseOffset, maxIndexSize: maxIndexSize)
        maxTimestampSoFar = -1
        offsetOfMaxTimestampSoFar = -1
        rollingBasedTimestamp = nil
        bytesSinceLastIndexEntry = 0
        indexesLoaded = true
        var valid: Int64 = 0
        var expectedNext = baseOffset
        var walker = BatchWalker(file: file, from: 0, end: fileSize, wholeBatches: true, verifyCRC: true)
        scan: while true {
            switch try walker.next() {
            case .batch(let position, let header, _):
                guard header.baseOffset >= expectedNext, header.lastOffset - baseOffset <= Int64(Int32.max) else {
                    logger.warning("Batch offsets out of order in segment", metadata: [
                        "file": "\(logPath)", "position": "\(position)", "baseOffset": "\(header.baseOffset)",
                    ])
                    break scan
                }
                expectedNext = header.nextOffset
                size = position
                try append(info: BatchInfo(size: header.totalSize, lastOffset: header.lastOffset, maxTimestamp: header.maxTimestamp), at: position)
                valid = position + Int64(header.totalSize)
            case .end:
                break scan
            case .invalid(let position, let reason):
                logger.warning("Invalid batch in segment", metadata: [
                    "file": "\(logPath)", "position": "\(position)", "reason": "\(reason)",
                ])
                break scan
            }
        }
        if valid < fileSize { try file.truncate(to: valid) }
        size = valid
        try offsetIndex.rewrite(trim: false)
        try timeIndex.rewrite(trim: false)
        indexesTrimmed = false
        return fileSize - valid
    }

    /// Index bookkeeping for a batch already in the file at `position` (recovery).
    private func append(info batch: BatchInfo, at position: Int64) throws {
        if rollingBasedTimestamp == nil { rollingBasedTimestamp = batch.maxTimestamp }
        if batch.maxTimestamp > maxTimestampSoFar {
            maxTimestampSoFar = batch.maxTimestamp
            offsetOfMaxTimestampSoFar = batch.lastOffset
        }
        if bytesSinceLastIndexEntry > indexIntervalBytes {
            offsetIndex.append(offset: batch.lastOffset, position: position)
            timeIndex.maybeAppend(timestamp: maxTimestampSoFar, offset: offsetOfMaxTimestampSoFar)
            bytesSinceLastIndexEntry = 0
        }
        bytesSinceLastIndexEntry += batch.size
        size = position + Int64(batch.size)
    }

    /// Removes every batch whose last offset is >= `offset`. Returns the bytes removed.
    @discardableResult
    func truncate(to offset: Int64) throws -> Int64 {
        guard let (position, _) = try translateOffset(offset) else { return 0 }
        let removed = size - position
        try file.truncate(to: position)
        size = position
        try recover()  // rare: rebuilding is simpler than unwinding indexes and max timestamps
        return removed
    }

    // MARK: Lifecycle

    /// The segment stopped being the active one: record its final max timestamp and trim the index files.
    func onBecomeInactive() throws {
        try ensureIndexesLoaded()
        timeIndex.maybeAppend(timestamp: maxTimestampSoFar, offset: offsetOfMaxTimestampSoFar)
        try offsetIndex.persist(trim: true, sync: false)
        try timeIndex.persist(trim: true, sync: false)
        indexesTrimmed = true
    }

    /// Writes pending index entries and fsyncs the index files. The caller fsyncs `file` (outside the log lock).
    func flushIndexes() throws {
        if indexesLoaded {
            try offsetIndex.persist(trim: indexesTrimmed, sync: true)
            try timeIndex.persist(trim: indexesTrimmed, sync: true)
        }
    }

    /// Clean shutdown: the same as becoming inactive, plus fsync (of the log only when `syncLog`: segments below
    /// the recovery point were fsynced already).
    func close(syncLog: Bool) throws {
        if indexesLoaded {
            timeIndex.maybeAppend(timestamp: maxTimestampSoFar, offset: offsetOfMaxTimestampSoFar)
            try offsetIndex.persist(trim: true, sync: true)
            try timeIndex.persist(trim: true, sync: true)
            indexesTrimmed = true
        }
        if syncLog { try file.sync() }
    }

    /// Unlinks the segment's files. Open readers keep the data until they drop their `SegmentFile`.
    func deleteFiles() throws {
        try FileSystem.remove(logPath)
        try FileSystem.remove(offsetIndexPath)
        try FileSystem.remove(timeIndexPath)
    }
}
