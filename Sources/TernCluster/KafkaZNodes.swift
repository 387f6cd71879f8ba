import FoundationEssentials

/// Kafka's znode layout (as the ZooKeeper-mode Kafka 2.x/3.x brokers write it), so tools that read ZooKeeper
/// (CMAK, zkCli, kafka-topics --zookeeper) see a familiar cluster. Paths are relative to the chroot.
public enum KafkaZNodes {
    public static let brokerIds = "/brokers/ids"
    public static let brokerTopics = "/brokers/topics"
    public static let configTopics = "/config/topics"
    public static let configBrokers = "/config/brokers"
    public static let controller = "/controller"
    public static let controllerEpoch = "/controller_epoch"
    public static let clusterId = "/cluster/id"
    public static let deleteTopics = "/admin/delete_topics"
    /// `{"version":1,"partitions":[{"topic":"t","partition":0}]}`, written by kafka-preferred-replica-election.sh
    /// (ZooKeeper mode); the controller elects the preferred leaders and deletes the node.
    public static let preferredReplicaElection = "/admin/preferred_replica_election"
    public static let isrChangeNotification = "/isr_change_notification"
    /// `{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2]}]}`, written by
    /// kafka-reassign-partitions.sh (ZooKeeper mode); the controller starts each move and removes each partition
    /// from the node as it completes, deleting the node with the last one.
    public static let reassignPartitions = "/admin/reassign_partitions"
    /// Sequential children `config_change_<seq>` tell every broker an entity's dynamic config changed.
    public static let configChanges = "/config/changes"
    /// `/brokers/<default>`' name: the dynamic config every broker takes unless its own overrides it.
    public static let defaultBrokerEntity = "<default>"

    /// Persistent paths every broker makes sure exist at start-up (Kafka's `KafkaZkClient.createTopLevelPaths`).
    public static let persistentPaths = [
        "/brokers/ids", "/brokers/topics", "/brokers/seqid", "/config/topics", "/config/clients", "/config/users",
        "/config/brokers", "/config/changes", "/admin/delete_topics", "/isr_change_notification",
        "/latest_producer_id_block", "/log_dir_event_notification", "/cluster",
    ]

    public static func broker(_ id: Int32) -> String { "\(brokerIds)/\(id)" }
    public static func topic(_ name: String) -> String { "\(brokerTopics)/\(name)" }
    public static func topicConfig(_ name: String) -> String { "\(configTopics)/\(name)" }
    public static func partitions(_ topic: String) -> String { "\(brokerTopics)/\(topic)/partitions" }
    public static func partition(_ topic: String, _ p: Int32) -> String { "\(partitions(topic))/\(p)" }
    public static func partitionState(_ topic: String, _ p: Int32) -> String { "\(partition(topic, p))/state" }
    /// `/admin/delete_topics/<t>`: a deletion request the controller carries out.
    public static func deleteTopic(_ name: String) -> String { "\(deleteTopics)/\(name)" }
    /// `/config/brokers/<id>` or `/config/brokers/<default>`.
    public static func brokerConfig(_ entity: String) -> String { "\(configBrokers)/\(entity)" }
    /// Prefixes of the sequential notification znodes (ZooKeeper appends a 10-digit sequence number).
    public static let isrChangePrefix = "\(isrChangeNotification)/isr_change_"
    public static let configChangePrefix = "\(configChanges)/config_change_"

    static func timestamp() -> String { String(Int64(Date().timeIntervalSince1970 * 1000)) }
}

/// `/brokers/ids/<id>` (ephemeral), version 5 of Kafka's broker registration.
public struct BrokerRegistration: Codable, Sendable, Equatable {
    public struct Endpoint: Sendable, Equatable {
        public var listenerName: String
        public var host: String
        public var port: Int

        public init(listenerName: String, host: String, port: Int) {
            self.listenerName = listenerName
            self.host = host
            self.port = port
        }
    }

    public var listenerSecurityProtocolMap: [String: String]
    /// `LISTENER://host:port`
    public var endpoints: [String]
    public var rack: String?
    public var jmxPort: Int = -1
    public var host: String?
    public var port: Int = -1
    public var version: Int = 5
    public var timestamp: String = KafkaZNodes.timestamp()

    public init(endpoints: [Endpoint], securityProtocols: [String: String], rack: String?) {
        self.endpoints = endpoints.map { "\($0.listenerName)://\($0.host):\($0.port)" }
        self.listenerSecurityProtocolMap = securityProtocols
        self.rack = rack
        // The legacy host/port fields name the PLAINTEXT endpoint, as Kafka does (absent without one).
        if let plain = endpoints.first(where: { securityProtocols[$0.listenerName] == "PLAINTEXT" }) {
            host = plain.host
            port = plain.port
        }
    }

    /// The endpoints parsed back (`[LISTENER]://host:port`, IPv6 hosts in brackets).
    public var parsedEndpoints: [Endpoint] {
        endpoints.compactMap { s in
            guard let sep = s.firstRange(of: "://"), let colon = s.lastIndex(of: ":"), colon > sep.upperBound,
                  let port = Int(s[s.index(after: colon)...]) else { return nil }
            var host = String(s[sep.upperBound..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            return Endpoint(listenerName: String(s[..<sep.lowerBound]), host: host, port: port)
        }
    }

    enum CodingKeys: String, CodingKey {
        case listenerSecurityProtocolMap = "listener_security_protocol_map"
        case endpoints, rack, host, port, version, timestamp
        case jmxPort = "jmx_port"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(listenerSecurityProtocolMap, forKey: .listenerSecurityProtocolMap)
        try c.encode(endpoints, forKey: .endpoints)
        try c.encode(rack, forKey: .rack)  // null, not absent, as Kafka writes it
        try c.encode(jmxPort, forKey: .jmxPort)
        try c.encode(port, forKey: .port)
        try c.encode(host, forKey: .host)
        try c.encode(version, forKey: .version)
        try c.encode(timestamp, forKey: .timestamp)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        listenerSecurityProtocolMap = try c.decodeIfPresent([String: String].self, forKey: .listenerSecurityProtocolMap) ?? [:]
        endpoints = try c.decodeIfPresent([String].self, forKey: .endpoints) ?? []
        rack = try c.decodeIfPresent(String.self, forKey: .rack)
        jmxPort = try c.decodeIfPresent(Int.self, forKey: .jmxPort) ?? -1
        host = try c.decodeIfPresent(String.self, forKey: .host)
        port = try c.decodeIfPresent(Int.self, forKey: .port) ?? -1
        version = try c.decodeIfPresent(Int.self, forKey: .version) ?? 1
        timestamp = try c.decodeIfPresent(String.self, forKey: .timestamp) ?? ""
        // Registrations before version 2 had only host/port.
        if endpoints.isEmpty, let host, port >= 0 { endpoints = ["PLAINTEXT://\(host):\(port)"] }
    }
}

/// `/controller` (ephemeral): who the active controller is.
public struct ControllerZNode: Codable, Sendable, Equatable {
    public var version: Int = 2
    public var brokerid: Int32
    public var timestamp: String = KafkaZNodes.timestamp()

    public init(brokerId: Int32) { self.brokerid = brokerId }
}

/// `/brokers/topics/<topic>`: the replica assignment, version 3 (with topic id and reassignment fields).
public struct TopicZNode: Codable, Sendable, Equatable {
    public var version: Int = 3
    public var partitions: [String: [Int32]]
    public var topicId: String?
    public var addingReplicas: [String: [Int32]] = [:]
    public var removingReplicas: [String: [Int32]] = [:]

    enum CodingKeys: String, CodingKey {
        case version, partitions
        case topicId = "topic_id"
        case addingReplicas = "adding_replicas"
        case removingReplicas = "removing_replicas"
    }

    public init(assignment: [[Int32]], topicId: String) {
        partitions = Dictionary(uniqueKeysWithValues: assignment.enumerated().map { (String($0.offset), $0.element) })
        self.topicId = topicId
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decodeIfPresent(Int.self, forKey: .version) ?? 1
        partitions = try c.decode([String: [Int32]].self, forKey: .partitions)
        topicId = try c.decodeIfPresent(String.self, forKey: .topicId)
        addingReplicas = try c.decodeIfPresent([String: [Int32]].self, forKey: .addingReplicas) ?? [:]
        removingReplicas = try c.decodeIfPresent([String: [Int32]].self, forKey: .removingReplicas) ?? [:]
    }

    /// Partition index order; nil when the indexes are not exactly 0..<n.
    public var assignment: [[Int32]]? {
        var out: [[Int32]] = []
        for i in 0..<partitions.count {
            guard let r = partitions[String(i)] else { return nil }
            out.append(r)
        }
        return out
    }
}

/// `/brokers/topics/<t>/partitions/<p>/state`: leader, ISR and the epochs that fence stale writers.
public struct PartitionStateZNode: Codable, Sendable, Equatable {
    public var controllerEpoch: Int32
    public var leader: Int32
    public var version: Int = 1
    public var leaderEpoch: Int32
    public var isr: [Int32]

    enum CodingKeys: String, CodingKey {
        case controllerEpoch = "controller_epoch"
        case leader, version
        case leaderEpoch = "leader_epoch"
        case isr
    }

    public init(controllerEpoch: Int32, leader: Int32, leaderEpoch: Int32, isr: [Int32]) {
        self.controllerEpoch = controllerEpoch
        self.leader = leader
        self.leaderEpoch = leaderEpoch
        self.isr = isr
    }
}

/// `/config/topics/<t>` (and `/config/brokers/<id>`): config overrides.
public struct ConfigZNode: Codable, Sendable, Equatable {
    public var version: Int = 1
    public var config: [String: String]

    public init(config: [String: String]) { self.config = config }
}

/// `/cluster/id`.
public struct ClusterIdZNode: Codable, Sendable, Equatable {
    public var version: String = "1"
    public var id: String

    public init(id: String) { self.id = id }
}

/// JSON in and out of znodes: compact, keys sorted (stable bytes, easy diffs).
public enum ZNodeJSON {
    public static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? Array(e.encode(value))) ?? []
    }

    public static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) -> T? {
        try? JSONDecoder().decode(type, from: Data(bytes))
    }
}
