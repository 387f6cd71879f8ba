import FoundationEssentials
import KafkaProtocol
import Logging
import NIOConcurrencyHelpers
import TernStorage

/// The partitions this broker hosts, keyed by topic-partition, and the topic lifecycle on disk: creating a
/// topic creates its logs, deleting it deletes them. Topic metadata lives in the `MetadataStore`; logs that exist
/// on disk without a topic (a crash between the two steps) are removed at start-up.
public final class ReplicaManager: Sendable {
    let logManager: LogManager
    let store: any MetadataStore
    let config: BrokerConfig
    let logger: Logger
    private let partitions = NIOLockedValueBox<[TopicPartition: Partition]>([:])
    /// The broker-wide defaults of topic configs: server.properties, then dynamic broker configs on top.
    public var defaultLogConfig: LogConfig { defaults.withLockedValue { $0 } }
    private let defaults: NIOLockedValueBox<LogConfig>

    init(config: BrokerConfig, store: any MetadataStore, logger: Logger) throws {
        self.config = config
        self.store = store
        self.logger = logger
        let defaultLogConfig = try Self.logConfig(from: config)
        self.defaults = NIOLockedValueBox(defaultLogConfig)
        self.logManager = LogManager(logDirs: config.logDirs, defaultConfig: defaultLogConfig, logger: logger)
        let topics = Dictionary(uniqueKeysWithValues: store.allTopics().map { ($0.name, $0) })
        try logManager.startup { tp in
            guard let topic = topics[tp.topic] else { return nil }
            return try? LogConfig(topic.configs, defaults: self.defaultLogConfig)
        }
        var loaded: [TopicPartition: Partition] = [:]
        for tp in logManager.partitions {
            guard let topic = topics[tp.topic], Int(tp.partition) < topic.partitionCount else {
                logger.warning("removing log of \(tp): its topic is not in the metadata (deleted before a crash)")
                try? logManager.deleteLog(tp)
                continue
            }
            if let log = logManager.getLog(tp) {
                loaded[tp] = Partition(topicPartition: tp, log: log, logger: logger)
            }
        }
        // Partitions of known topics whose directories are missing (first start after a crash in creation).
        // In a cluster the controller's LeaderAndIsr creates missing replicas, and only where they belong.
        for topic in topics.values where store.liveBrokers() == nil {
            for p in 0..<topic.partitionCount {
                let tp = TopicPartition(topic: topic.name, partition: Int32(p))
                if loaded[tp] == nil {
                    let log = try logManager.getOrCreateLog(tp, config: try LogConfig(topic.configs, defaults: defaultLogConfig))
                    loaded[tp] = Partition(topicPartition: tp, log: log, logger: logger)
                }
            }
        }
        partitions.withLockedValue { $0 = loaded }
    }

    /// The broker-wide defaults of topic configs, from server.properties' `log.*` keys.
    static func logConfig(from c: BrokerConfig) throws -> LogConfig {
        var l = LogConfig()
        l.segmentBytes = c.logSegmentBytes
        l.segmentMs = Int64(c.logRollMs)
        l.retentionMs = Int64(c.logRetentionMs)
        l.retentionBytes = Int64(c.logRetentionBytes)
        l.cleanupPolicy = Set(c.logCleanupPolicy.compactMap { LogConfig.CleanupPolicy(rawValue: $0.rawValue) })
        l.indexIntervalBytes = c.logIndexIntervalBytes
        l.segmentIndexBytes = c.logIndexSizeMaxBytes
        l.maxMessageBytes = c.messageMaxBytes
        l.messageTimestampType = c.logMessageTimestampType == .logAppendTime ? .logAppendTime : .createTime
        l.flushMessages = Int64(c.logFlushIntervalMessages)
        if let ms = c.logFlushIntervalMs { l.flushMs = Int64(ms) }
        l.minInsyncReplicas = c.minInsyncReplicas
        l.compressionType = c.compressionType.rawValue
        l.uncleanLeaderElectionEnable = c.uncleanLeaderElectionEnable
        return l
    }

    public func partition(_ tp: TopicPartition) -> Partition? {
        partitions.withLockedValue { $0[tp] }
    }

    public func partition(topic: String, index: Int32) -> Partition? {
        partition(TopicPartition(topic: topic, partition: index))
    }

    public var allPartitions: [Partition] { partitions.withLockedValue { Array($0.values) } }

    /// Creates the logs of a topic's partitions (from `fromPartition` on, for CreatePartitions).
    func createLogs(for topic: TopicMetadata, fromPartition: Int = 0) throws {
        let logConfig = try LogConfig(topic.configs, defaults: defaultLogConfig)
        for p in fromPartition..<topic.partitionCount {
            let tp = TopicPartition(topic: topic.name, partition: Int32(p))
            let log = try logManager.getOrCreateLog(tp, config: logConfig)
            let partition = Partition(topicPartition: tp, log: log, logger: logger)
            partitions.withLockedValue { $0[tp] = partition }
        }
    }

    /// Cluster mode: creates the missing logs of the partitions `brokerId` replicates (a topic created on another
    /// broker). Existing partitions are left as they are.
    func ensureLogs(for topic: TopicMetadata, brokerId: Int32) throws -> [Partition] {
        let logConfig = try LogConfig(topic.configs, defaults: defaultLogConfig)
        var created: [Partition] = []
        for (p, replicas) in topic.assignment.enumerated() where replicas.contains(brokerId) {
            let tp = TopicPartition(topic: topic.name, partition: Int32(p))
            if partition(tp) != nil { continue }
            let log = try logManager.getOrCreateLog(tp, config: logConfig)
            let partition = Partition(topicPartition: tp, log: log, logger: logger)
            partitions.withLockedValue { $0[tp] = $0[tp] ?? partition }
            created.append(partition)
        }
        return created
    }

    /// Cluster mode: the partition's replica here, its log created when missing (LeaderAndIsr makes replicas).
    func ensurePartition(_ tp: TopicPartition, topic: TopicMetadata) throws -> Partition {
        if let existing = partition(tp) { return existing }
        let log = try logManager.getOrCreateLog(tp, config: try LogConfig(topic.configs, defaults: defaultLogConfig))
        let created = Partition(topicPartition: tp, log: log, logger: logger)
        return partitions.withLockedValue { map in
            if let raced = map[tp] { return raced }
            map[tp] = created
            return created
        }
    }

    /// Cluster mode (StopReplica with delete_partition): this replica and its log go.
    func deletePartition(_ tp: TopicPartition) throws {
        _ = partitions.withLockedValue { $0.removeValue(forKey: tp) }
        try logManager.deleteLog(tp)
    }

    func deleteLogs(of topic: TopicMetadata) throws {
        for p in 0..<topic.partitionCount {
            let tp = TopicPartition(topic: topic.name, partition: Int32(p))
            _ = partitions.withLockedValue { $0.removeValue(forKey: tp) }
            try logManager.deleteLog(tp)
        }
    }

    /// Dynamic broker configs changed the defaults: every hosted log takes its topic's configs over the new ones.
    func updateDefaults(_ logConfig: LogConfig) {
        defaults.withLockedValue { $0 = logConfig }
        for topic in store.allTopics() {
            do { try updateConfig(of: topic) } catch { logger.error("cannot apply new defaults to \(topic.name): \(error)") }
        }
    }

    /// A topic's config changed: its logs pick up the new values.
    func updateConfig(of topic: TopicMetadata) throws {
        let logConfig = try LogConfig(topic.configs, defaults: defaultLogConfig)
        for p in 0..<topic.partitionCount {
            partition(topic: topic.name, index: Int32(p))?.log.updateConfig(logConfig)
        }
    }

    func runRetention() {
        let deleted = logManager.runRetention()
        if deleted > 0 { logger.info("retention deleted \(deleted) segment(s)") }
        logManager.flushDirtyLogs()
    }

    /// One pass of the log cleaner over compacted topics (`log.cleaner.backoff.ms` apart).
    func runCleaner() {
        guard config.logCleanerEnable else { return }
        let cleaned = logManager.runCleaner()
        if cleaned > 0 { logger.info("log cleaner compacted \(cleaned) log(s)") }
    }

    func checkpoint() {
        do { try logManager.checkpoint() } catch { logger.error("checkpoint failed: \(error)") }
    }

    func shutdown() {
        for partition in allPartitions { partition.writeProducerSnapshot() }
        do { try logManager.shutdown() } catch { logger.error("log shutdown failed: \(error)") }
    }
}
