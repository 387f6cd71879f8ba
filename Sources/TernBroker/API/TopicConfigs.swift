import KafkaProtocol
import TernStorage

/// Effective topic configs with their sources, shared by CreateTopics (v5+) and DescribeConfigs.
/// Sources use Kafka's ConfigSource numbers: 1 DYNAMIC_TOPIC_CONFIG, 4 STATIC_BROKER_CONFIG (set in
/// server.properties), 5 DEFAULT_CONFIG.
extension Broker {
    struct ConfigEntry {
        var name: String
        var value: String?
        var source: Int8
    }

    static let topicConfigSynonyms: [String: String] = [
        "segment.bytes": "log.segment.bytes", "segment.ms": "log.roll.ms", "retention.ms": "log.retention.ms",
        "retention.bytes": "log.retention.bytes", "cleanup.policy": "log.cleanup.policy",
        "index.interval.bytes": "log.index.interval.bytes", "segment.index.bytes": "log.index.size.max.bytes",
        "max.message.bytes": "message.max.bytes", "message.timestamp.type": "log.message.timestamp.type",
        "flush.messages": "log.flush.interval.messages", "flush.ms": "log.flush.interval.ms",
        "delete.retention.ms": "log.cleaner.delete.retention.ms",
        "min.cleanable.dirty.ratio": "log.cleaner.min.cleanable.ratio",
        "min.compaction.lag.ms": "log.cleaner.min.compaction.lag.ms",
        "max.compaction.lag.ms": "log.cleaner.max.compaction.lag.ms", "file.delete.delay.ms": "log.segment.delete.delay.ms",
        "min.insync.replicas": "min.insync.replicas", "compression.type": "compression.type",
        "unclean.leader.election.enable": "unclean.leader.election.enable", "preallocate": "log.preallocate",
        "message.timestamp.before.max.ms": "log.message.timestamp.before.max.ms",
        "message.timestamp.after.max.ms": "log.message.timestamp.after.max.ms",
        "segment.jitter.ms": "log.roll.jitter.ms",
    ]

    func describeTopicConfigs(_ topic: TopicMetadata) -> [ConfigEntry] {
        let effective = ((try? LogConfig(topic.configs, defaults: replicaManager.defaultLogConfig))
            ?? replicaManager.defaultLogConfig).describe
        return effective.keys.sorted().map { name in
            let source: Int8
            if topic.configs[name] != nil {
                source = 1
            } else if let synonym = Self.topicConfigSynonyms[name], config.raw[synonym] != nil {
                source = 4
            } else {
                source = 5
            }
            return ConfigEntry(name: name, value: effective[name], source: source)
        }
    }
}
