import KafkaProtocol
import NIOCore
import NIOPosix

/// A topic and partition, Kafka's `TopicPartition`.
public struct TopicPartition: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32
    public init(_ topic: String, _ partition: Int32) {
        self.topic = topic
        self.partition = partition
    }
    public var description: String { "\(topic)-\(partition)" }
    public static func < (a: Self, b: Self) -> Bool { (a.topic, a.partition) < (b.topic, b.partition) }
}

/// What Metadata said about one broker, topic and partition.
public struct BrokerInfo: Sendable, Hashable {
    public var nodeId: Int32
    public var host: String
    public var port: Int
    public var rack: String?
}

public struct PartitionInfo: Sendable, Hashable {
    public var partition: Int32
    public var leader: Int32
    public var leaderEpoch: Int32
    public var replicas: [Int32]
    public var isr: [Int32]
    public var offlineReplicas: [Int32]
    public var errorCode: ErrorCode
}

public struct TopicInfo: Sendable, Hashable {
    public var name: String
    public var topicId: KafkaUUID
    public var isInternal: Bool
    public var partitions: [PartitionInfo]
    public var errorCode: ErrorCode
}

/// Connection settings shared by producer, consumer and admin.
public struct ClusterConfig: Sendable {
    /// `bootstrap.servers`: "host:port" pairs. Default: none (required).
    public var bootstrapServers: [String]
    /// `client.id`. Default "tern".
    public var clientId: String = "tern"
    /// `request.timeout.ms`. Default 30 s.
    public var requestTimeout: Duration = .seconds(30)
    /// `socket.connection.setup.timeout.ms`. Default 10 s.
    public var connectTimeout: Duration = .seconds(10)
    /// `retry.backoff.ms`. Default 100 ms.
    public var retryBackoff: Duration = .milliseconds(100)

    public init(bootstrapServers: [String], clientId: String = "tern") {
        self.bootstrapServers = bootstrapServers
        self.clientId = clientId
    }

    /// Parses "host:port"; IPv6 as "[::1]:9092".
    static func parseAddress(_ s: String) throws(KafkaClientError) -> (String, Int) {
        let trimmed = s.trimmingWhitespaces()
        guard let colon = trimmed.lastIndex(of: ":"), let port = Int(trimmed[trimmed.index(after: colon)...]),
              port > 0, port < 65536 else {
            throw KafkaClientError(.invalidArgument, "invalid bootstrap server address '\(s)' (expected host:port)")
        }
        var host = String(trimmed[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, port)
    }
}

/// The cluster as a client sees it: bootstrap servers, the Metadata cache, and one connection per broker.
public actor KafkaClusterClient {
    public let config: ClusterConfig
    private let bootstrap: [(host: String, port: Int)]
    private var connections: [Int32: KafkaConnection] = [:]
    private var connecting: [Int32: Task<KafkaConnection, any Error>] = [:]
    private var bootstrapConnection: KafkaConnection?
    public private(set) var brokers: [Int32: BrokerInfo] = [:]
    public private(set) var topics: [String: TopicInfo] = [:]
    public private(set) var controllerId: Int32 = -1
    public private(set) var clusterId: String?
    private var closed = false

    public init(config: ClusterConfig) throws {
        guard !config.bootstrapServers.isEmpty else {
            throw KafkaClientError(.invalidArgument, "bootstrap.servers is empty")
        }
        self.config = config
        bootstrap = try config.bootstrapServers.flatMap { $0.split(separator: ",") }.map {
            try ClusterConfig.parseAddress(String($0))
        }
    }

    /// Any live connection: a known broker's, else the first bootstrap server that answers.
    public func anyConnection() async throws -> KafkaConnection {
        try checkOpen()
        if let c = connections.values.first(where: { $0.isActive }) { return c }
        if let c = bootstrapConnection, c.isActive { return c }
        let c = try await Self.connectFirst(bootstrap, config)
        bootstrapConnection = c
        return c
    }

    /// The first bootstrap server that accepts, or the last error. A static function with Results rather than a
    /// do/catch loop inside the actor method: the latter crashes the 6.3 optimizer (coroutine splitting).
    private static func connectFirst(_ servers: [(host: String, port: Int)], _ config: ClusterConfig) async throws -> KafkaConnection {
        var failure: (any Error)?
        for server in servers {
            switch await attempt(server.host, server.port, config) {
            case .success(let c): return c
            case .failure(let e): failure = e
            }
        }
        throw failure ?? KafkaClientError(.connectionFailed, "no bootstrap servers")
    }

    private static func attempt(_ host: String, _ port: Int, _ config: ClusterConfig) async -> Result<KafkaConnection, any Error> {
        do {
            return .success(try await KafkaConnection.connect(
                host: host, port: port, clientId: config.clientId,
                connectTimeout: config.connectTimeout, requestTimeout: config.requestTimeout))
        } catch {
            return .failure(error)
        }
    }

    /// The connection to broker `nodeId`, opened on first use from the Metadata address.
    public func connection(to nodeId: Int32) async throws -> KafkaConnection {
        try checkOpen()
        if let c = connections[nodeId], c.isActive { return c }
        if let task = connecting[nodeId] { return try await task.value }
        if brokers[nodeId] == nil { try await refreshMetadata(topics: []) }
        guard let broker = brokers[nodeId] else {
            throw KafkaClientError(.brokerNotAvailable, "broker \(nodeId) is not in the cluster metadata")
        }
        let config = self.config
        let task = Task {
            try await KafkaConnection.connect(
                host: broker.host, port: broker.port, clientId: config.clientId,
                connectTimeout: config.connectTimeout, requestTimeout: config.requestTimeout)
        }
        connecting[nodeId] = task
        defer { connecting[nodeId] = nil }
        let c = try await task.value
        if let old = connections[nodeId] { Task { await old.close() } }
        connections[nodeId] = c
        return c
    }

    /// Sends to any broker (for requests any broker answers: Metadata, CreateTopics, DescribeConfigs...).
    public func sendAny<R: KafkaRequestMessage>(_ request: R) async throws -> R.Response {
        try await anyConnection().send(request)
    }

    /// Sends to broker `nodeId`.
    public func send<R: KafkaRequestMessage>(_ request: R, to nodeId: Int32) async throws -> R.Response {
        try await connection(to: nodeId).send(request)
    }

    /// Refreshes the cache for `topics` (nil: every topic; []: brokers only).
    @discardableResult
    public func refreshMetadata(topics names: [String]?, allowAutoCreate: Bool = false) async throws -> MetadataResponse {
        let c = try await anyConnection()
        var request = MetadataRequest()
        request.allowAutoTopicCreation = allowAutoCreate
        request.topics = names.map { $0.map { var t = MetadataRequest.MetadataRequestTopic(); t.name = $0; return t } }
        let version = try c.version(for: .metadata, clientRange: ClientApiVersions.range(MetadataRequest.self))
        if names == nil && version == 0 { request.topics = [] }  // v0: empty means all
        let response = try await c.send(request, version: version)
        apply(response, complete: names == nil)
        return response
    }

    private func apply(_ response: MetadataResponse, complete: Bool) {
        var newBrokers: [Int32: BrokerInfo] = [:]
        for b in response.brokers {
            newBrokers[b.nodeId] = BrokerInfo(nodeId: b.nodeId, host: b.host, port: Int(b.port), rack: b.rack)
        }
        if !newBrokers.isEmpty { brokers = newBrokers }
        controllerId = response.controllerId
        clusterId = response.clusterId
        if complete { topics = [:] }
        for t in response.topics {
            guard let name = t.name else { continue }
            let info = TopicInfo(
                name: name, topicId: t.topicId, isInternal: t.isInternal,
                partitions: t.partitions.map {
                    PartitionInfo(partition: $0.partitionIndex, leader: $0.leaderId, leaderEpoch: $0.leaderEpoch,
                                  replicas: $0.replicaNodes, isr: $0.isrNodes, offlineReplicas: $0.offlineReplicas,
                                  errorCode: ErrorCode($0.errorCode))
                }.sorted { $0.partition < $1.partition },
                errorCode: ErrorCode(t.errorCode))
            if info.errorCode.isError { topics[name] = nil } else { topics[name] = info }
        }
    }

    /// The topic's metadata, fetched when not cached. Throws `.unknownTopic` when the broker does not know it.
    public func topic(_ name: String, allowAutoCreate: Bool = false, refresh: Bool = false) async throws -> TopicInfo {
        if !refresh, let t = topics[name], !t.partitions.isEmpty { return t }
        var lastCode = ErrorCode.none
        for attempt in 0..<10 {
            let response = try await refreshMetadata(topics: [name], allowAutoCreate: allowAutoCreate)
            if let t = topics[name], !t.partitions.isEmpty,
               t.partitions.allSatisfy({ $0.leader >= 0 }) || attempt >= 5 { return t }
            lastCode = ErrorCode(response.topics.first?.errorCode ?? 0)
            if lastCode == .unknownTopicOrPartition && !allowAutoCreate { break }
            if lastCode.isError && !lastCode.isRetriable { break }
            try await Task.sleep(for: config.retryBackoff)
        }
        if lastCode == .unknownTopicOrPartition || lastCode == .none {
            throw KafkaClientError(.unknownTopic, "topic '\(name)' does not exist")
        }
        throw KafkaClientError.broker(lastCode, "metadata for topic '\(name)'")
    }

    /// The leader of a partition, refreshing metadata when it is unknown.
    public func leader(for tp: TopicPartition, refresh: Bool = false) async throws -> Int32 {
        let t = try await topic(tp.topic, refresh: refresh)
        guard let p = t.partitions.first(where: { $0.partition == tp.partition }) else {
            throw KafkaClientError(.broker(.unknownTopicOrPartition), "partition \(tp) does not exist")
        }
        guard p.leader >= 0 else {
            throw KafkaClientError(.broker(.leaderNotAvailable), "partition \(tp) has no leader")
        }
        return p.leader
    }

    /// Forgets cached partition leaders (after NOT_LEADER_OR_FOLLOWER and the like).
    public func invalidate(topic: String) { topics[topic] = nil }

    private func checkOpen() throws(KafkaClientError) {
        if closed { throw KafkaClientError(.closed, "client is closed") }
    }

    public func close() async {
        closed = true
        for c in connections.values { await c.close() }
        await bootstrapConnection?.close()
        connections = [:]
        bootstrapConnection = nil
    }
}

extension KafkaClientError.Kind {
    static let brokerNotAvailable = KafkaClientError.Kind.broker(.brokerNotAvailable)
}
