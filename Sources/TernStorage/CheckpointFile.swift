/// Kafka's text checkpoint format, shared by `recovery-point-offset-checkpoint`, `log-start-offset-checkpoint`
/// (entries "topic partition offset") and `leader-epoch-checkpoint` (entries "epoch startOffset"):
/// ```
/// 0            <- version
/// 2            <- entry count
/// orders 0 42
/// orders 1 17
/// ```
/// Crash behaviour: written to `<name>.tmp`, fsynced, then renamed over the old file, so a reader sees either the
/// old or the new checkpoint, never a mix. A file that does not parse is ignored (treated as absent) by callers,
/// which then fall back to the safe value (recovery from offset 0, log start at the first segment).
enum CheckpointFile {
    static let version = 0

    static func write(entries: [String], to path: String) throws {
        var text = "\(version)\n\(entries.count)\n"
        for entry in entries { text += entry + "\n" }
        try FileSystem.writeAtomically(Array(text.utf8), to: path)
    }

    /// The entry lines, or nil when the file is missing or malformed (wrong version, count mismatch).
    static func read(from path: String) throws -> [[Substring]]? {
        guard let bytes = try FileSystem.readAll(path) else { return nil }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 2, Int(lines[0]) == version, let count = Int(lines[1]), count >= 0,
              lines.count >= 2 + count
        else { return nil }
        var entries: [[Substring]] = []
        entries.reserveCapacity(count)
        for line in lines[2..<(2 + count)] {
            entries.append(line.split(separator: " "))
        }
        return entries
    }

    /// Reads a per-log-dir "topic partition offset" checkpoint.
    static func readOffsets(from path: String) throws -> [TopicPartition: Int64] {
        guard let entries = try read(from: path) else { return [:] }
        var result: [TopicPartition: Int64] = [:]
        for fields in entries {
            guard fields.count == 3, let partition = Int32(fields[1]), let offset = Int64(fields[2]) else { continue }
            result[TopicPartition(topic: String(fields[0]), partition: partition)] = offset
        }
        return result
    }

    static func writeOffsets(_ offsets: [TopicPartition: Int64], to path: String) throws {
        let sorted = offsets.sorted { ($0.key.topic, $0.key.partition) < ($1.key.topic, $1.key.partition) }
        try write(entries: sorted.map { "\($0.key.topic) \($0.key.partition) \($0.value)" }, to: path)
    }
}

/// A topic name and partition index; its directory is `<topic>-<partition>`.
public struct TopicPartition: Hashable, Sendable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public var description: String { "\(topic)-\(partition)" }
    var directoryName: String { description }

    /// Parses `<topic>-<partition>`; topics may themselves contain '-', so split at the last one.
    init?(directoryName name: String) {
        guard let dash = name.lastIndex(of: "-"), dash != name.startIndex,
              let partition = Int32(name[name.index(after: dash)...]), partition >= 0
        else { return nil }
        self.topic = String(name[..<dash])
        self.partition = partition
    }
}
