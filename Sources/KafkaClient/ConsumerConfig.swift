import KafkaProtocol

/// Consumer settings, by typed field or by Kafka's property names.
public struct ConsumerConfig: Sendable {
    public enum OffsetReset: String, Sendable { case earliest, latest, none }

    public var cluster: ClusterConfig
    /// `group.id`. Default none (manual assignment only).
    public var groupId: String?
    /// `auto.offset.reset`. Default latest.
    public var autoOffsetReset: OffsetReset = .latest
    /// `fetch.min.bytes`. Default 1.
    public var fetchMinBytes: Int32 = 1
    /// `fetch.max.wait.ms`. Default 500 ms.
    public var fetchMaxWait: Duration = .milliseconds(500)
    /// `fetch.max.bytes`. Default 50 MiB.
    public var fetchMaxBytes: Int32 = 52_428_800
    /// `max.partition.fetch.bytes`. Default 1 MiB.
    public var maxPartitionFetchBytes: Int32 = 1_048_576
    /// `isolation.level`: false is read_uncommitted (Kafka's default), true read_committed.
    public var readCommitted = false
    /// `enable.auto.commit`. Default true (only with a group).
    public var enableAutoCommit = true
    /// `auto.commit.interval.ms`. Default 5 s.
    public var autoCommitInterval: Duration = .seconds(5)
    /// `session.timeout.ms`. Default 45 s.
    public var sessionTimeout: Duration = .seconds(45)
    /// `heartbeat.interval.ms`. Default 3 s.
    public var heartbeatInterval: Duration = .seconds(3)
    /// `max.poll.interval.ms` (the rebalance timeout). Default 300 s.
    public var maxPollInterval: Duration = .seconds(300)
    /// `check.crcs`. Default true.
    public var checkCRCs = true
    /// `partition.assignment.strategy`, in preference order. Default range then cooperative-sticky (Java's).
    public var partitionAssignmentStrategy: [PartitionAssignor] = [.range, .cooperativeSticky]
    /// `group.protocol`: "classic" (JoinGroup/SyncGroup, client-side assignors) or "consumer" (KIP-848:
    /// ConsumerGroupHeartbeat, the coordinator assigns). Default classic.
    public var groupProtocolConsumer = false
    /// `group.remote.assignor`: the server-side assignor with group.protocol=consumer (nil: the broker's default).
    public var groupRemoteAssignor: String?
    /// `metadata.max.age.ms`: how often a pattern subscription re-checks the topic list. Default 5 min.
    public var metadataMaxAge: Duration = .seconds(300)

    public init(bootstrapServers: [String], groupId: String? = nil) {
        cluster = ClusterConfig(bootstrapServers: bootstrapServers, clientId: "consumer-1")
        self.groupId = groupId
    }

    public init(properties: [String: String]) throws(KafkaClientError) {
        guard let servers = properties["bootstrap.servers"] else {
            throw KafkaClientError(.invalidArgument, "Missing required configuration \"bootstrap.servers\"")
        }
        self.init(bootstrapServers: servers.split(separator: ",").map(String.init), groupId: properties["group.id"])
        func int(_ key: String) throws(KafkaClientError) -> Int? {
            guard let raw = properties[key] else { return nil }
            guard let v = Int(raw.trimmingWhitespaces()) else {
                throw KafkaClientError(.invalidArgument, "Invalid value \(raw) for configuration \(key): Not a number of type INT")
            }
            return v
        }
        if let v = properties["client.id"] { cluster.clientId = v }
        if let v = try int("request.timeout.ms") { cluster.requestTimeout = .milliseconds(v) }
        if let raw = properties["auto.offset.reset"] {
            guard let v = OffsetReset(rawValue: raw.lowercased()) else {
                throw KafkaClientError(.invalidArgument, "Invalid value \(raw) for configuration auto.offset.reset: String must be one of: latest, earliest, none")
            }
            autoOffsetReset = v
        }
        if let v = try int("fetch.min.bytes") { fetchMinBytes = Int32(clamping: v) }
        if let v = try int("fetch.max.wait.ms") { fetchMaxWait = .milliseconds(v) }
        if let v = try int("fetch.max.bytes") { fetchMaxBytes = Int32(clamping: v) }
        if let v = try int("max.partition.fetch.bytes") { maxPartitionFetchBytes = Int32(clamping: v) }
        if let v = properties["isolation.level"] { readCommitted = v == "read_committed" }
        if let v = properties["enable.auto.commit"] { enableAutoCommit = v.lowercased() == "true" }
        if let v = try int("auto.commit.interval.ms") { autoCommitInterval = .milliseconds(v) }
        if let v = try int("session.timeout.ms") { sessionTimeout = .milliseconds(v) }
        if let v = try int("heartbeat.interval.ms") { heartbeatInterval = .milliseconds(v) }
        if let v = try int("max.poll.interval.ms") { maxPollInterval = .milliseconds(v) }
        if let v = properties["check.crcs"] { checkCRCs = v.lowercased() != "false" }
        if let raw = properties["group.protocol"] {
            switch raw.lowercased() {
            case "classic": groupProtocolConsumer = false
            case "consumer": groupProtocolConsumer = true
            default: throw KafkaClientError(.invalidArgument, "Invalid value \(raw) for configuration group.protocol: String must be one of: classic, consumer")
            }
        }
        if let v = properties["group.remote.assignor"] { groupRemoteAssignor = v }
        if let v = try int("metadata.max.age.ms") { metadataMaxAge = .milliseconds(v) }
        if let raw = properties["partition.assignment.strategy"] {
            var list: [PartitionAssignor] = []
            for name in raw.split(separator: ",") {
                guard let a = PartitionAssignor(configValue: String(name)) else {
                    throw KafkaClientError(.invalidArgument, "Invalid value \(raw) for configuration partition.assignment.strategy: unknown assignor \(name)")
                }
                list.append(a)
            }
            guard !list.isEmpty else {
                throw KafkaClientError(.invalidArgument, "Invalid value \(raw) for configuration partition.assignment.strategy")
            }
            partitionAssignmentStrategy = list
        }
    }
}

/// A record as the consumer returns it (Java's ConsumerRecord).
public struct ConsumerRecord: Sendable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var timestamp: Int64
    /// True when the topic stamps LogAppendTime.
    public var isLogAppendTime: Bool
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [(key: String, value: [UInt8]?)]
    public var leaderEpoch: Int32
}
