import TernNetwork

/// The broker's static configuration: Kafka's `server.properties` keys, then `--override key=value` pairs, with
/// Kafka's defaults. Every property is named after its Kafka key and documents its default; durations keep
/// Kafka's unit suffix (`...Ms`) because they are exchanged as such (DescribeConfigs, topic configs).
///
/// Build one with `BrokerConfig.parse(properties:overrides:)` or `BrokerConfig.load(path:overrides:)`; an
/// invalid value throws `BrokerConfigError` naming the key. Unknown keys are kept in `raw` and reported in
/// `warnings`.
public struct BrokerConfig: Sendable {
    /// `node.id` / `broker.id`. Default 0 (Kafka's -1, "generate one", is not supported and means 0).
    public var brokerId: Int = 0
    /// `listeners`: the sockets to bind. Default `PLAINTEXT://127.0.0.1:9092`. Listeners named in
    /// `controller.listener.names` are dropped (Tern runs no KRaft controller).
    public var listeners: [KafkaListener] = [
        KafkaListener(name: "PLAINTEXT", host: "127.0.0.1", port: 9092, securityProtocol: .plaintext)
    ]
    /// `advertised.listeners`: what Metadata tells clients. Default: `listeners`, with an empty host replaced by
    /// this machine's host name. Port 0 means "the port `listeners` got bound to" (see `advertised(boundListeners:)`).
    public var advertisedListeners: [KafkaListener] = [
        KafkaListener(name: "PLAINTEXT", host: "127.0.0.1", port: 9092, securityProtocol: .plaintext)
    ]
    /// `listener.security.protocol.map`. Default maps each protocol name to itself.
    public var listenerSecurityProtocolMap: [String: ListenerSecurityProtocol] = BrokerConfig.defaultSecurityProtocolMap
    /// `controller.listener.names`. Default none.
    public var controllerListenerNames: [String] = []
    /// `log.dirs` (or `log.dir`). Default `./data` (Kafka: /tmp/kafka-logs).
    public var logDirs: [String] = ["./data"]
    /// `num.partitions`: partitions of auto-created topics. Default 1.
    public var numPartitions: Int = 1
    /// `default.replication.factor`. Default 1.
    public var defaultReplicationFactor: Int = 1
    /// `log.segment.bytes`. Default 1 GiB.
    public var logSegmentBytes: Int = 1_073_741_824
    /// `log.roll.ms`, else `log.roll.hours` (168).
    public var logRollMs: Int = 168 * 3_600_000
    /// `log.retention.ms`, else `log.retention.minutes`, else `log.retention.hours` (168). -1: keep forever.
    public var logRetentionMs: Int = 168 * 3_600_000
    /// `log.retention.bytes`. Default -1 (no size limit).
    public var logRetentionBytes: Int = -1
    /// `log.retention.check.interval.ms`. Default 300000.
    public var logRetentionCheckIntervalMs: Int = 300_000
    /// `log.cleanup.policy`. Default `[delete]`.
    public var logCleanupPolicy: [CleanupPolicy] = [.delete]
    /// `log.cleaner.enable`. Default true.
    public var logCleanerEnable: Bool = true
    /// `log.flush.interval.messages`. Default Int64.max (leave flushing to the OS, like Kafka).
    public var logFlushIntervalMessages: Int = Int(Int64.max)
    /// `log.flush.interval.ms`. Default nil: Kafka then uses `log.flush.scheduler.interval.ms` (Int64.max).
    public var logFlushIntervalMs: Int?
    /// `log.index.interval.bytes`. Default 4096.
    public var logIndexIntervalBytes: Int = 4096
    /// `log.index.size.max.bytes` (also read as `log.segment.index.bytes`; topic-level `segment.index.bytes`).
    /// Default 10 MiB.
    public var logIndexSizeMaxBytes: Int = 10_485_760
    /// `auto.create.topics.enable`. Default true.
    public var autoCreateTopicsEnable: Bool = true
    /// `delete.topic.enable`. Default true.
    public var deleteTopicEnable: Bool = true
    /// `message.max.bytes`: largest record batch accepted. Default 1048588.
    public var messageMaxBytes: Int = 1_048_588
    /// `socket.request.max.bytes`: largest request frame. Default 104857600.
    public var socketRequestMaxBytes: Int = 104_857_600
    /// `socket.send.buffer.bytes`: SO_SNDBUF of client connections; -1 leaves the OS default (autotuning).
    /// Default 102400, as Kafka.
    public var socketSendBufferBytes: Int = 102_400
    /// `socket.receive.buffer.bytes`: SO_RCVBUF of client connections; -1 leaves the OS default. Default 102400.
    public var socketReceiveBufferBytes: Int = 102_400
    /// `offsets.topic.num.partitions`. Default 50.
    public var offsetsTopicNumPartitions: Int = 50
    /// `offsets.topic.replication.factor`. Default 3; see `effectiveOffsetsTopicReplicationFactor(liveBrokers:)`.
    public var offsetsTopicReplicationFactor: Int = 3
    /// `offsets.retention.minutes`. Default 10080 (7 days).
    public var offsetsRetentionMinutes: Int = 10_080
    /// `group.initial.rebalance.delay.ms`. Default 3000.
    public var groupInitialRebalanceDelayMs: Int = 3000
    /// `group.min.session.timeout.ms`. Default 6000.
    public var groupMinSessionTimeoutMs: Int = 6000
    /// `group.max.session.timeout.ms`. Default 1800000.
    public var groupMaxSessionTimeoutMs: Int = 1_800_000
    /// `transaction.state.log.num.partitions`. Default 50.
    public var transactionStateLogNumPartitions: Int = 50
    /// `zookeeper.connect`. Default nil (embedded metadata).
    public var zookeeperConnect: String?
    /// `broker.rack`. Default nil.
    public var brokerRack: String?
    /// `replica.selector.class` (KIP-392). Default nil: consumers are never sent to a follower.
    public var replicaSelector: ReplicaSelectorKind?
    /// `num.network.threads`: accepted for compatibility. Default 3.
    public var numNetworkThreads: Int = 3
    /// `num.io.threads`: accepted for compatibility. Default 8.
    public var numIoThreads: Int = 8
    /// `log.message.timestamp.type`. Default CreateTime.
    public var logMessageTimestampType: TimestampType = .createTime
    /// `min.insync.replicas`. Default 1.
    public var minInsyncReplicas: Int = 1
    /// `unclean.leader.election.enable`. Default false.
    public var uncleanLeaderElectionEnable: Bool = false
    /// `compression.type`. Default producer (keep what the producer sent).
    public var compressionType: CompressionType = .producer

    /// Every key as given (file, then overrides), including keys Tern does not know; DescribeConfigs lists these
    /// as STATIC_BROKER_CONFIG and the rest of `BrokerConfig.defaults` as DEFAULT_CONFIG.
    public var raw: [String: String] = [:]
    /// Messages about keys that were accepted but not understood, for the start-up log.
    public var warnings: [String] = []

    public init() {}

    public enum CleanupPolicy: String, Sendable, Hashable, CaseIterable {
        case delete
        case compact
    }

    public enum TimestampType: String, Sendable, Hashable, CaseIterable {
        case createTime = "CreateTime"
        case logAppendTime = "LogAppendTime"
    }

    public enum CompressionType: String, Sendable, Hashable, CaseIterable {
        case producer, uncompressed, gzip, snappy, lz4, zstd
    }

    public static let defaultSecurityProtocolMap: [String: ListenerSecurityProtocol] = Dictionary(
        uniqueKeysWithValues: ListenerSecurityProtocol.allCases.map { ($0.rawValue, $0) }
    )

    /// The replication factor to create `__consumer_offsets` with: the configured one, or the number of live
    /// brokers when fewer are up (so a single broker works with the default of 3).
    public func effectiveOffsetsTopicReplicationFactor(liveBrokers: Int) -> Int {
        max(1, min(offsetsTopicReplicationFactor, liveBrokers))
    }

    /// `advertisedListeners` with port 0 replaced by the port the same-named listener was bound to.
    public func advertised(boundListeners: [KafkaListener]) -> [KafkaListener] {
        advertisedListeners.map { advertised in
            guard advertised.port == 0, let bound = boundListeners.first(where: { $0.name == advertised.name })
            else { return advertised }
            var resolved = advertised
            resolved.port = bound.port
            return resolved
        }
    }
}
