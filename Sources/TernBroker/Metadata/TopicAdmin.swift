import FoundationEssentials
import KafkaProtocol
import TernStorage

/// Topic creation and deletion shared by CreateTopics, Metadata/Produce auto-creation and DeleteTopics.
/// Validation follows Kafka: name rules, partitions >= 1, replication factor within the live brokers,
/// configs that parse, explicit assignments consistent.
extension Broker {
    struct TopicCreationFailure: Error {
        var code: ErrorCode
        var message: String
    }

    /// An internal topic (`__consumer_offsets`, `__transaction_state`) exists after this returns true: created
    /// here unless it already was (or another broker created it first). False, logged: it cannot be created now
    /// (in a cluster, fewer live brokers than its replication factor), which callers answer with
    /// COORDINATOR_NOT_AVAILABLE.
    func ensureInternalTopic(name: String, partitions: Int32, replicationFactor: Int16, configs: [String: String]) -> Bool {
        guard metadataStore.topic(named: name) == nil else { return true }
        do {
            try createTopic(name: name, partitions: partitions, replicationFactor: replicationFactor, configs: configs, isInternal: true)
        } catch where error.code != .topicAlreadyExists {
            logger.warning("cannot create \(name): \(error.message)")
            return false
        } catch {}
        return true
    }

    /// Creates (or, with `validateOnly`, only checks) a topic. `partitions`/`replicationFactor` -1 mean the
    /// broker defaults (`num.partitions`, `default.replication.factor`).
    @discardableResult
    func createTopic(
        name: String, partitions: Int32, replicationFactor: Int16, assignments: [[Int32]] = [],
        configs: [String: String] = [:], validateOnly: Bool = false, isInternal: Bool = false
    ) throws(TopicCreationFailure) -> TopicMetadata {
        if let problem = TopicName.validate(name) { throw TopicCreationFailure(code: .invalidTopicException, message: problem) }
        if metadataStore.topic(named: name) != nil {
            throw TopicCreationFailure(code: .topicAlreadyExists, message: "Topic '\(name)' already exists.")
        }
        // '.' and '_' map to the same metric name, so Kafka refuses a name that differs from an existing one only
        // there (InvalidTopicException "collides with existing topic").
        if name.contains(".") || name.contains("_") {
            let normalized = name.replacing(".", with: "_")
            if let clash = metadataStore.allTopics().first(where: {
                $0.name != name && $0.name.replacing(".", with: "_") == normalized
            }) {
                throw TopicCreationFailure(
                    code: .invalidTopicException, message: "Topic '\(name)' collides with existing topic: \(clash.name)")
            }
        }
        let liveBrokers: [Int32] = metadataStore.liveBrokers().map { $0.keys.sorted() } ?? [brokerId]
        var assignment: [[Int32]]
        if !assignments.isEmpty {
            if partitions != -1 || replicationFactor != -1 {
                throw TopicCreationFailure(
                    code: .invalidRequest,
                    message: "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.")
            }
            for replicas in assignments {
                if replicas.isEmpty || Set(replicas).count != replicas.count {
                    throw TopicCreationFailure(code: .invalidReplicaAssignment, message: "Duplicate or empty replica ids in the assignment")
                }
                if let unknown = replicas.first(where: { !liveBrokers.contains($0) }) {
                    throw TopicCreationFailure(code: .invalidReplicaAssignment, message: "Unknown broker \(unknown) in the assignment")
                }
            }
            assignment = assignments
        } else {
            let count = partitions == -1 ? Int32(config.numPartitions) : partitions
            let rf = replicationFactor == -1 ? Int16(config.defaultReplicationFactor) : replicationFactor
            if count <= 0 {
                throw TopicCreationFailure(code: .invalidPartitions, message: "Number of partitions must be larger than 0.")
            }
            if rf <= 0 {
                throw TopicCreationFailure(code: .invalidReplicationFactor, message: "Replication factor must be larger than 0.")
            }
            if Int(rf) > liveBrokers.count {
                throw TopicCreationFailure(
                    code: .invalidReplicationFactor,
                    message: "Unable to replicate the partition \(rf) time(s): The target replication factor of \(rf) cannot be reached because only \(liveBrokers.count) broker(s) are registered.")
            }
            do throws(ReplicaAssignment.Failure) {
                assignment = try ReplicaAssignment.assign(partitions: Int(count), replicationFactor: Int(rf), brokers: placementBrokers())
            } catch {
                // Kafka's AdminOperationException: not an API error, so the client sees UNKNOWN_SERVER_ERROR.
                logger.error("Error processing create topic request \(name): \(error.message)")
                throw TopicCreationFailure(code: .unknownServerError, message: error.message)
            }
        }
        for (key, _) in configs where !LogConfig.names.contains(key) {
            throw TopicCreationFailure(code: .invalidConfig, message: "Unknown topic config name: \(key)")
        }
        do {
            _ = try LogConfig(configs, defaults: replicaManager.defaultLogConfig)
        } catch {
            throw TopicCreationFailure(code: .invalidConfig, message: "\(error)")
        }
        let topic = TopicMetadata(
            name: name, topicId: KafkaUUID.random().description, assignment: assignment, configs: configs,
            isInternal: isInternal)
        if validateOnly { return topic }
        do {
            guard try metadataStore.create(topic) else {
                throw TopicCreationFailure(code: .topicAlreadyExists, message: "Topic '\(name)' already exists.")
            }
            try createLocalLogs(for: topic)
        } catch let failure as TopicCreationFailure {
            throw failure
        } catch {
            logger.error("creating topic \(name) failed: \(error)")
            throw TopicCreationFailure(code: .kafkaStorageError, message: "\(error)")
        }
        logger.info("created topic \(name) with \(assignment.count) partition(s)")
        return topic
    }

    /// Auto-creation (Metadata, Produce) with the broker defaults, if `auto.create.topics.enable` allows it.
    func autoCreateTopic(_ name: String) -> TopicMetadata? {
        if let existing = metadataStore.topic(named: name) { return existing }
        // The offsets topic is internal: created with its own partition count and configs, whatever
        // auto.create.topics.enable says (as Kafka creates internal topics on demand).
        if name == ConsumerOffsetsLog.topicName {
            return coordinator.ensureOffsetsTopic(broker: self) ? metadataStore.topic(named: name) : nil
        }
        guard config.autoCreateTopicsEnable else { return nil }
        do {
            return try createTopic(name: name, partitions: -1, replicationFactor: -1)
        } catch {
            if error.code == .topicAlreadyExists { return metadataStore.topic(named: name) }
            return nil
        }
    }

    func deleteTopic(named name: String) throws(TopicCreationFailure) -> TopicMetadata {
        guard config.deleteTopicEnable else {
            throw TopicCreationFailure(code: .topicDeletionDisabled, message: "Topic deletion is disabled.")
        }
        guard let topic = metadataStore.topic(named: name) else {
            throw TopicCreationFailure(code: .unknownTopicOrPartition, message: "This server does not host this topic-partition.")
        }
        do {
            // Under the topic-admin lock, so a concurrent config change cannot write the deleted topic back.
            try TopicAdminLock.lock.withLock {
                _ = try metadataStore.delete(named: name)
                try replicaManager.deleteLogs(of: topic)
            }
        } catch {
            throw TopicCreationFailure(code: .kafkaStorageError, message: "\(error)")
        }
        for p in 0..<topic.partitionCount { purgatory.notify(.init(topic: name, partition: Int32(p))) }
        logger.info("deleted topic \(name)")
        return topic
    }
}
