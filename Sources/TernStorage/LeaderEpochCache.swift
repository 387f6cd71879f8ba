/// Which leader epoch started at which offset, for OffsetForLeaderEpoch and follower truncation.
///
/// Disk format: `<partition dir>/leader-epoch-checkpoint`, Kafka's text checkpoint (version 0, count, then
/// "epoch startOffset" lines), rewritten atomically on every change (changes are rare: once per leader change).
/// Crash behaviour: the file may name epochs whose start offset is past a log end truncated by recovery;
/// `truncateFromEnd` on load drops them.
struct LeaderEpochCache {
    struct Entry: Equatable, Sendable {
        var epoch: Int32
        var startOffset: Int64
    }

    let path: String
    private(set) var entries: [Entry]

    init(path: String) {
        self.path = path
        var loaded: [Entry] = []
        if let lines = try? CheckpointFile.read(from: path) {
            for fields in lines {
                guard fields.count == 2, let epoch = Int32(fields[0]), let offset = Int64(fields[1]) else { continue }
                if let last = loaded.last, epoch <= last.epoch || offset < last.startOffset { continue }
                loaded.append(Entry(epoch: epoch, startOffset: offset))
            }
        }
        self.entries = loaded
    }

    var latestEpoch: Int32? { entries.last?.epoch }

    /// Records that `epoch` starts at `startOffset`; returns whether anything changed (then call `persist`).
    mutating func assign(epoch: Int32, startOffset: Int64) -> Bool {
        guard epoch >= 0 else { return false }
        if let last = entries.last {
            if epoch < last.epoch { return false }
            if epoch == last.epoch { return false }
        }
        // A new epoch never starts before an existing one: drop entries it overrides.
        entries.removeAll { $0.startOffset >= startOffset }
        entries.append(Entry(epoch: epoch, startOffset: startOffset))
        return true
    }

    /// Kafka's OffsetForLeaderEpoch answer: the largest epoch <= `epoch` and the offset where the next epoch
    /// starts (or the log end for the latest). (-1, -1) when unknown.
    func endOffset(for epoch: Int32, logEndOffset: Int64) -> (epoch: Int32, endOffset: Int64) {
        guard let last = entries.last else { return (-1, -1) }
        if epoch == last.epoch { return (epoch, logEndOffset) }
        guard let index = entries.lastIndex(where: { $0.epoch <= epoch }) else { return (-1, -1) }
        return (entries[index].epoch, entries[index + 1].startOffset)
    }

    /// Drops epochs starting at or after `endOffset` (log truncated to there).
    mutating func truncateFromEnd(_ endOffset: Int64) -> Bool {
        let before = entries.count
        entries.removeAll { $0.startOffset >= endOffset }
        return entries.count != before
    }

    /// Log start moved to `startOffset`: the epoch covering it now starts there.
    mutating func truncateFromStart(_ startOffset: Int64) -> Bool {
        guard let keep = entries.lastIndex(where: { $0.startOffset <= startOffset }) else { return false }
        let changed = keep > 0 || entries[keep].startOffset != startOffset
        entries.removeFirst(keep)
        entries[0].startOffset = startOffset
        return changed
    }

    func persist() throws {
        try CheckpointFile.write(entries: entries.map { "\($0.epoch) \($0.startOffset)" }, to: path)
    }
}
