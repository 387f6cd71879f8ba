/// Per-topic log configuration, with Apache Kafka's topic config names and defaults.
///
/// `init(_:)` takes the topic's overrides as Kafka names them (`segment.bytes`, `retention.ms`, ...) and throws
/// `StorageError(.invalidConfig)` naming the key and the expected form; unknown names are rejected like Kafka's
/// "Unknown topic config name".
public struct LogConfig: Sendable, Equatable {
    public enum CleanupPolicy: String, Sendable, Hashable, CaseIterable {
        case delete, compact
    }

    public enum TimestampType: String, Sendable, Equatable {
        case createTime = "CreateTime"
        case logAppendTime = "LogAppendTime"
    }

    /// segment.bytes: roll the active segment beyond this size; also the largest accepted append. Default 1 GiB.
    public var segmentBytes: Int = 1_073_741_824
    /// segment.ms: roll the active segment when its first batch is older than this. Default 7 days.
    public var segmentMs: Int64 = 604_800_000
    /// segment.jitter.ms: subtracted at random from segment.ms by Kafka; Tern applies no jitter. Default 0.
    public var segmentJitterMs: Int64 = 0
    /// retention.ms: delete segments whose newest batch is older than this; -1 keeps forever. Default 7 days.
    public var retentionMs: Int64 = 604_800_000
    /// retention.bytes: delete head segments while the partition is larger than this; -1 means no limit.
    public var retentionBytes: Int64 = -1
    /// cleanup.policy: delete, compact, or both. Default delete.
    public var cleanupPolicy: Set<CleanupPolicy> = [.delete]
    /// index.interval.bytes: bytes between offset index entries. Default 4096.
    public var indexIntervalBytes: Int = 4096
    /// segment.index.bytes: size each index file is preallocated to; a full index rolls the segment. Default 10 MiB.
    public var segmentIndexBytes: Int = 10_485_760
    /// max.message.bytes: largest record batch accepted. Default 1048588.
    public var maxMessageBytes: Int = 1_048_588
    /// message.timestamp.type: CreateTime keeps the producer's timestamps, LogAppendTime stamps the broker's clock.
    public var messageTimestampType: TimestampType = .createTime
    /// message.timestamp.before.max.ms / after.max.ms: accepted timestamp skew (checked by the broker's validator).
    public var messageTimestampBeforeMaxMs: Int64 = Int64.max
    public var messageTimestampAfterMaxMs: Int64 = 3_600_000
    /// flush.messages: fsync after this many records. Default Long.MAX (rely on the page cache and replication).
    public var flushMessages: Int64 = Int64.max
    /// flush.ms: fsync when the last flush is older than this. Default Long.MAX.
    public var flushMs: Int64 = Int64.max
    /// delete.retention.ms: how long compaction keeps tombstones. Default 1 day.
    public var deleteRetentionMs: Int64 = 86_400_000
    /// min.cleanable.dirty.ratio: dirty bytes / total bytes that triggers compaction. Default 0.5.
    public var minCleanableDirtyRatio: Double = 0.5
    /// min.compaction.lag.ms: records newer than this are never compacted. Default 0.
    public var minCompactionLagMs: Int64 = 0
    /// max.compaction.lag.ms: Kafka forces compaction after this; accepted and stored. Default Long.MAX.
    public var maxCompactionLagMs: Int64 = Int64.max
    /// file.delete.delay.ms: Kafka delays file deletion; Tern unlinks at once (open readers keep their fds).
    public var fileDeleteDelayMs: Int64 = 60_000
    /// min.insync.replicas: used by the broker for acks=all. Default 1.
    public var minInsyncReplicas: Int = 1
    /// compression.type: producer, uncompressed, gzip, snappy, lz4, zstd. Default producer.
    public var compressionType: String = "producer"
    /// unclean.leader.election.enable. Default false.
    public var uncleanLeaderElectionEnable: Bool = false
    /// preallocate: preallocate segment files. Accepted; Tern does not preallocate .log files.
    public var preallocate: Bool = false

    public init() {}

    public init(_ overrides: [String: String], defaults: LogConfig = LogConfig()) throws {
        self = defaults
        for (key, value) in overrides.sorted(by: { $0.key < $1.key }) {
            try set(key, value)
        }
    }

    public var isCompacted: Bool { cleanupPolicy.contains(.compact) }
    public var isDeleteEnabled: Bool { cleanupPolicy.contains(.delete) }

    /// Every config name `init(_:)` accepts.
    public static let names: [String] = [
        "segment.bytes", "segment.ms", "segment.jitter.ms", "retention.ms", "retention.bytes", "cleanup.policy",
        "index.interval.bytes", "segment.index.bytes", "max.message.bytes", "message.timestamp.type",
        "message.timestamp.before.max.ms", "message.timestamp.after.max.ms", "flush.messages", "flush.ms",
        "delete.retention.ms", "min.cleanable.dirty.ratio", "min.compaction.lag.ms", "max.compaction.lag.ms",
        "file.delete.delay.ms", "min.insync.replicas", "compression.type", "unclean.leader.election.enable",
        "preallocate",
    ]

    /// The effective values under Kafka's names (for DescribeConfigs).
    public var describe: [String: String] {
        [
            "segment.bytes": "\(segmentBytes)", "segment.ms": "\(segmentMs)", "segment.jitter.ms": "\(segmentJitterMs)",
            "retention.ms": "\(retentionMs)", "retention.bytes": "\(retentionBytes)",
            "cleanup.policy": CleanupPolicy.allCases.filter(cleanupPolicy.contains).map(\.rawValue).joined(separator: ","),
            "index.interval.bytes": "\(indexIntervalBytes)", "segment.index.bytes": "\(segmentIndexBytes)",
            "max.message.bytes": "\(maxMessageBytes)", "message.timestamp.type": messageTimestampType.rawValue,
            "message.timestamp.before.max.ms": "\(messageTimestampBeforeMaxMs)",
            "message.timestamp.after.max.ms": "\(messageTimestampAfterMaxMs)",
            "flush.messages": "\(flushMessages)", "flush.ms": "\(flushMs)",
            "delete.retention.ms": "\(deleteRetentionMs)", "min.cleanable.dirty.ratio": "\(minCleanableDirtyRatio)",
            "min.compaction.lag.ms": "\(minCompactionLagMs)", "max.compaction.lag.ms": "\(maxCompactionLagMs)",
            "file.delete.delay.ms": "\(fileDeleteDelayMs)", "min.insync.replicas": "\(minInsyncReplicas)",
            "compression.type": compressionType, "unclean.leader.election.enable": "\(uncleanLeaderElectionEnable)",
            "preallocate": "\(preallocate)",
        ]
    }

    private mutating func set(_ key: String, _ value: String) throws {
        switch key {
        case "segment.bytes": segmentBytes = try Self.int(key, value, min: 14)
        case "segment.ms": segmentMs = try Self.long(key, value, min: 1)
        case "segment.jitter.ms": segmentJitterMs = try Self.long(key, value, min: 0)
        case "retention.ms": retentionMs = try Self.long(key, value, min: -1)
        case "retention.bytes": retentionBytes = try Self.long(key, value, min: -1)
        case "cleanup.policy":
            var policies = Set<CleanupPolicy>()
            for part in value.split(separator: ",") {
                guard let policy = CleanupPolicy(rawValue: part.trimmingSpaces) else {
                    throw StorageError.invalidConfig(key: key, value: value, expected: "a list of [delete, compact]")
                }
                policies.insert(policy)
            }
            cleanupPolicy = policies
        case "index.interval.bytes": indexIntervalBytes = try Self.int(key, value, min: 0)
        case "segment.index.bytes": segmentIndexBytes = try Self.int(key, value, min: 4)
        case "max.message.bytes": maxMessageBytes = try Self.int(key, value, min: 0)
        case "message.timestamp.type":
            guard let type = TimestampType(rawValue: value) else {
                throw StorageError.invalidConfig(key: key, value: value, expected: "one of [CreateTime, LogAppendTime]")
            }
            messageTimestampType = type
        case "message.timestamp.before.max.ms": messageTimestampBeforeMaxMs = try Self.long(key, value, min: 0)
        case "message.timestamp.after.max.ms": messageTimestampAfterMaxMs = try Self.long(key, value, min: 0)
        case "flush.messages": flushMessages = try Self.long(key, value, min: 1)
        case "flush.ms": flushMs = try Self.long(key, value, min: 0)
        case "delete.retention.ms": deleteRetentionMs = try Self.long(key, value, min: 0)
        case "min.cleanable.dirty.ratio":
            guard let ratio = Double(value), ratio >= 0, ratio <= 1 else {
                throw StorageError.invalidConfig(key: key, value: value, expected: "a number in [0,...,1]")
            }
            minCleanableDirtyRatio = ratio
        case "min.compaction.lag.ms": minCompactionLagMs = try Self.long(key, value, min: 0)
        case "max.compaction.lag.ms": maxCompactionLagMs = try Self.long(key, value, min: 1)
        case "file.delete.delay.ms": fileDeleteDelayMs = try Self.long(key, value, min: 0)
        case "min.insync.replicas": minInsyncReplicas = try Self.int(key, value, min: 1)
        case "compression.type":
            let allowed = ["producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"]
            guard allowed.contains(value) else {
                throw StorageError.invalidConfig(key: key, value: value, expected: "one of \(allowed)")
            }
            compressionType = value
        case "unclean.leader.election.enable": uncleanLeaderElectionEnable = try Self.bool(key, value)
        case "preallocate": preallocate = try Self.bool(key, value)
        default:
            throw StorageError(.invalidConfig, "Unknown topic config name: \(key)")
        }
    }

    private static func int(_ key: String, _ value: String, min: Int) throws -> Int {
        guard let parsed = Int32(value.trimmingSpaces), Int(parsed) >= min else {
            throw StorageError.invalidConfig(key: key, value: value, expected: "an int32 >= \(min)")
        }
        return Int(parsed)
    }

    private static func long(_ key: String, _ value: String, min: Int64) throws -> Int64 {
        guard let parsed = Int64(value.trimmingSpaces), parsed >= min else {
            throw StorageError.invalidConfig(key: key, value: value, expected: "an int64 >= \(min)")
        }
        return parsed
    }

    private static func bool(_ key: String, _ value: String) throws -> Bool {
        switch value.lowercased() {
        case "true": return true
        case "false": return false
        default: throw StorageError.invalidConfig(key: key, value: value, expected: "true or false")
        }
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
