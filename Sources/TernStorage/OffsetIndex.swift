/// The sparse offset index of one segment: maps a batch's last offset to the file position of that batch.
///
/// Disk format: `<20-digit baseOffset>.index`, 8-byte big-endian entries (offset relative to the segment's base
/// offset as int32, file position as int32), strictly increasing in both. An entry is added when more than
/// `index.interval.bytes` were appended since the previous one, so position 0 is never indexed and an all-zero
/// entry marks the unused, preallocated tail.
///
/// The file is preallocated (sparse) to `segment.index.bytes` when the segment is created and trimmed to its
/// entries on roll and close. Entries live in memory; new ones reach the file on flush, roll and close.
/// Crash behaviour: after an unclean shutdown the file may lack recent entries or end in preallocated zeros.
/// Segments past the recovery point get their index rebuilt from the log; for older segments `load` keeps the
/// valid prefix, and an entry that breaks the ordering or points past the log file means corruption: the caller
/// rebuilds the index from the log. Never fatal.
/// Public (init, append, lookup) only so Benchmarks/ can time the lookup.
public struct OffsetIndex {
    static let entrySize = 8

    let path: String
    let baseOffset: Int64
    let maxEntries: Int
    private(set) var relativeOffsets: [Int32] = []
    private(set) var positions: [Int32] = []
    /// Entries already written to the file.
    private var persistedCount = 0
    /// What the file last received (entries, trimmed, fsynced), so unchanged indexes cost no system call.
    private var persistedState: (count: Int, trimmed: Bool, synced: Bool)?

    public init(path: String, baseOffset: Int64, maxIndexSize: Int) {
        self.path = path
        self.baseOffset = baseOffset
        self.maxEntries = max(1, maxIndexSize / Self.entrySize)
    }

    var count: Int { positions.count }
    var isFull: Bool { count >= maxEntries }
    var lastPosition: Int64 { positions.last.map(Int64.init) ?? 0 }
    var lastOffset: Int64 { relativeOffsets.last.map { baseOffset + Int64($0) } ?? baseOffset }

    /// Loads the file; nil when it is missing or fails the sanity check (caller rebuilds).
    static func load(path: String, baseOffset: Int64, maxIndexSize: Int, logSize: Int64) -> OffsetIndex? {
        guard let bytes = try? FileSystem.readAll(path, limit: max(maxIndexSize, 1 << 20) * 2) else { return nil }
        guard bytes.count % entrySize == 0 else { return nil }
        var index = OffsetIndex(path: path, baseOffset: baseOffset, maxIndexSize: maxIndexSize)
        var i = 0
        while i + entrySize <= bytes.count {
            let relative = Int32(bitPattern: readUInt32(bytes, i))
            let position = Int32(bitPattern: readUInt32(bytes, i + 4))
            if relative == 0 && position == 0 { break }  // preallocated tail
            if position <= 0 || relative < 0 || Int64(position) >= logSize { return nil }
            if let last = index.positions.last, position <= last || relative <= index.relativeOffsets.last! { return nil }
            index.relativeOffsets.append(relative)
            index.positions.append(position)
            i += entrySize
        }
        index.persistedCount = index.count
        return index
    }

    public mutating func append(offset: Int64, position: Int64) {
        let relative = Int32(truncatingIfNeeded: offset - baseOffset)
        if let last = positions.last, Int64(last) >= position || relativeOffsets.last! >= relative { return }
        guard !isFull else { return }
        relativeOffsets.append(relative)
        positions.append(Int32(truncatingIfNeeded: position))
    }

    /// The entry with the largest offset <= `target`, or (baseOffset, 0): where to start scanning for `target`.
    public func lookup(_ target: Int64) -> (offset: Int64, position: Int64) {
        let relative = target - baseOffset
        var low = 0, high = count - 1, found = -1
        while low <= high {
            let mid = (low + high) / 2
            if Int64(relativeOffsets[mid]) <= relative { found = mid; low = mid + 1 } else { high = mid - 1 }
        }
        guard found >= 0 else { return (baseOffset, 0) }
        return (baseOffset + Int64(relativeOffsets[found]), Int64(positions[found]))
    }

    /// Drops entries at or after `position` (the log was truncated there).
    mutating func truncate(toPosition position: Int64) {
        while let last = positions.last, Int64(last) >= position {
            positions.removeLast()
            relativeOffsets.removeLast()
        }
        persistedCount = min(persistedCount, count)
    }

    /// Writes entries not yet on disk. With `trim`, cuts the file to exactly its entries (roll, close);
    /// otherwise keeps the preallocated size.
    mutating func persist(trim: Bool, sync: Bool) throws {
        if let last = persistedState, last.count == count, persistedCount == count, last.trimmed == trim,
           last.synced || !sync
        { return }
        let file = try SegmentFile(path: path, create: true)
        if persistedCount < count {
            var bytes = [UInt8]()
            bytes.reserveCapacity((count - persistedCount) * Self.entrySize)
            for i in persistedCount..<count {
                appendUInt32(&bytes, UInt32(bitPattern: relativeOffsets[i]))
                appendUInt32(&bytes, UInt32(bitPattern: positions[i]))
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

    /// Rewrites the whole file from memory (after a rebuild).
    mutating func rewrite(trim: Bool) throws {
        _ = try SegmentFile(path: path, create: true, truncate: true)
        persistedCount = 0
        persistedState = nil
        try persist(trim: trim, sync: false)
    }
}

@inline(__always) func readUInt32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
    UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
}

@inline(__always) func readUInt64(_ bytes: [UInt8], _ at: Int) -> UInt64 {
    UInt64(readUInt32(bytes, at)) << 32 | UInt64(readUInt32(bytes, at + 4))
}

@inline(__always) func appendUInt32(_ bytes: inout [UInt8], _ value: UInt32) {
    bytes.append(UInt8(value >> 24)); bytes.append(UInt8((value >> 16) & 0xff))
    bytes.append(UInt8((value >> 8) & 0xff)); bytes.append(UInt8(value & 0xff))
}

@inline(__always) func appendUInt64(_ bytes: inout [UInt8], _ value: UInt64) {
    appendUInt32(&bytes, UInt32(value >> 32)); appendUInt32(&bytes, UInt32(value & 0xffff_ffff))
}
