import KafkaProtocol
import NIOCore

/// Kafka's Admin client for topics, configs, offsets and records. Each call is one request (or one per
/// broker); per-topic errors are thrown naming the topic, as Java's futures would fail.
public actor KafkaAdmin {
    public let cluster: KafkaClusterClient

    public init(config: ClusterConfig) throws {
        cluster = try KafkaClusterClient(config: config)
    }

    public init(bootstrapServers: [String]) throws {
        try self.init(config: ClusterConfig(bootstrapServers: bootstrapServers, clientId: "adminclient-1"))
    }

    public func close() async { await cluster.close() }

    // MARK: Topics

    public struct NewTopic: Sendable {
        public var name: String
        /// -1: the broker's num.partitions.
        public var partitions: Int32
        /// -1: the broker's default.replication.factor.
        public var replicationFactor: Int16
        public var configs: [String: String]
        public init(name: String, partitions: Int32 = -1, replicationFactor: Int16 = -1, configs: [String: String] = [:]) {
            self.name = name
            self.partitions = partitions
            self.replicationFactor = replicationFactor
            self.configs = configs
        }
    }

    /// Creates topics; returns their ids.
    @discardableResult
    public func createTopics(_ topics: [NewTopic], validateOnly: Bool = false, timeout: Duration = .seconds(30)) async throws -> [String: KafkaUUID] {
        var request = CreateTopicsRequest()
        request.timeoutMs = timeout.milliseconds
        request.validateOnly = validateOnly
        request.topics = topics.map { t in
            var c = CreateTopicsRequest.CreatableTopic()
            c.name = t.name
            c.numPartitions = t.partitions
            c.replicationFactor = t.replicationFactor
            c.configs = t.configs.sorted { $0.key < $1.key }.map {
                var config = CreateTopicsRequest.CreatableTopicConfig()
                config.name = $0.key
                config.value = $0.value
                return config
            }
            return c
        }
        let response = try await cluster.sendAny(request)
        var ids: [String: KafkaUUID] = [:]
        for r in response.topics {
            try check(r.errorCode, "create topic '\(r.name)'", message: r.errorMessage)
            ids[r.name] = r.topicId
        }
        return ids
    }

    public func deleteTopics(_ names: [String], timeout: Duration = .seconds(30)) async throws {
        var request = DeleteTopicsRequest()
        request.timeoutMs = timeout.milliseconds
        request.topicNames = names
        request.topics = names.map { var t = DeleteTopicsRequest.DeleteTopicState(); t.name = $0; return t }
        let response = try await cluster.sendAny(request)
        for r in response.responses {
            try check(r.errorCode, "delete topic '\(r.name ?? "?")'", message: r.errorMessage)
        }
    }

    /// Topic names, internal ones only when asked.
    public func listTopics(includeInternal: Bool = false) async throws -> [String] {
        try await cluster.refreshMetadata(topics: nil)
        return await cluster.topics.values.filter { includeInternal || !$0.isInternal }.map(\.name).sorted()
    }

    /// Metadata of `names`; throws `.unknownTopic` naming the first missing one.
    public func describeTopics(_ names: [String]) async throws -> [TopicInfo] {
        let response = try await cluster.refreshMetadata(topics: names)
        var out: [TopicInfo] = []
        for name in names {
            let code = ErrorCode(response.topics.first { $0.name == name }?.errorCode ?? ErrorCode.unknownTopicOrPartition.rawValue)
            if code == .unknownTopicOrPartition { throw KafkaClientError(.unknownTopic, "Topic '\(name)' does not exist as expected") }
            try check(code.rawValue, "describe topic '\(name)'")
            if let t = await cluster.topics[name] { out.append(t) }
        }
        return out
    }

    /// Raises the partition count of each topic to the given total.
    public func createPartitions(_ totals: [String: Int32], timeout: Duration = .seconds(30)) async throws {
        var request = CreatePartitionsRequest()
        request.timeoutMs = timeout.milliseconds
        request.topics = totals.sorted { $0.key < $1.key }.map {
            var t = CreatePartitionsRequest.CreatePartitionsTopic()
            t.name = $0.key
            t.count = $0.value
            t.assignments = nil
            return t
        }
        let response = try await cluster.sendAny(request)
        for r in response.results { try check(r.errorCode, "create partitions for '\(r.name)'", message: r.errorMessage) }
    }

    // MARK: Configs

    public enum ResourceType: Int8, Sendable {
        case topic = 2
        case broker = 4
    }

    public struct ConfigEntry: Sendable, Hashable {
        public var name: String
        public var value: String?
        public var isDefault: Bool
        public var readOnly: Bool
        public var isSensitive: Bool
        /// Kafka's ConfigSource: 1 DYNAMIC_TOPIC_CONFIG, 2 DYNAMIC_BROKER_CONFIG, 4 STATIC_BROKER_CONFIG, 5 DEFAULT_CONFIG...
        public var source: Int8
        public var synonyms: [(name: String, value: String?, source: Int8)] {
            _synonyms.map { ($0.name, $0.value, $0.source) }
        }
        var _synonyms: [Synonym]
        struct Synonym: Sendable, Hashable { var name: String; var value: String?; var source: Int8 }
    }

    public func describeConfigs(_ type: ResourceType, _ name: String, keys: [String]? = nil, includeSynonyms: Bool = false) async throws -> [ConfigEntry] {
        var request = DescribeConfigsRequest()
        var resource = DescribeConfigsRequest.DescribeConfigsResource()
        resource.resourceType = type.rawValue
        resource.resourceName = name
        resource.configurationKeys = keys
        request.resources = [resource]
        request.includeSynonyms = includeSynonyms
        let response: DescribeConfigsResponse
        if type == .broker, let id = Int32(name) {
            response = try await cluster.send(request, to: id)
        } else {
            response = try await cluster.sendAny(request)
        }
        guard let result = response.results.first else { return [] }
        if result.errorCode == ErrorCode.unknownTopicOrPartition.rawValue {
            throw KafkaClientError(.unknownTopic, "Topic '\(name)' does not exist")
        }
        try check(result.errorCode, "describe configs of \(name)", message: result.errorMessage)
        return result.configs.map {
            ConfigEntry(name: $0.name, value: $0.value, isDefault: $0.isDefault || $0.configSource == 5,
                        readOnly: $0.readOnly, isSensitive: $0.isSensitive, source: $0.configSource,
                        _synonyms: $0.synonyms.map { ConfigEntry.Synonym(name: $0.name, value: $0.value, source: $0.source) })
        }
    }

    public enum AlterOp: Sendable, Hashable {
        case set(String, String)
        case delete(String)
        case append(String, String)
        case subtract(String, String)
    }

    /// IncrementalAlterConfigs (KIP-339).
    public func incrementalAlterConfigs(_ type: ResourceType, _ name: String, _ ops: [AlterOp], validateOnly: Bool = false) async throws {
        var request = IncrementalAlterConfigsRequest()
        request.validateOnly = validateOnly
        var resource = IncrementalAlterConfigsRequest.AlterConfigsResource()
        resource.resourceType = type.rawValue
        resource.resourceName = name
        resource.configs = ops.map { op in
            var c = IncrementalAlterConfigsRequest.AlterableConfig()
            switch op {
            case .set(let k, let v): c.name = k; c.value = v; c.configOperation = 0
            case .delete(let k): c.name = k; c.value = nil; c.configOperation = 1
            case .append(let k, let v): c.name = k; c.value = v; c.configOperation = 2
            case .subtract(let k, let v): c.name = k; c.value = v; c.configOperation = 3
            }
            return c
        }
        request.resources = [resource]
        let response: IncrementalAlterConfigsResponse
        if type == .broker, let id = Int32(name) {
            response = try await cluster.send(request, to: id)
        } else {
            response = try await cluster.sendAny(request)
        }
        for r in response.responses {
            if r.errorCode == ErrorCode.unknownTopicOrPartition.rawValue {
                throw KafkaClientError(.unknownTopic, "Topic '\(name)' does not exist")
            }
            try check(r.errorCode, "alter configs of \(r.resourceName)", message: r.errorMessage)
        }
    }

    // MARK: Offsets and records

    public struct ListedOffset: Sendable, Hashable {
        public var offset: Int64
        public var timestamp: Int64
        public var leaderEpoch: Int32
    }

    /// ListOffsets: timestamp -1 latest, -2 earliest, -3 max timestamp, else the first offset at or after it.
    public func listOffsets(_ query: [TopicPartition: Int64], readCommitted: Bool = false) async throws -> [TopicPartition: ListedOffset] {
        try await Self.listOffsets(cluster: cluster, query.map { ($0.key, $0.value) }, readCommitted: readCommitted)
    }

    static func listOffsets(cluster: KafkaClusterClient, _ query: [(TopicPartition, Int64)], readCommitted: Bool) async throws -> [TopicPartition: ListedOffset] {
        var byLeader: [Int32: [(TopicPartition, Int64)]] = [:]
        for (tp, ts) in query {
            let leader = try await cluster.leader(for: tp)
            byLeader[leader, default: []].append((tp, ts))
        }
        var out: [TopicPartition: ListedOffset] = [:]
        for (node, parts) in byLeader {
            var request = ListOffsetsRequest()
            request.replicaId = -1
            request.isolationLevel = readCommitted ? 1 : 0
            var topics: [String: [ListOffsetsRequest.ListOffsetsPartition]] = [:]
            for (tp, ts) in parts {
                var p = ListOffsetsRequest.ListOffsetsPartition()
                p.partitionIndex = tp.partition
                p.timestamp = ts
                topics[tp.topic, default: []].append(p)
            }
            request.topics = topics.map { var t = ListOffsetsRequest.ListOffsetsTopic(); t.name = $0.key; t.partitions = $0.value; return t }
            let response = try await cluster.send(request, to: node)
            for t in response.topics {
                for p in t.partitions {
                    try check(p.errorCode, "list offsets of \(t.name)-\(p.partitionIndex)")
                    let offset = p.offset >= 0 ? p.offset : (p.oldStyleOffsets.first ?? -1)
                    out[TopicPartition(t.name, p.partitionIndex)] = ListedOffset(offset: offset, timestamp: p.timestamp, leaderEpoch: p.leaderEpoch)
                }
            }
        }
        return out
    }

    /// Deletes records before the given offsets (-1: the high watermark); returns the new low watermarks.
    public func deleteRecords(_ before: [TopicPartition: Int64], timeout: Duration = .seconds(30)) async throws -> [TopicPartition: Int64] {
        var byLeader: [Int32: [(TopicPartition, Int64)]] = [:]
        for (tp, offset) in before {
            let leader = try await cluster.leader(for: tp)
            byLeader[leader, default: []].append((tp, offset))
        }
        var out: [TopicPartition: Int64] = [:]
        for (node, parts) in byLeader {
            var request = DeleteRecordsRequest()
            request.timeoutMs = timeout.milliseconds
            var topics: [String: [DeleteRecordsRequest.DeleteRecordsPartition]] = [:]
            for (tp, offset) in parts {
                var p = DeleteRecordsRequest.DeleteRecordsPartition()
                p.partitionIndex = tp.partition
                p.offset = offset
                topics[tp.topic, default: []].append(p)
            }
            request.topics = topics.map { var t = DeleteRecordsRequest.DeleteRecordsTopic(); t.name = $0.key; t.partitions = $0.value; return t }
            let response = try await cluster.send(request, to: node)
            for t in response.topics {
                for p in t.partitions {
                    try check(p.errorCode, "delete records of \(t.name)-\(p.partitionIndex)")
                    out[TopicPartition(t.name, p.partitionIndex)] = p.lowWatermark
                }
            }
        }
        return out
    }
}

extension Duration {
    var milliseconds: Int32 {
        let (s, atto) = components
        return Int32(clamping: s * 1000 + atto / 1_000_000_000_000_000)
    }
}
