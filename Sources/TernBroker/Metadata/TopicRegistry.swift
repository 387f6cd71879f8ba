#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import FoundationEssentials
import KafkaProtocol
import NIOConcurrencyHelpers
import TernStorage

/// A topic as the cluster metadata knows it: id, partition count and replica assignment, config overrides.
public struct TopicMetadata: Sendable, Equatable, Codable {
    public var name: String
    /// Kafka's topic id in its string form (URL-safe base64 of 16 bytes).
    public var topicId: String
    /// partition index -> replica broker ids (first = preferred leader).
    public var assignment: [[Int32]]
    /// Topic-level config overrides (`retention.ms`, `cleanup.policy`, ...). Defaults come from the broker.
    public var configs: [String: String]
    public var isInternal: Bool

    public var partitionCount: Int { assignment.count }
    public var id: KafkaUUID { KafkaUUID(string: topicId) ?? .zero }
}

/// The embedded metadata store of a broker running without ZooKeeper: topics persisted as one JSON file in the
/// first log dir, replaced atomically (write to a temporary file, fsync, rename) on every change.
/// Crash behaviour: a crash leaves either the old or the new file, never a torn one.
/// The ZooKeeper-backed store (cluster issue) will implement the same `MetadataStore` interface.
public protocol MetadataStore: Sendable {
    func allTopics() -> [TopicMetadata]
    func topic(named name: String) -> TopicMetadata?
    func topic(id: KafkaUUID) -> TopicMetadata?
    /// Adds a topic; false when the name is taken.
    func create(_ topic: TopicMetadata) throws -> Bool
    func update(_ topic: TopicMetadata) throws
    func delete(named name: String) throws -> TopicMetadata?

    // Cluster view. The embedded store answers nil: this broker is the whole cluster, leader of everything.
    /// Registered (live) brokers by id.
    func liveBrokers() -> [Int32: ClusterBroker]?
    /// A partition's leader, leader epoch and ISR as the controller last wrote them.
    func leadership(of tp: TopicPartition) -> PartitionLeadership?
    /// The active controller's broker id.
    func controllerId() -> Int32?
}

extension MetadataStore {
    public func liveBrokers() -> [Int32: ClusterBroker]? { nil }
    public func leadership(of tp: TopicPartition) -> PartitionLeadership? { nil }
    public func controllerId() -> Int32? { nil }
}

/// A live broker as its registration describes it.
public struct ClusterBroker: Sendable, Equatable {
    public var id: Int32
    public var rack: String?
    /// listener name -> (host, port)
    public var endpoints: [String: (host: String, port: Int)]
    /// KIP-380's broker epoch: the czxid of its `/brokers/ids/<id>` registration, -1 when unknown (learnt from
    /// UpdateMetadata, whose broker list does not carry it). Not part of `==`: the same broker, re-registered.
    public var epoch: Int64 = -1

    public static func == (a: ClusterBroker, b: ClusterBroker) -> Bool {
        a.id == b.id && a.rack == b.rack && a.endpoints.mapValues { "\($0.host):\($0.port)" } == b.endpoints.mapValues { "\($0.host):\($0.port)" }
    }
}

/// Who leads a partition and who is in sync, with the epochs that fence stale leaders and controllers.
public struct PartitionLeadership: Sendable, Equatable {
    /// -1 while no replica can lead (offline).
    public var leader: Int32
    public var leaderEpoch: Int32
    public var isr: [Int32]
    public var controllerEpoch: Int32
    /// The znode version, for conditional updates.
    public var zkVersion: Int32
}

public final class EmbeddedMetadataStore: MetadataStore {
    private let path: String
    private let topics: NIOLockedValueBox<[String: TopicMetadata]>

    private struct File: Codable {
        var version: Int
        var topics: [TopicMetadata]
    }

    public init(directory: String) throws {
        self.path = directory + "/__tern_topics.json"
        var loaded: [String: TopicMetadata] = [:]
        if let data = FileManager.default.contents(atPath: path) {
            do {
                let file = try JSONDecoder().decode(File.self, from: data)
                for t in file.topics { loaded[t.name] = t }
            } catch {
                throw BrokerError.metadata("cannot read \(path): \(error)")
            }
        }
        self.topics = NIOLockedValueBox(loaded)
    }

    public func allTopics() -> [TopicMetadata] {
        topics.withLockedValue { Array($0.values) }.sorted { $0.name < $1.name }
    }

    public func topic(named name: String) -> TopicMetadata? { topics.withLockedValue { $0[name] } }

    public func topic(id: KafkaUUID) -> TopicMetadata? {
        let s = id.description
        return topics.withLockedValue { $0.values.first { $0.topicId == s } }
    }

    public func create(_ topic: TopicMetadata) throws -> Bool {
        try topics.withLockedValue { map in
            guard map[topic.name] == nil else { return false }
            map[topic.name] = topic
            try persist(map)
            return true
        }
    }

    public func update(_ topic: TopicMetadata) throws {
        try topics.withLockedValue { map in
            map[topic.name] = topic
            try persist(map)
        }
    }

    public func delete(named name: String) throws -> TopicMetadata? {
        try topics.withLockedValue { map in
            guard let removed = map.removeValue(forKey: name) else { return nil }
            try persist(map)
            return removed
        }
    }

    private func persist(_ map: [String: TopicMetadata]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data = try encoder.encode(File(version: 1, topics: map.values.sorted { $0.name < $1.name }))
        let tmp = path + ".tmp"
        guard FileManager.default.createFile(atPath: tmp, contents: data) else {
            throw BrokerError.metadata("cannot write \(tmp)")
        }
        let fd = open(tmp, O_RDONLY)
        if fd >= 0 { fsync(fd); close(fd) }
        guard rename(tmp, path) == 0 else { throw BrokerError.metadata("cannot rename \(tmp): errno \(errno)") }
    }
}

/// Errors of the broker layer, with context; translated to wire codes per partition at the API boundary.
public enum BrokerError: Error, CustomStringConvertible {
    case metadata(String)
    case config(String)
    case storage(String)

    public var description: String {
        switch self {
        case .metadata(let s): return "metadata: \(s)"
        case .config(let s): return "config: \(s)"
        case .storage(let s): return "storage: \(s)"
        }
    }
}

/// Kafka's topic name rule: 1-249 characters of [a-zA-Z0-9._-], not "." or "..".
public enum TopicName {
    public static let maxLength = 249

    public static func validate(_ name: String) -> String? {
        if name.isEmpty { return "Topic name is illegal, it can't be empty" }
        if name == "." || name == ".." { return "Topic name cannot be \".\" or \"..\"" }
        if name.utf8.count > maxLength {
            return "Topic name is illegal, it can't be longer than \(maxLength) characters, topic name: \(name)"
        }
        for c in name.utf8 {
            let ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39)
                || c == 0x2e || c == 0x5f || c == 0x2d
            if !ok {
                return "Topic name \(name) is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"
            }
        }
        return nil
    }
}
