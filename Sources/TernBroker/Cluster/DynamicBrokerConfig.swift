import FoundationEssentials
import KafkaProtocol
import NIOConcurrencyHelpers
import TernCluster
import TernStorage

/// Dynamic broker configs, as Kafka keeps them in ZooKeeper mode (DynamicBrokerConfig / DynamicConfigManager):
/// `/config/brokers/<id>` (this broker) and `/config/brokers/<default>` (every broker) hold
/// `{"version":1,"config":{...}}`; whoever changes one adds a sequential
/// `/config/changes/config_change_<seq>` `{"version":2,"entity_path":"brokers/<id>"}`, and every broker, watching
/// that folder, reads both znodes again. Precedence: this broker's, then the default, then server.properties.
/// What can change at run time is Kafka's DynamicLogConfig set: the broker keys behind topic-config defaults
/// (`log.retention.ms`, `log.segment.bytes`, ...); every hosted log takes the new defaults at once. Read at start-up,
/// so a dynamic config outlives a restart. A broker without ZooKeeper has no dynamic configs (INVALID_REQUEST).
final class DynamicBrokerConfigs: Sendable {
    struct State: Sendable, Equatable {
        var broker: [String: String] = [:]
        var clusterDefault: [String: String] = [:]
    }
    private let state = NIOLockedValueBox(State())

    var current: State { state.withLockedValue { $0 } }
    func replace(_ s: State) { state.withLockedValue { $0 = s } }

    /// Keys that may be set dynamically (Kafka's DynamicLogConfig.ReconfigurableConfigs).
    static let reconfigurable: Set<String> = Set(Broker.topicConfigBrokerSynonyms.values.joined())

    /// server.properties with the dynamic layers on top, as `BrokerConfig.parse` takes it.
    static func effectiveRaw(static raw: [String: String], _ s: State) -> [String: String] {
        var merged = raw
        merged.merge(s.clusterDefault) { _, dynamic in dynamic }
        merged.merge(s.broker) { _, dynamic in dynamic }
        return merged
    }
}

/// `{"version":2,"entity_path":"brokers/0"}`
struct ConfigChangeNotification: Codable, Equatable {
    var version = 2
    var entityPath: String

    enum CodingKeys: String, CodingKey {
        case version
        case entityPath = "entity_path"
    }
}

extension Broker {
    /// The ZooKeeper entity name of a BROKER config resource: "" is the cluster-wide default.
    static func brokerConfigEntity(_ resourceName: String) -> String {
        resourceName.isEmpty ? KafkaZNodes.defaultBrokerEntity : resourceName
    }

    /// Re-reads both znodes and applies them (start-up, and every /config/changes notification).
    func reloadDynamicBrokerConfigs() {
        guard let store = zooKeeperStore else { return }
        let zk = store.zk
        func read(_ entity: String) -> [String: String] {
            guard let (data, _) = try? zk.blocking({ zk.get(KafkaZNodes.brokerConfig(entity), watch: false, completion: $0) }) else { return [:] }
            return ZNodeJSON.decode(ConfigZNode.self, data)?.config ?? [:]
        }
        let next = DynamicBrokerConfigs.State(broker: read(String(brokerId)), clusterDefault: read(KafkaZNodes.defaultBrokerEntity))
        guard next != dynamicConfigs.current else { return }
        applyDynamicBrokerConfigs(next)
    }

    private func applyDynamicBrokerConfigs(_ next: DynamicBrokerConfigs.State) {
        do {
            let effective = try BrokerConfig.parse(properties: DynamicBrokerConfigs.effectiveRaw(static: config.raw, next))
            replicaManager.updateDefaults(try ReplicaManager.logConfig(from: effective))
            dynamicConfigs.replace(next)
            logger.info("dynamic broker configs: broker \(next.broker.sorted { $0.key < $1.key }), default \(next.clusterDefault.sorted { $0.key < $1.key })")
        } catch {
            logger.error("ignoring dynamic broker configs that do not parse: \(error)")
        }
    }

    /// AlterConfigs / IncrementalAlterConfigs on a BROKER resource: `change` edits the entity's dynamic configs;
    /// the result is checked (reconfigurable keys, values that parse), written to ZooKeeper and announced.
    func alterDynamicBrokerConfigs(
        _ resourceName: String, validateOnly: Bool, _ change: (inout [String: String]) throws -> Void
    ) -> TopicCreationFailure? {
        guard let store = zooKeeperStore else {
            return TopicCreationFailure(code: .invalidRequest, message: "dynamic broker configs need zookeeper.connect")
        }
        let entity = Self.brokerConfigEntity(resourceName)
        var state = dynamicConfigs.current
        var configs = entity == KafkaZNodes.defaultBrokerEntity ? state.clusterDefault : state.broker
        do {
            try change(&configs)
        } catch let failure as TopicCreationFailure {
            return failure
        } catch {
            return TopicCreationFailure(code: .invalidConfig, message: "\(error)")
        }
        let fixed = configs.keys.filter { !DynamicBrokerConfigs.reconfigurable.contains($0) }.sorted()
        if !fixed.isEmpty {
            return TopicCreationFailure(code: .invalidRequest, message: "Cannot update these configs dynamically: Set(\(fixed.joined(separator: ", ")))")
        }
        if entity == KafkaZNodes.defaultBrokerEntity { state.clusterDefault = configs } else { state.broker = configs }
        do {
            let effective = try BrokerConfig.parse(properties: DynamicBrokerConfigs.effectiveRaw(static: config.raw, state))
            _ = try ReplicaManager.logConfig(from: effective)
        } catch {
            return TopicCreationFailure(code: .invalidConfig, message: "\(error)")
        }
        if validateOnly { return nil }
        let zk = store.zk
        let path = KafkaZNodes.brokerConfig(entity)
        let data = ZNodeJSON.encode(ConfigZNode(config: configs))
        do {
            do {
                _ = try zk.blocking { zk.set(path, data: data, version: -1, completion: $0) }
            } catch let e as ZooKeeperError where e.isNoNode {
                try zk.createRecursivelyBlocking(path, data: data)
            }
            let note = ZNodeJSON.encode(ConfigChangeNotification(entityPath: "brokers/\(entity)"))
            let _: String = try zk.blocking {
                zk.create(KafkaZNodes.configChangePrefix, data: note, mode: .persistentSequential, completion: $0)
            }
        } catch {
            return TopicCreationFailure(code: .kafkaStorageError, message: "cannot write \(path): \(error)")
        }
        logger.info("dynamic broker config \(path) is now \(configs.sorted { $0.key < $1.key })")
        reloadDynamicBrokerConfigs()
        return nil
    }

    /// DescribeConfigs synonyms of a broker key from the dynamic layers, highest precedence first.
    func dynamicBrokerSynonyms(_ key: String) -> [ConfigSynonym] {
        let s = dynamicConfigs.current
        var out: [ConfigSynonym] = []
        if let v = s.broker[key] { out.append(ConfigSynonym(name: key, value: v, source: ConfigSource.dynamicBroker)) }
        if let v = s.clusterDefault[key] { out.append(ConfigSynonym(name: key, value: v, source: ConfigSource.dynamicDefaultBroker)) }
        return out
    }

    /// DescribeConfigs of the BROKER resource "" (the cluster-wide default): its dynamic configs only, as Kafka.
    func describeDefaultBrokerConfigs() -> [ConfigEntry] {
        dynamicConfigs.current.clusterDefault.keys.sorted().map { key in
            let v = dynamicConfigs.current.clusterDefault[key]
            return ConfigEntry(
                name: key, value: v, source: ConfigSource.dynamicDefaultBroker,
                synonyms: [ConfigSynonym(name: key, value: v, source: ConfigSource.dynamicDefaultBroker)])
        }
    }
}
