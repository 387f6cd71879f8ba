import TernNetwork

extension BrokerConfig {
    /// Builds the configuration from `server.properties` entries with `overrides` applied on top (both as raw
    /// strings), validating every known key.
    public static func parse(
        properties: [String: String],
        overrides: [String: String] = [:],
        hostName: String = BrokerConfig.localHostName()
    ) throws(BrokerConfigError) -> BrokerConfig {
        var raw = properties
        raw.merge(overrides) { _, override in override }
        let read = ConfigReader(values: raw)
        var config = BrokerConfig()
        config.raw = raw
        config.warnings = raw.keys.sorted().filter { !isKnownKey($0) }.map {
            "unknown configuration '\($0)' was supplied but is not used by Tern"
        }

        config.brokerId = try brokerId(read)
        config.logDirs = read.list("log.dirs") ?? read.list("log.dir") ?? config.logDirs
        if config.logDirs.isEmpty {
            throw BrokerConfigError(key: read.isSet("log.dirs") ? "log.dirs" : "log.dir", "expected at least one directory")
        }
        try parseListeners(read, into: &config, hostName: hostName)

        config.numPartitions = try read.integer("num.partitions", default: 1, atLeast: 1)
        config.defaultReplicationFactor = try read.integer("default.replication.factor", default: 1, atLeast: 1)
        config.logSegmentBytes = try read.integer("log.segment.bytes", default: config.logSegmentBytes, atLeast: 14)
        if let rollMs = try read.optionalInteger("log.roll.ms", atLeast: 1) {
            config.logRollMs = rollMs
        } else {
            config.logRollMs = try read.integer("log.roll.hours", default: 168, atLeast: 1) * 3_600_000
        }
        config.logRetentionMs = try retentionMs(read)
        config.logRetentionBytes = try read.integer("log.retention.bytes", default: -1, bits: 64)
        config.logRetentionCheckIntervalMs = try read.integer(
            "log.retention.check.interval.ms", default: 300_000, atLeast: 1, bits: 64)
        config.logCleanupPolicy = try cleanupPolicy(read)
        config.logCleanerEnable = try read.bool("log.cleaner.enable", default: true)
        config.logFlushIntervalMessages = try read.integer(
            "log.flush.interval.messages", default: Int(Int64.max), atLeast: 1, bits: 64)
        config.logFlushIntervalMs = try read.optionalInteger("log.flush.interval.ms", atLeast: 0)
        config.logIndexIntervalBytes = try read.integer("log.index.interval.bytes", default: 4096, atLeast: 0)
        let indexKey = read.isSet("log.index.size.max.bytes") ? "log.index.size.max.bytes" : "log.segment.index.bytes"
        config.logIndexSizeMaxBytes = try read.integer(indexKey, default: 10_485_760, atLeast: 4)
        config.autoCreateTopicsEnable = try read.bool("auto.create.topics.enable", default: true)
        config.deleteTopicEnable = try read.bool("delete.topic.enable", default: true)
        config.messageMaxBytes = try read.integer("message.max.bytes", default: 1_048_588, atLeast: 0)
        config.socketRequestMaxBytes = try read.integer("socket.request.max.bytes", default: 104_857_600, atLeast: 1)
        config.socketSendBufferBytes = try read.integer("socket.send.buffer.bytes", default: 102_400, atLeast: -1)
        config.socketReceiveBufferBytes = try read.integer("socket.receive.buffer.bytes", default: 102_400, atLeast: -1)
        config.offsetsTopicNumPartitions = try read.integer("offsets.topic.num.partitions", default: 50, atLeast: 1)
        config.offsetsTopicReplicationFactor = try read.integer(
            "offsets.topic.replication.factor", default: 3, atLeast: 1, bits: 16)
        config.offsetsRetentionMinutes = try read.integer("offsets.retention.minutes", default: 10_080, atLeast: 1)
        config.groupInitialRebalanceDelayMs = try read.integer("group.initial.rebalance.delay.ms", default: 3000, atLeast: 0)
        config.groupMinSessionTimeoutMs = try read.integer("group.min.session.timeout.ms", default: 6000, atLeast: 0)
        config.groupMaxSessionTimeoutMs = try read.integer("group.max.session.timeout.ms", default: 1_800_000, atLeast: 0)
        if config.groupMaxSessionTimeoutMs < config.groupMinSessionTimeoutMs {
            throw BrokerConfigError(
                key: "group.max.session.timeout.ms",
                "expected a value >= group.min.session.timeout.ms (\(config.groupMinSessionTimeoutMs)), "
                    + "got '\(config.groupMaxSessionTimeoutMs)'"
            )
        }
        config.transactionStateLogNumPartitions = try read.integer(
            "transaction.state.log.num.partitions", default: 50, atLeast: 1)
        config.zookeeperConnect = read.string("zookeeper.connect").flatMap { $0.isEmpty ? nil : $0 }
        config.brokerRack = read.string("broker.rack").flatMap { $0.isEmpty ? nil : $0 }
        if let selector = read.string("replica.selector.class"), !selector.isEmpty {
            guard let kind = ReplicaSelectorKind(className: selector) else {
                throw BrokerConfigError(
                    key: "replica.selector.class",
                    "expected \(ReplicaSelectorKind.rackAwareClassName) or \(ReplicaSelectorKind.leaderClassName), got '\(selector)'")
            }
            config.replicaSelector = kind
        }
        config.numNetworkThreads = try read.integer("num.network.threads", default: 3, atLeast: 1)
        config.numIoThreads = try read.integer("num.io.threads", default: 8, atLeast: 1)
        config.logMessageTimestampType = TimestampType(
            rawValue: try read.choice(
                "log.message.timestamp.type", default: "CreateTime", in: TimestampType.allCases.map(\.rawValue)))!
        config.minInsyncReplicas = try read.integer("min.insync.replicas", default: 1, atLeast: 1)
        config.uncleanLeaderElectionEnable = try read.bool("unclean.leader.election.enable", default: false)
        config.compressionType = CompressionType(
            rawValue: try read.choice("compression.type", default: "producer", in: CompressionType.allCases.map(\.rawValue)))!
        return config
    }

    /// Parses one `--override key=value` argument (the value may itself contain `=`).
    public static func parseOverride(_ argument: String) throws(BrokerConfigError) -> (key: String, value: String) {
        guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex else {
            throw BrokerConfigError(key: nil, "--override: expected key=value, got '\(argument)'")
        }
        return (String(argument[..<equals]).trimmingBlanks(), String(argument[argument.index(after: equals)...]))
    }

    // MARK: Keys with special rules

    /// `node.id` and `broker.id` name the same thing; when both are set they must agree. -1 means 0 here.
    private static func brokerId(_ read: ConfigReader) throws(BrokerConfigError) -> Int {
        let nodeId = try read.optionalInteger("node.id", atLeast: -1, bits: 32)
        let brokerId = try read.optionalInteger("broker.id", atLeast: -1, bits: 32)
        if let nodeId, let brokerId, nodeId != -1, brokerId != -1, nodeId != brokerId {
            throw BrokerConfigError(
                key: "node.id",
                "must be the same as broker.id when both are set (node.id=\(nodeId), broker.id=\(brokerId))"
            )
        }
        let id = [nodeId, brokerId].compactMap { $0 }.first { $0 != -1 } ?? 0
        return id
    }

    /// Kafka's precedence: `log.retention.ms`, then `.minutes`, then `.hours`; a negative value means unlimited.
    private static func retentionMs(_ read: ConfigReader) throws(BrokerConfigError) -> Int {
        let millis: Int
        if let ms = try read.optionalInteger("log.retention.ms", bits: 64) {
            millis = ms
        } else if let minutes = try read.optionalInteger("log.retention.minutes", bits: 32) {
            millis = minutes * 60_000
        } else {
            millis = try read.integer("log.retention.hours", default: 168, bits: 32) * 3_600_000
        }
        return millis < 0 ? -1 : millis
    }

    private static func cleanupPolicy(_ read: ConfigReader) throws(BrokerConfigError) -> [CleanupPolicy] {
        guard let items = read.list("log.cleanup.policy") else { return [.delete] }
        var policies: [CleanupPolicy] = []
        for item in items {
            guard let policy = CleanupPolicy(rawValue: item) else {
                throw BrokerConfigError(
                    key: "log.cleanup.policy",
                    "expected a list of delete, compact, got '\(read.string("log.cleanup.policy") ?? "")'"
                )
            }
            if !policies.contains(policy) { policies.append(policy) }
        }
        return policies
    }

    /// This machine's host name, which Kafka advertises for a listener with an empty host.
    public static func localHostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
