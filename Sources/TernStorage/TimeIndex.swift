/// The sparse time index of one segment: maps the largest timestamp seen so far to the offset of the batch that
/// carried it, so a ListOffsets by timestamp seeks near its answer instead of scanning the segment.
///
/// Disk format: `<20-digit baseOffset>.timeindex`, 12-byte big-endian entries (timestamp int64, offset relative
/// to the segment base int32), timestamps strictly increasing. An entry is added next to each offset index entry
/// when the max timestamp grew, and once more on roll/close for the segment's final max timestamp.
/// Preallocated to `segment.index.bytes` and trimmed like the offset index.
/// Crash behaviour: as for `OffsetIndex`: missing tail entries after a crash only make lookups scan further;
/// preallocated zeros end the valid prefix; an entry out of order or past the segment marks the file corrupt and
/// the caller rebuilds it from the log.
struct TimeIndex {
    static let entrySize = 12

    let path: String
    let baseOffset: Int64
    let maxEntries: Int
    private(set) var timestamps: [Int64] = []
    private(set) var relativeOffsets: [Int32] = []
    private var persistedCount = 0
    /// What the file last received (entries, trimmed, fsynced), so unchanged indexes cost no system call.
    private var persistedState: (count: Int, trimmed: Bool, synced: Bool)?

    init(path: String, baseOffset: Int64, maxIndexSize: Int) {
        self.path = path
        self.baseOffset = baseOffset
        self.maxEntries = max(1, maxIndexSize / Self.entrySize)
    }

    var count: Int { timestamps.count }
    var isFull: Bool { count >= maxEntries }
    var lastEntry: (timestamp: Int64, offset: Int64)? {
        guard let ts = timestamps.last else { return nil }
        return (ts, baseOffset + Int64(relativeOffsets.last!))
    }

    static func load(path: String, baseOffset: Int64, maxIndexSize: Int) -> TimeIndex? {
        guard let bytes = try? FileSystem.readAll(path, limit: max(maxIndexSize, 1 << 20) * 2) else { return nil }
        guard bytes.count % entrySize == 0 else { return nil }
        var index = TimeIndex(path: path, baseOffset: baseOffset, maxIndexSize: maxIndexSize)
        var i = 0
        while i + entrySize <= bytes.count {
            let timestamp = Int64(bitPattern: readUInt64(bytes, i))
            let relative = Int32(bitPattern: readUInt32(bytes, i + 8))
            if timestamp == 0 && relative == 0 { break }  // preallocated tail (a real (0, 0) entry is only lost, harmlessly)
            if relative < 0 { return nil }
            if let last = index.timestamps.last, timestamp <= last || relative < index.relativeOffsets.last! {
                return nil
            }
            index.timestamps.append(timestamp)
            index.relativeOffsets.append(relative)
            i += entrySize
        }
        index.persistedCount = index.count
        return index
    }

    /// Adds (timestamp, offset) when the timestamp is newer than the last entry's.
    mutating func maybeAppend(timestamp: Int64, offset: Int64) {
        if let last = timestamps.last, timestamp <= last { return }
        guard !isFull, timestamp >= 0 else { return }
        timestamps.append(timestamp)
        relativeOffsets.append(Int32(truncatingIfNeeded: offset - baseOffset))
    }

    /// The offset of the last entry whose timestamp is below `target`: every batch before it is older than
    /// `target`, so the first batch at or after `target` is found by scanning from there. nil: scan from the start.
    func lookup(before target: Int64) -> Int64? {
        var low = 0, high = count - 1, found = -1
        while low <= high {
            let mid = (low + high) / 2
            if timestamps[mid] < target { found = mid; low = mid + 1 } else { high = mid - 1 }
        }
        return found >= 0 ? baseOffset + Int64(relativeOffsets[found]) : nil
    }

    mutating func truncate(toOffset offset: Int64) {
        while let last = relativeOffsets.last, baseOffset + Int64(last) >= offset {
            relativeOffsets.removeLast()
            timestamps.removeLast()
        }
        persistedCount = min(persistedCount, count)
    }

    mutating func persist(trim: Bool, sync: Bool) throws {
        if let last = persistedState, last.count == count, persistedCount == count, last.trimmed == trim,
           last.synced || !sync
        { return }
        let file = try SegmentFile(path: path, create: true)
        if persistedCount < count {
            var bytes = [UInt8]()
            bytes.reserveCapacity((count - persistedCount) * Self.entrySize)
            for i in persistedCount..<count {
                appendUInt64(&bytes, UInt64(bitPattern: timestamps[i]))
                appendUInt32(&bytes, UInt32(bitPattern: relativeOffsets[i]))
            }
            try bytes.withUnsafeBytes { try file.write(bytes: $0, at: Int64(persistedCount * Self.entrySize)) }
            persistedCount = count
        }
        let wanted = Int64(trim ? count * Self.entrySize : maxEntries * Self.entrySize)
        if try file.size() != wanted { try file.truncate(to: wanted) }
        // An empty index needs no fsync: whatever a power loss leaves (zeros, old length) loads as empty.
        if sync && count > 0 { try file.sync() }
        persistedState = (count, trim, sync)
    }

    mutating func rewrite(trim: Bool) throws {
        _ = try SegmentFile(path: path, create: true, truncate: true)
        persistedCount = 0
        persistedState = nil
        try persist(trim: trim, sync: false)
    }
}
