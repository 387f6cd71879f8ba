import KafkaProtocol
import NIOConcurrencyHelpers
import TernStorage

/// Effective topic and broker configs with their sources, synonyms and types, shared by CreateTopics (v5+),
/// DescribeConfigs, AlterConfigs and IncrementalAlterConfigs.
///
/// Sources use Kafka's ConfigSource numbers: 1 DYNAMIC_TOPIC_CONFIG (a topic override), 2 DYNAMIC_BROKER_CONFIG and
/// 3 DYNAMIC_DEFAULT_BROKER_CONFIG (cluster mode, DynamicBrokerConfig.swift), 4 STATIC_BROKER_CONFIG
/// (set in server.properties or by `--override`), 5 DEFAULT_CONFIG. Types use Kafka's ConfigType numbers.
/// Synonyms follow Kafka's order of precedence: the topic override, then the broker keys that set the topic's
/// default (server.properties first, then their defaults), e.g. `retention.ms` <- `log.retention.ms`,
/// `log.retention.minutes`, `log.retention.hours`.
extension Broker {
    struct ConfigSynonym: Equatable {
        var name: String
        var value: String?
        var source: Int8
    }

    struct ConfigEntry {
        var name: String
        var value: String?
        var source: Int8
        var synonyms: [ConfigSynonym] = []
        var isSensitive = false
        var readOnly = false
    }

    enum ConfigSource {
        static let dynamicTopic: Int8 = 1
        static let dynamicBroker: Int8 = 2
        static let dynamicDefaultBroker: Int8 = 3
        static let staticBroker: Int8 = 4
        static let defaultConfig: Int8 = 5
    }

    /// Kafka's ConfigDef.Type numbers as DescribeConfigs v3+ reports them.
    enum ConfigType {
        static let unknown: Int8 = 0
        static let boolean: Int8 = 1
        static let string: Int8 = 2
        static let int: Int8 = 3
        static let short: Int8 = 4
        static let long: Int8 = 5
        static let double: Int8 = 6
        static let list: Int8 = 7
        static let `class`: Int8 = 8
        static let password: Int8 = 9
    }

    /// Kafka's resource types (ConfigResource.Type) as the config APIs carry them.
    enum ConfigResourceType {
        static let topic: Int8 = 2
        static let broker: Int8 = 4
        static let brokerLogger: Int8 = 8
    }

    /// The broker keys whose values become a topic config's default, highest precedence first (Kafka's
    /// `ServerTopicConfigSynonyms`). The first key of each list is the primary synonym.
    static let topicConfigBrokerSynonyms: [String: [String]] = [
        "segment.bytes": ["log.segment.bytes"],
        "segment.ms": ["log.roll.ms", "log.roll.hours"],
        "segment.jitter.ms": ["log.roll.jitter.ms", "log.roll.jitter.hours"],
        "segment.index.bytes": ["log.index.size.max.bytes"],
        "flush.messages": ["log.flush.interval.messages"],
        "flush.ms": ["log.flush.interval.ms", "log.flush.scheduler.interval.ms"],
        "retention.bytes": ["log.retention.bytes"],
        "retention.ms": ["log.retention.ms", "log.retention.minutes", "log.retention.hours"],
        "max.message.bytes": ["message.max.bytes"],
        "index.interval.bytes": ["log.index.interval.bytes"],
        "delete.retention.ms": ["log.cleaner.delete.retention.ms"],
        "min.compaction.lag.ms": ["log.cleaner.min.compaction.lag.ms"],
        "max.compaction.lag.ms": ["log.cleaner.max.compaction.lag.ms"],
        "file.delete.delay.ms": ["log.segment.delete.delay.ms"],
        "min.cleanable.dirty.ratio": ["log.cleaner.min.cleanable.ratio"],
        "cleanup.policy": ["log.cleanup.policy"],
        "unclean.leader.election.enable": ["unclean.leader.election.enable"],
        "min.insync.replicas": ["min.insync.replicas"],
        "compression.type": ["compression.type"],
        "preallocate": ["log.preallocate"],
        "message.timestamp.type": ["log.message.timestamp.type"],
        "message.timestamp.before.max.ms": ["log.message.timestamp.before.max.ms"],
        "message.timestamp.after.max.ms": ["log.message.timestamp.after.max.ms"],
    ]

    /// Kafka's type of every topic config Tern knows (`LogConfig.names`).
    static let topicConfigTypes: [String: Int8] = [
        "segment.bytes": ConfigType.int, "segment.ms": ConfigType.long, "segment.jitter.ms": ConfigType.long,
        "retention.ms": ConfigType.long, "retention.bytes": ConfigType.long, "cleanup.policy": ConfigType.list,
        "index.interval.bytes": ConfigType.int, "segment.index.bytes": ConfigType.int,
        "max.message.bytes": ConfigType.int, "message.timestamp.type": ConfigType.string,
        "message.timestamp.before.max.ms": ConfigType.long, "message.timestamp.after.max.ms": ConfigType.long,
        "flush.messages": ConfigType.long, "flush.ms": ConfigType.long, "delete.retention.ms": ConfigType.long,
        "min.cleanable.dirty.ratio": ConfigType.double, "min.compaction.lag.ms": ConfigType.long,
        "max.compaction.lag.ms": ConfigType.long, "file.delete.delay.ms": ConfigType.long,
        "min.insync.replicas": ConfigType.int, "compression.type": ConfigType.string,
        "unclean.leader.election.enable": ConfigType.boolean, "preallocate": ConfigType.boolean,
    ]

    /// Kafka's type of the broker keys Tern reads (`BrokerConfig.defaults`) and of the accepted ones it lists.
    static let brokerConfigTypes: [String: Int8] = [
        "broker.id": ConfigType.int, "node.id": ConfigType.int, "listeners": ConfigType.string,
        "advertised.listeners": ConfigType.string, "listener.security.protocol.map": ConfigType.string,
        "controller.listener.names": ConfigType.string, "log.dirs": ConfigType.string, "log.dir": ConfigType.string,
        "num.partitions": ConfigType.int, "default.replication.factor": ConfigType.int,
        "log.segment.bytes": ConfigType.int, "log.roll.ms": ConfigType.long, "log.roll.hours": ConfigType.int,
        "log.retention.ms": ConfigType.long, "log.retention.minutes": ConfigType.int,
        "log.retention.hours": ConfigType.int, "log.retention.bytes": ConfigType.long,
        "log.retention.check.interval.ms": ConfigType.long, "log.cleanup.policy": ConfigType.list,
        "log.cleaner.enable": ConfigType.boolean, "log.flush.interval.messages": ConfigType.long,
        "log.flush.interval.ms": ConfigType.long, "log.index.interval.bytes": ConfigType.int,
        "log.index.size.max.bytes": ConfigType.int, "log.segment.index.bytes": ConfigType.int,
        "auto.create.topics.enable": ConfigType.boolean, "delete.topic.enable": ConfigType.boolean,
        "message.max.bytes": ConfigType.int, "socket.request.max.bytes": ConfigType.int,
        "offsets.topic.num.partitions": ConfigType.int, "offsets.topic.replication.factor": ConfigType.short,
        "offsets.retention.minutes": ConfigType.int, "group.initial.rebalance.delay.ms": ConfigType.int,
        "group.min.session.timeout.ms": ConfigType.int, "group.max.session.timeout.ms": ConfigType.int,
        "transaction.state.log.num.partitions": ConfigType.int, "zookeeper.connect": ConfigType.string,
        "broker.rack": ConfigType.string, "num.network.threads": ConfigType.int, "num.io.threads": ConfigType.int,
        "log.message.timestamp.type": ConfigType.string, "min.insync.replicas": ConfigType.int,
        "unclean.leader.election.enable": ConfigType.boolean, "compression.type": ConfigType.string,
        "metric.reporters": ConfigType.list, "process.roles": ConfigType.list,
        "controller.quorum.voters": ConfigType.list, "controller.quorum.bootstrap.servers": ConfigType.list,
    ]

    static func brokerConfigType(_ name: String) -> Int8 {
        if isSensitiveBrokerConfig(name) { return ConfigType.password }
        if let known = brokerConfigTypes[name] { return known }
        if name.hasSuffix(".ms") || name.hasSuffix(".bytes") { return ConfigType.long }
        if name.hasSuffix(".enable") { return ConfigType.boolean }
        return ConfigType.string
    }

    /// Passwords (`ssl.keystore.password`, `sasl.jaas.config`, ...) are never sent back, as in Kafka.
    static func isSensitiveBrokerConfig(_ name: String) -> Bool {
        name.contains("password") || name.hasSuffix("jaas.config") || name.hasSuffix(".key")
    }

    /// Kafka's own default of a topic config (what a topic gets when neither it nor the broker sets one).
    static let kafkaTopicDefaults: [String: String] = LogConfig().describe

    /// Every topic config in effect for `topic`, with source and synonyms.
    func describeTopicConfigs(_ topic: TopicMetadata) -> [ConfigEntry] {
        let effective = ((try? LogConfig(topic.configs, defaults: replicaManager.defaultLogConfig))
            ?? replicaManager.defaultLogConfig).describe
        return effective.keys.sorted().map { name in
            let synonyms = topicConfigSynonyms(name, override: topic.configs[name])
            let source = synonyms.first?.source ?? ConfigSource.defaultConfig
            return ConfigEntry(name: name, value: effective[name], source: source, synonyms: synonyms)
        }
    }

    /// The chain a topic config's value comes from: the override, server.properties keys, their defaults.
    func topicConfigSynonyms(_ name: String, override: String?) -> [ConfigSynonym] {
        var synonyms: [ConfigSynonym] = []
        if let override { synonyms.append(ConfigSynonym(name: name, value: override, source: ConfigSource.dynamicTopic)) }
        let brokerKeys = Self.topicConfigBrokerSynonyms[name] ?? []
        for key in brokerKeys { synonyms += dynamicBrokerSynonyms(key) }
        for key in brokerKeys {
            if let value = config.raw[key] {
                synonyms.append(ConfigSynonym(name: key, value: value, source: ConfigSource.staticBroker))
            }
        }
        for (i, key) in brokerKeys.enumerated() {
            if let known = BrokerConfig.defaults[key] {
                if let value = known {
                    synonyms.append(ConfigSynonym(name: key, value: value, source: ConfigSource.defaultConfig))
                }
            } else if i == 0, let value = Self.kafkaTopicDefaults[name] {
                synonyms.append(ConfigSynonym(name: key, value: value, source: ConfigSource.defaultConfig))
            }
        }
        return synonyms
    }

    /// The broker's static configuration as DescribeConfigs lists it: every key Tern reads plus the known Kafka keys
    /// given in server.properties and the dynamic ones; dynamic values are DYNAMIC_BROKER_CONFIG or
    /// DYNAMIC_DEFAULT_BROKER_CONFIG, set ones STATIC_BROKER_CONFIG, the rest DEFAULT_CONFIG. Only the keys that
    /// can be set dynamically (cluster mode) are not read-only.
    func describeBrokerConfigs() -> [ConfigEntry] {
        var names = Set(BrokerConfig.defaults.keys)
        for key in config.raw.keys where BrokerConfig.isKnownKey(key) { names.insert(key) }
        let dynamic = dynamicConfigs.current
        names.formUnion(dynamic.broker.keys)
        names.formUnion(dynamic.clusterDefault.keys)
        let clustered = zooKeeperStore != nil
        return names.sorted().map { name in
            let sensitive = Self.isSensitiveBrokerConfig(name)
            var synonyms: [ConfigSynonym] = dynamicBrokerSynonyms(name)
            if let value = config.raw[name] {
                synonyms.append(ConfigSynonym(name: name, value: sensitive ? nil : value, source: ConfigSource.staticBroker))
            }
            if let known = BrokerConfig.defaults[name], let value = known {
                synonyms.append(ConfigSynonym(name: name, value: sensitive ? nil : value, source: ConfigSource.defaultConfig))
            }
            return ConfigEntry(
                name: name, value: synonyms.first?.value, source: synonyms.first?.source ?? ConfigSource.defaultConfig,
                synonyms: synonyms, isSensitive: sensitive,
                readOnly: !(clustered && DynamicBrokerConfigs.reconfigurable.contains(name)))
        }
    }
}

extension Broker {
    /// Changes a topic's config overrides with `change`, checks the result like Kafka (known names, values that
    /// parse: INVALID_CONFIG otherwise), then persists it and applies it to the topic's logs at once. With
    /// `validateOnly` nothing is changed. Shared by AlterConfigs (replace all) and IncrementalAlterConfigs.
    func alterTopicConfigs(
        _ name: String, validateOnly: Bool, _ change: (inout [String: String]) throws -> Void
    ) -> TopicCreationFailure? {
        if let problem = TopicName.validate(name) {
            return TopicCreationFailure(code: .invalidTopicException, message: problem)
        }
        return TopicAdminLock.lock.withLock { () -> TopicCreationFailure? in
            guard var topic = metadataStore.topic(named: name) else {
                return TopicCreationFailure(code: .unknownTopicOrPartition, message: "The topic '\(name)' does not exist.")
            }
            var configs = topic.configs
            do {
                try change(&configs)
            } catch let failure as TopicCreationFailure {
                return failure
            } catch {
                return TopicCreationFailure(code: .invalidConfig, message: "\(error)")
            }
            if let unknown = configs.keys.sorted().first(where: { !LogConfig.names.contains($0) }) {
                return TopicCreationFailure(code: .invalidConfig, message: "Unknown topic config name: \(unknown)")
            }
            do {
                _ = try LogConfig(configs, defaults: replicaManager.defaultLogConfig)
            } catch {
                return TopicCreationFailure(code: .invalidConfig, message: "\(error)")
            }
            if validateOnly || configs == topic.configs { return nil }
            topic.configs = configs
            do {
                try metadataStore.update(topic)
                try replicaManager.updateConfig(of: topic)
            } catch {
                logger.error("altering the configs of \(name) failed: \(error)")
                return TopicCreationFailure(code: .kafkaStorageError, message: "\(error)")
            }
            logger.info("topic \(name) configs are now \(configs.sorted { $0.key < $1.key })")
            return nil
        }
    }

    /// Kafka answers every occurrence of a resource named twice in one alter request with INVALID_REQUEST.
    /// Applies `apply` to each resource of an (Incremental)AlterConfigs request, in order; a resource named twice
    /// in one request fails with INVALID_REQUEST instead, as Kafka answers. One result per resource.
    func alterEachResource<R>(
        _ resources: [R], key: (R) -> (type: Int8, name: String), _ apply: (R) -> TopicCreationFailure?
    ) -> [TopicCreationFailure?] {
        var counts: [String: Int] = [:]
        for r in resources { counts["\(key(r).type):\(key(r).name)", default: 0] += 1 }
        return resources.map { r in
            if counts["\(key(r).type):\(key(r).name)", default: 0] > 1 {
                return TopicCreationFailure(code: .invalidRequest, message: "Each resource must appear at most once.")
            }
            return apply(r)
        }
    }
}

/// Serialises the read-modify-write of topic metadata by the admin APIs (CreatePartitions, AlterConfigs,
/// IncrementalAlterConfigs), so two concurrent requests on different connections cannot lose each other's change.
enum TopicAdminLock {
    static let lock = NIOLock()
}
