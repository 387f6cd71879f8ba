import KafkaProtocol

/// CreatePartitions (key 37), versions 0-3.
/// Raises a topic's partition count; it can only grow (INVALID_PARTITIONS otherwise, with Kafka's messages).
/// Optional `assignments` give the replicas of each new partition: exactly one entry per new partition, each with
/// the topic's replication factor, no duplicates and only live brokers (INVALID_REPLICA_ASSIGNMENT otherwise).
/// `validate_only` checks without changing anything. The new count is persisted in the metadata store first, then
/// the new partitions' logs are created (a crash in between is repaired at start-up, which creates missing logs).
/// A topic named twice in one request answers INVALID_REQUEST for that name. Differences from Kafka: the single
/// broker is the only live broker; `timeout_ms` is not waited on since creation completes before answering.
extension Broker {
    func createPartitions(_ request: CreatePartitionsRequest, _ ctx: RequestContext) throws -> CreatePartitionsResponse {
        var response = CreatePartitionsResponse()
        var seen: [String: Int] = [:]
        for t in request.topics { seen[t.name, default: 0] += 1 }
        for t in request.topics {
            var r = CreatePartitionsResponse.CreatePartitionsTopicResult()
            r.name = t.name
            if seen[t.name, default: 0] > 1 {
                r.errorCode = ErrorCode.invalidRequest.rawValue
                r.errorMessage = "Duplicate topic in request."
                response.results.append(r)
                continue
            }
            do {
                try TopicAdminLock.lock.withLock {
                    try addPartitions(
                        topic: t.name, count: t.count, assignments: t.assignments?.map(\.brokerIds),
                        validateOnly: request.validateOnly)
                }
                r.errorMessage = nil
            } catch let failure as TopicCreationFailure {
                r.errorCode = failure.code.rawValue
                r.errorMessage = failure.code == .unknownServerError ? nil : failure.message
            } catch {
                r.errorCode = ErrorCode.unknownServerError.rawValue
                r.errorMessage = "\(error)"
            }
            response.results.append(r)
        }
        return response
    }

    /// Grows `topic` to `count` partitions. Callers hold `TopicAdminLock`.
    func addPartitions(topic name: String, count: Int32, assignments: [[Int32]]?, validateOnly: Bool) throws {
        guard var topic = metadataStore.topic(named: name) else {
            throw TopicCreationFailure(code: .unknownTopicOrPartition, message: "The topic '\(name)' does not exist.")
        }
        let current = topic.partitionCount
        if let store = zooKeeperStore, store.partitionsBeingReassigned().keys.contains(where: { $0.topic == name }) {
            // Kafka refuses too: the controller's reassignment and this change would both rewrite the assignment.
            throw TopicCreationFailure(
                code: .reassignmentInProgress, message: "A partition reassignment is in progress for the topic '\(name)'.")
        }
        if Int(count) < current {
            throw TopicCreationFailure(
                code: .invalidPartitions,
                message: "Topic currently has \(current) partitions, which is higher than the requested \(count).")
        }
        if Int(count) == current {
            throw TopicCreationFailure(code: .invalidPartitions, message: "Topic already has \(current) partitions.")
        }
        let added = Int(count) - current
        let replicationFactor = topic.assignment.first?.count ?? 1
        let liveBrokers: Set<Int32> = metadataStore.liveBrokers().map { Set($0.keys) } ?? [brokerId]
        var newReplicas: [[Int32]]
        if let assignments {
            guard assignments.count == added else {
                throw TopicCreationFailure(
                    code: .invalidReplicaAssignment,
                    message: "Attempted to add \(added) additional partition(s), but only \(assignments.count) assignment(s) were specified.")
            }
            for (i, replicas) in assignments.enumerated() {
                let partition = current + i
                if replicas.isEmpty {
                    throw TopicCreationFailure(code: .invalidReplicaAssignment, message: "Empty replica assignment for partition \(partition).")
                }
                if Set(replicas).count != replicas.count {
                    throw TopicCreationFailure(
                        code: .invalidReplicaAssignment,
                        message: "Duplicate brokers not allowed in replica assignment: \(replicas.map(String.init).joined(separator: ", ")) for partition id \(partition).")
                }
                if replicas.count != replicationFactor {
                    throw TopicCreationFailure(
                        code: .invalidReplicaAssignment,
                        message: "The manual partition assignment includes a partition with \(replicas.count) replica(s), but this is not consistent with previous partitions, which have \(replicationFactor) replica(s).")
                }
                let unknown = replicas.filter { !liveBrokers.contains($0) }
                if !unknown.isEmpty {
                    throw TopicCreationFailure(
                        code: .invalidReplicaAssignment,
                        message: "Unknown broker(s) in replica assignment: \(unknown.map(String.init).joined(separator: ", ")).")
                }
            }
            newReplicas = assignments
        } else {
            if metadataStore.liveBrokers() != nil {
                // Cluster: spread the new partitions over the live brokers, as for a new topic.
                do throws(ReplicaAssignment.Failure) {
                    newReplicas = try ReplicaAssignment.assign(
                        partitions: added, replicationFactor: replicationFactor, brokers: placementBrokers(), startIndex: 0,
                        firstPartition: current)
                } catch {
                    logger.error("Error processing create partitions request \(name): \(error.message)")
                    throw TopicCreationFailure(code: .unknownServerError, message: error.message)
                }
            } else {
                newReplicas = Array(repeating: topic.assignment.last ?? [brokerId], count: added)
            }
        }
        if validateOnly { return }
        topic.assignment += newReplicas
        do {
            try metadataStore.update(topic)
            if zooKeeperStore == nil {
                try replicaManager.createLogs(for: topic, fromPartition: current)
            }  // in a cluster the controller sees the grown topic and its LeaderAndIsr creates the replicas
        } catch {
            logger.error("adding partitions to \(name) failed: \(error)")
            throw TopicCreationFailure(code: .kafkaStorageError, message: "\(error)")
        }
        logger.info("topic \(name) now has \(count) partition(s) (was \(current))")
    }
}
