extension BrokerConfig {
    /// Keys Tern reads, with Kafka's default as DescribeConfigs shows it (nil: no default).
    public static let defaults: [String: String?] = [
        "broker.id": "-1", "node.id": "-1",
        "listeners": "PLAINTEXT://127.0.0.1:9092", "advertised.listeners": nil,
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
        "controller.listener.names": nil,
        "log.dirs": nil, "log.dir": "./data",
        "num.partitions": "1", "default.replication.factor": "1",
        "log.segment.bytes": "1073741824", "log.roll.ms": nil, "log.roll.hours": "168",
        "log.retention.ms": nil, "log.retention.minutes": nil, "log.retention.hours": "168",
        "log.retention.bytes": "-1", "log.retention.check.interval.ms": "300000",
        "log.cleanup.policy": "delete", "log.cleaner.enable": "true",
        "log.flush.interval.messages": "9223372036854775807", "log.flush.interval.ms": nil,
        "log.index.interval.bytes": "4096", "log.index.size.max.bytes": "10485760", "log.segment.index.bytes": nil,
        "auto.create.topics.enable": "true", "delete.topic.enable": "true",
        "message.max.bytes": "1048588", "socket.request.max.bytes": "104857600",
        "socket.send.buffer.bytes": "102400", "socket.receive.buffer.bytes": "102400",
        "offsets.topic.num.partitions": "50", "offsets.topic.replication.factor": "3",
        "offsets.retention.minutes": "10080",
        "group.initial.rebalance.delay.ms": "3000",
        "group.min.session.timeout.ms": "6000", "group.max.session.timeout.ms": "1800000",
        "transaction.state.log.num.partitions": "50",
        "zookeeper.connect": nil, "broker.rack": nil, "replica.selector.class": nil,
        "num.network.threads": "3", "num.io.threads": "8",
        "log.message.timestamp.type": "CreateTime", "min.insync.replicas": "1",
        "unclean.leader.election.enable": "false", "compression.type": "producer",
    ]

    /// Kafka keys known beyond `defaults`, so starting from Kafka's own files logs no warnings: most are read by the
    /// cluster, cleaner and coordinator settings; these are accepted without effect: num.recovery.threads.per.data.dir
    /// (logs open on 2 threads), replica.fetch.max.bytes, transactional.id.expiration.ms, connections.max.idle.ms,
    /// max.connections(.per.ip), queued.max.requests, metric.reporters and the KRaft/ZooKeeper-mode keys Tern
    /// does not need (process.roles, controller.quorum.*, inter.broker.protocol.version, log.message.format.version).
    static let acceptedKafkaKeys: Set<String> = [
        "num.recovery.threads.per.data.dir",
        "transaction.state.log.replication.factor", "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor", "share.coordinator.state.topic.min.isr",
        "zookeeper.connection.timeout.ms", "zookeeper.session.timeout.ms",
        "log.flush.scheduler.interval.ms", "log.flush.offset.checkpoint.interval.ms",
        "process.roles", "controller.quorum.voters", "controller.quorum.bootstrap.servers",
        "inter.broker.listener.name", "security.inter.broker.protocol", "inter.broker.protocol.version",
        "log.message.format.version", "log.cleaner.threads", "log.cleaner.dedupe.buffer.size",
        "log.cleaner.min.cleanable.ratio", "log.cleaner.delete.retention.ms", "log.cleaner.min.compaction.lag.ms",
        "log.segment.delete.delay.ms", "log.preallocate", "offsets.topic.segment.bytes", "offsets.commit.timeout.ms",
        "replica.lag.time.max.ms", "replica.fetch.max.bytes", "num.replica.fetchers", "auto.leader.rebalance.enable",
        "queued.max.requests", "connections.max.idle.ms", "group.max.size", "metadata.log.dir",
        "max.connections", "max.connections.per.ip", "transactional.id.expiration.ms", "transaction.max.timeout.ms",
        "request.timeout.ms", "metric.reporters", "confluent.support.metrics.enable",
    ]

    static func isKnownKey(_ key: String) -> Bool {
        defaults.keys.contains(key) || acceptedKafkaKeys.contains(key)
            || key.hasPrefix("ssl.") || key.hasPrefix("sasl.") || key.hasPrefix("listener.name.")
    }
}
