import KafkaProtocol

/// DescribeTopicPartitions (key 75), version 0 (KIP-966): Metadata's topic description with paging.
/// Topics are described in name order, the requested ones (unknown ones answer UNKNOWN_TOPIC_OR_PARTITION) or,
/// when the list is empty, every topic (including internal ones). At most `response_partition_limit` partitions
/// are returned (capped at 2000, Kafka's `max.request.partition.size.limit` default); when more remain,
/// `next_cursor` names the topic and partition to resume from, which the client sends back as `cursor`. A cursor
/// whose topic is not in a non-empty request list, or whose partition is negative, answers INVALID_REQUEST for
/// every requested topic, as Kafka does. Topics before the cursor's are skipped. Eligible leader replicas and
/// last known ELR are empty lists (no ELR on one broker); authorized operations are every topic operation, as
/// Kafka reports without an authorizer. Difference from Kafka: a limit below 1 is treated as 1 (Kafka would answer
/// a cursor that never advances).
extension Broker {
    static let maxDescribeTopicPartitions: Int32 = 2000
    /// READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS as a bit field of AclOperation codes.
    static let allTopicOperations: Int32 = [3, 4, 5, 6, 7, 8, 10, 11].reduce(0) { $0 | (1 << $1) }

    func describeTopicPartitions(
        _ request: DescribeTopicPartitionsRequest, _ ctx: RequestContext
    ) throws -> DescribeTopicPartitionsResponse {
        var response = DescribeTopicPartitionsResponse()
        let fetchAll = request.topics.isEmpty
        let cursorTopic = request.cursor?.topicName ?? ""
        var names: [String]
        if fetchAll {
            names = metadataStore.allTopics().map(\.name)
        } else {
            names = Array(Set(request.topics.map(\.name)))
        }
        names = names.filter { $0 >= cursorTopic }.sorted()
        if let cursor = request.cursor, (!fetchAll && !names.contains(cursor.topicName)) || cursor.partitionIndex < 0 {
            response.topics = request.topics.map { describeTopicError($0.name, .invalidRequest) }
            return response
        }
        var remaining = Int(min(max(request.responsePartitionLimit, 1), Self.maxDescribeTopicPartitions))
        for name in names {
            if remaining == 0 {
                // Every partition of the previous topics fitted exactly: resume at this topic's first partition.
                var next = DescribeTopicPartitionsResponse.Cursor()
                next.topicName = name
                next.partitionIndex = 0
                response.nextCursor = next
                break
            }
            guard let topic = metadataStore.topic(named: name) else {
                if !fetchAll { response.topics.append(describeTopicError(name, .unknownTopicOrPartition)) }
                continue
            }
            let start = name == request.cursor?.topicName ? Int(request.cursor?.partitionIndex ?? 0) : 0
            let end = min(topic.partitionCount, start + remaining)
            var t = DescribeTopicPartitionsResponse.DescribeTopicPartitionsResponseTopic()
            t.name = topic.name
            t.topicId = topic.id
            t.isInternal = topic.isInternal
            t.topicAuthorizedOperations = Self.allTopicOperations
            t.partitions = start < end ? (start..<end).map { describePartition(topic, $0) } : []
            response.topics.append(t)
            if end < topic.partitionCount {
                var next = DescribeTopicPartitionsResponse.Cursor()
                next.topicName = name
                next.partitionIndex = Int32(end)
                response.nextCursor = next
                break
            }
            remaining -= t.partitions.count
        }
        return response
    }

    private func describePartition(
        _ topic: TopicMetadata, _ index: Int
    ) -> DescribeTopicPartitionsResponse.DescribeTopicPartitionsResponsePartition {
        var p = DescribeTopicPartitionsResponse.DescribeTopicPartitionsResponsePartition()
        p.partitionIndex = Int32(index)
        p.leaderId = brokerId
        p.leaderEpoch = replicaManager.partition(topic: topic.name, index: Int32(index))?.leaderEpoch ?? 0
        p.replicaNodes = topic.assignment[index]
        p.isrNodes = topic.assignment[index]
        p.eligibleLeaderReplicas = []
        p.lastKnownElr = []
        p.offlineReplicas = []
        return p
    }

    private func describeTopicError(_ name: String, _ code: ErrorCode) -> DescribeTopicPartitionsResponse.DescribeTopicPartitionsResponseTopic {
        var t = DescribeTopicPartitionsResponse.DescribeTopicPartitionsResponseTopic()
        t.errorCode = code.rawValue
        t.name = name
        return t
    }
}
