#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import FoundationEssentials
import KafkaProtocol
import Logging
import NIOConcurrencyHelpers
import TernCluster
import TernStorage

/// The metadata store of a broker with `zookeeper.connect`: topics, configs, live brokers, partition leadership
/// and the controller live in ZooKeeper under Kafka's znode layout, so every broker sees the same cluster.
///
/// Partition state znodes are read (start-up, controller failover, lost races, ISR change notifications) but not
/// watched: brokers learn states from the controller's requests. The rest:
/// reads answer from a cache that ZooKeeper watches keep current (one-shot watches are re-armed by each
/// reload); a topic missing from the cache is read through, so a topic just created on another broker is seen
/// at once. Writes go to ZooKeeper first, then to the cache. All watch handling runs on the client's serial event
/// queue, which is why the blocking calls here are safe there; `onChange` listeners run on that queue too.
public final class ZooKeeperMetadataStore: MetadataStore, @unchecked Sendable {  // mutable state behind `state`
    /// The current session's client; replaced after a session expiry.
    public var zk: ZooKeeperClient { client.withLockedValue { $0 } }
    private let client: NIOLockedValueBox<ZooKeeperClient>
    private let reconnect: @Sendable () throws -> ZooKeeperClient
    private let closed = NIOLockedValueBox(false)
    let logger: Logger

    struct State {
        var topics: [String: TopicMetadata] = [:]
        var leadership: [TopicPartition: PartitionLeadership] = [:]
        var brokers: [Int32: ClusterBroker] = [:]
        var controller: Int32?
        /// Topics already reported through `topicsChanged` (the cache may know a topic earlier: its own
        /// creations and read-throughs, which must still be announced once the child watch sees them).
        var announced: [String: TopicMetadata] = [:]
        /// `adding_replicas` / `removing_replicas` of the topic znodes: partitions being reassigned.
        var replicaChanges: [TopicPartition: (adding: [Int32], removing: [Int32])] = [:]
        /// The newest topic znode read or written per topic (its mzxid and assignment): an older read is
        /// stale. The controller reads replica sets from here, always consistent with `replicaChanges`.
        var topicSnapshots: [String: (zxid: Int64, topicId: String?, assignment: [[Int32]])] = [:]
    }

    /// What changed, for the broker (roles, logs) and the controller (elections).
    public enum Change: Sendable {
        case topicsChanged(added: [TopicMetadata], removed: [TopicMetadata])
        case leadershipChanged(TopicPartition, PartitionLeadership)
        case brokersChanged(live: Set<Int32>)
        case controllerChanged(Int32?)
        case sessionExpired
        /// `/admin/preferred_replica_election` appeared (or changed): for the controller.
        case preferredReplicaElectionRequested
        /// A new session replaced an expired one: ephemeral nodes (registration, /controller) must be recreated.
        case sessionReestablished
        /// `/admin/reassign_partitions` appeared: for the controller.
        case partitionReassignmentRequested
        /// Children of `/admin/delete_topics` changed: for the controller (topic deletion).
        case topicDeletionRequested
        /// Children of `/isr_change_notification` changed: for the controller (leaders changed ISRs).
        case isrChangeNotified
        /// Children of `/config/changes` changed: every broker reloads dynamic broker configs.
        case configChangeNotified
    }

    let state = NIOLockedValueBox(State())
    private let listeners = NIOLockedValueBox<[@Sendable (Change) -> Void]>([])

    /// `connect` opens a session; it is called again after a session expiry.
    public init(connect: @escaping @Sendable () throws -> ZooKeeperClient, logger: Logger) throws {
        let zk = try connect()
        self.client = NIOLockedValueBox(zk)
        self.reconnect = connect
        self.logger = logger
        for path in KafkaZNodes.persistentPaths { try zk.createRecursivelyBlocking(path) }
        subscribe(zk)
        reloadAll()
    }

    /// Ends the session (ephemeral nodes go at once) and stops reconnecting.
    public func close() {
        closed.withLockedValue { $0 = true }
        zk.close()
    }

    private func subscribe(_ zk: ZooKeeperClient) {
        zk.onEvent { [weak self, weak zk] event in
            guard let self, let zk, zk === self.zk else { return }  // events of a replaced session are stale
            self.handle(event)
        }
    }

    private func reloadAll() {
        watchPreferredReplicaElection()
        watchReassignPartitions()
        watchChildren(KafkaZNodes.deleteTopics)
        watchChildren(KafkaZNodes.isrChangeNotification)
        watchChildren(KafkaZNodes.configChanges)
        reloadBrokers()
        reloadController()
        reloadTopicList()
        // Re-arm the topic watches of every known topic (a new session has none) and read the partition states.
        for t in allTopics() {
            _ = try? readTopic(t.name, watch: true)
            for p in 0..<t.partitionCount { reloadLeadership(TopicPartition(topic: t.name, partition: Int32(p))) }
        }
    }

    /// Session expired: connect anew (retrying each second), swap the client, re-read and re-watch everything,
    /// then tell the broker and the controller to recreate their ephemeral nodes.
    private func renewSession() {
        while !closed.withLockedValue({ $0 }) {
            do {
                let fresh = try reconnect()
                let old = client.withLockedValue { c in defer { c = fresh }; return c }
                old.close()
                subscribe(fresh)
                logger.notice("new ZooKeeper session 0x\(String(fresh.sessionId, radix: 16)) after expiry")
                reloadAll()
                publish(.sessionReestablished)
                return
            } catch {
                logger.warning("cannot open a new ZooKeeper session: \(error); retrying")
                sleep(1)
            }
        }
    }

    public func onChange(_ listener: @escaping @Sendable (Change) -> Void) { listeners.withLockedValue { $0.append(listener) } }

    func publish(_ change: Change) {
        for l in listeners.withLockedValue({ $0 }) { l(change) }
    }

    // MARK: Cluster id

    /// The cluster id in `/cluster/id`; the first broker writes `proposed`.
    public func clusterId(proposing proposed: String) throws -> String {
        let node = ZNodeJSON.encode(ClusterIdZNode(id: proposed))
        do {
            let _: String = try zk.blocking { zk.create(KafkaZNodes.clusterId, data: node, mode: .persistent, completion: $0) }
            return proposed
        } catch let e as ZooKeeperError where e.isNodeExists {
            let (data, _) = try zk.blocking { zk.get(KafkaZNodes.clusterId, watch: false, completion: $0) }
            guard let id = ZNodeJSON.decode(ClusterIdZNode.self, data)?.id else {
                throw BrokerError.metadata("\(KafkaZNodes.clusterId) holds no cluster id")
            }
            return id
        }
    }

    // MARK: MetadataStore

    public func allTopics() -> [TopicMetadata] {
        state.withLockedValue { Array($0.topics.values) }.sorted { $0.name < $1.name }
    }

    public func topic(named name: String) -> TopicMetadata? {
        if let t = state.withLockedValue({ $0.topics[name] }) { return t }
        // Read through: created on another broker and our child watch has not fired yet.
        guard let t = try? readTopic(name) else { return nil }
        state.withLockedValue { $0.topics[name] = t }
        return t
    }

    public func topic(id: KafkaUUID) -> TopicMetadata? {
        let s = id.description
        return state.withLockedValue { $0.topics.values.first { $0.topicId == s } }
    }

    public func create(_ topic: TopicMetadata) throws -> Bool {
        let assignment = ZNodeJSON.encode(TopicZNode(assignment: topic.assignment, topicId: topic.topicId))
        let config = ZNodeJSON.encode(ConfigZNode(config: topic.configs))
        do {
            // Config first, as Kafka writes it, and both in one transaction so no reader sees half a topic.
            try zk.blocking {
                zk.multi([
                    .create(KafkaZNodes.topicConfig(topic.name), config, .persistent),
                    .create(KafkaZNodes.topic(topic.name), assignment, .persistent),
                ], completion: $0)
            }
        } catch let e as ZooKeeperError where e.isNodeExists {
            return false
        }
        state.withLockedValue { $0.topics[topic.name] = topic }
        return true
    }

    public func update(_ topic: TopicMetadata) throws {
        let assignment = ZNodeJSON.encode(topicZNode(topic))  // keeps a running reassignment's fields
        let config = ZNodeJSON.encode(ConfigZNode(config: topic.configs))
        try zk.blocking {
            zk.multi([
                .set(KafkaZNodes.topicConfig(topic.name), config, version: -1),
                .set(KafkaZNodes.topic(topic.name), assignment, version: -1),
            ], completion: $0)
        }
        state.withLockedValue { $0.topics[topic.name] = topic }
    }

    /// Deletes the topic's znodes: the controller's last step of a topic deletion (ClusterController+TopicDeletion),
    /// once every replica has deleted its log. The name may come back at once as a new topic, so it is no longer
    /// counted as announced.
    public func delete(named name: String) throws -> TopicMetadata? {
        guard let existing = topic(named: name) else { return nil }
        try zk.deleteRecursivelyBlocking(KafkaZNodes.topic(name))
        try zk.deleteRecursivelyBlocking(KafkaZNodes.topicConfig(name))
        state.withLockedValue { s in
            s.topics[name] = nil
            s.announced[name] = nil
            for p in 0..<existing.partitionCount { s.leadership[TopicPartition(topic: name, partition: Int32(p))] = nil }
        }
        return existing
    }

    public func liveBrokers() -> [Int32: ClusterBroker]? { state.withLockedValue { $0.brokers } }
    public func leadership(of tp: TopicPartition) -> PartitionLeadership? { state.withLockedValue { $0.leadership[tp] } }
    public func controllerId() -> Int32? { state.withLockedValue { $0.controller } }

    // MARK: Writes used by the controller and the broker

    /// Creates a partition's state znode (and its parents); false when it already exists.
    func createLeadership(_ tp: TopicPartition, _ l: PartitionLeadership) throws -> Bool {
        try zk.createRecursivelyBlocking(KafkaZNodes.partition(tp.topic, tp.partition))
        let data = ZNodeJSON.encode(PartitionStateZNode(
            controllerEpoch: l.controllerEpoch, leader: l.leader, leaderEpoch: l.leaderEpoch, isr: l.isr))
        do {
            let _: String = try zk.blocking {
                zk.create(KafkaZNodes.partitionState(tp.topic, tp.partition), data: data, mode: .persistent, completion: $0)
            }
        } catch let e as ZooKeeperError where e.isNodeExists {
            return false
        }
        var stored = l
        stored.zkVersion = 0
        state.withLockedValue { $0.leadership[tp] = stored }
        // The watch that follows finds the cache current, so this broker's own listeners hear it now.
        publish(.leadershipChanged(tp, stored))
        return true
    }

    /// Conditional update on `l.zkVersion`; false when someone else wrote the state first (re-read and retry).
    func updateLeadership(_ tp: TopicPartition, _ l: PartitionLeadership) throws -> Bool {
        let data = ZNodeJSON.encode(PartitionStateZNode(
            controllerEpoch: l.controllerEpoch, leader: l.leader, leaderEpoch: l.leaderEpoch, isr: l.isr))
        do {
            let stat: ZNodeStat = try zk.blocking {
                zk.set(KafkaZNodes.partitionState(tp.topic, tp.partition), data: data, version: l.zkVersion, completion: $0)
            }
            var stored = l
            stored.zkVersion = stat.version
            state.withLockedValue { $0.leadership[tp] = stored }
            publish(.leadershipChanged(tp, stored))
            return true
        } catch let e as ZooKeeperError where e.isBadVersion {
            return false
        }
    }

    // MARK: Watches

    private func handle(_ event: ZooKeeperEvent) {
        switch event {
        case .nodeChildrenChanged(KafkaZNodes.brokerIds): reloadBrokers()
        case .nodeChildrenChanged(KafkaZNodes.brokerTopics): reloadTopicList()
        case .nodeCreated(KafkaZNodes.controller), .nodeDeleted(KafkaZNodes.controller),
             .nodeDataChanged(KafkaZNodes.controller):
            reloadController()
        case .nodeCreated(KafkaZNodes.preferredReplicaElection), .nodeDataChanged(KafkaZNodes.preferredReplicaElection):
            watchPreferredReplicaElection()
            publish(.preferredReplicaElectionRequested)
        case .nodeDeleted(KafkaZNodes.preferredReplicaElection):
            watchPreferredReplicaElection()
        case .nodeCreated(KafkaZNodes.reassignPartitions):
            watchReassignPartitions()
            publish(.partitionReassignmentRequested)
        case .nodeDataChanged(KafkaZNodes.reassignPartitions), .nodeDeleted(KafkaZNodes.reassignPartitions):
            watchReassignPartitions()  // Kafka acts on the node's creation only; the controller rewrites it
        case .nodeDataChanged(let path) where Self.topicFromPath(path) != nil:
            reloadTopic(Self.topicFromPath(path)!)
        case .nodeChildrenChanged(KafkaZNodes.deleteTopics):
            watchChildren(KafkaZNodes.deleteTopics)
            publish(.topicDeletionRequested)
        case .nodeChildrenChanged(KafkaZNodes.isrChangeNotification):
            watchChildren(KafkaZNodes.isrChangeNotification)
            publish(.isrChangeNotified)
        case .nodeChildrenChanged(KafkaZNodes.configChanges):
            watchChildren(KafkaZNodes.configChanges)
            publish(.configChangeNotified)
        case .sessionExpired:
            logger.error("ZooKeeper session expired: this broker's registration and the controller role are gone")
            publish(.sessionExpired)
            renewSession()
        default: break
        }
    }

    private func watchChildren(_ path: String) {
        _ = try? zk.blocking { zk.children(path, watch: true, completion: $0) }
    }

    private func watchPreferredReplicaElection() {
        _ = try? zk.blocking { zk.exists(KafkaZNodes.preferredReplicaElection, watch: true, completion: $0) }
    }

    /// `/brokers/topics/<t>` -> t
    static func topicFromPath(_ path: String) -> String? {
        let parts = path.split(separator: "/")
        guard parts.count == 3, parts[0] == "brokers", parts[1] == "topics" else { return nil }
        return String(parts[2])
    }

    /// A topic's assignment changed (CreatePartitions, a reassignment): the topic is announced again, so replicas
    /// create the new logs (or drop the ones they no longer host) and the controller elects first leaders.
    private func reloadTopic(_ name: String) {
        guard var t = try? readTopic(name, watch: true) else { return }
        let grown = state.withLockedValue { s -> Bool in
            guard s.announced[name] != nil else { return false }
            let before = s.announced[name]!.assignment
            // A write (the controller's) may have landed since the read: never go back to an older assignment.
            if let newest = s.topicSnapshots[name], newest.topicId == t.topicId, newest.assignment.count >= t.partitionCount {
                t.assignment = newest.assignment
            }
            s.topics[name] = t
            s.announced[name] = t
            return t.assignment != before
        }
        guard grown else { return }
        for p in 0..<t.partitionCount { reloadLeadership(TopicPartition(topic: name, partition: Int32(p))) }
        publish(.topicsChanged(added: [t], removed: []))
    }

    static func partitionFromStatePath(_ path: String) -> TopicPartition? {
        let parts = path.split(separator: "/")
        // brokers/topics/<t>/partitions/<p>/state
        guard parts.count == 6, parts[0] == "brokers", parts[1] == "topics", parts[3] == "partitions",
              parts[5] == "state", let p = Int32(parts[4]) else { return nil }
        return TopicPartition(topic: String(parts[2]), partition: p)
    }

    private func reloadBrokers() {
        guard let ids: [String] = try? zk.blocking({ zk.children(KafkaZNodes.brokerIds, watch: true, completion: $0) }) else { return }
        var brokers: [Int32: ClusterBroker] = [:]
        for s in ids {
            guard let id = Int32(s),
                  let (data, stat) = try? zk.blocking({ zk.get(KafkaZNodes.broker(id), watch: false, completion: $0) }),
                  let reg = ZNodeJSON.decode(BrokerRegistration.self, data) else { continue }
            var endpoints: [String: (host: String, port: Int)] = [:]
            for e in reg.parsedEndpoints { endpoints[e.listenerName] = (e.host, e.port) }
            brokers[id] = ClusterBroker(id: id, rack: reg.rack, endpoints: endpoints, epoch: stat.czxid)
        }
        state.withLockedValue { $0.brokers = brokers }
        publish(.brokersChanged(live: Set(brokers.keys)))
    }

    private func reloadController() {
        var id: Int32?
        do {
            let (data, _) = try zk.blocking { zk.get(KafkaZNodes.controller, watch: true, completion: $0) }
            id = ZNodeJSON.decode(ControllerZNode.self, data)?.brokerid
        } catch {
            // Absent: watch for its creation.
            _ = try? zk.blocking { zk.exists(KafkaZNodes.controller, watch: true, completion: $0) }
        }
        state.withLockedValue { $0.controller = id }
        publish(.controllerChanged(id))
    }

    private func reloadTopicList() {
        guard let names: [String] = try? zk.blocking({ zk.children(KafkaZNodes.brokerTopics, watch: true, completion: $0) }) else { return }
        let (known, announced) = state.withLockedValue { ($0.topics, $0.announced) }
        var added: [TopicMetadata] = []
        var current: [String: TopicMetadata] = [:]
        for name in names {
            let isNew = announced[name] == nil
            // First sight of a topic: (re-)read it with a data watch, for later partition additions.
            guard let t = isNew ? ((try? readTopic(name, watch: true)) ?? known[name]) : (known[name] ?? (try? readTopic(name, watch: true)))
            else { continue }
            current[name] = t
            if isNew { added.append(t) }
        }
        let removed = announced.values.filter { current[$0.name] == nil }
        state.withLockedValue { s in
            s.topics = current
            s.announced = current
            for t in removed { for p in 0..<t.partitionCount { s.leadership[TopicPartition(topic: t.name, partition: Int32(p))] = nil } }
        }
        // Watch every partition state of every new topic (including ones this broker created itself).
        for t in added {
            for p in 0..<t.partitionCount { reloadLeadership(TopicPartition(topic: t.name, partition: Int32(p))) }
        }
        if !added.isEmpty || !removed.isEmpty { publish(.topicsChanged(added: added, removed: Array(removed))) }
    }

    private func readTopic(_ name: String, watch: Bool = false) throws -> TopicMetadata? {
        let (data, stat) = try zk.blocking { zk.get(KafkaZNodes.topic(name), watch: watch, completion: $0) }
        guard let node = ZNodeJSON.decode(TopicZNode.self, data), let assignment = node.assignment else {
            logger.warning("ignoring \(KafkaZNodes.topic(name)): not a topic assignment Tern understands")
            return nil
        }
        // A watch's read can come after this broker's own newer write: keep the newer.
        guard cacheReplicaChanges(of: name, node, zxid: stat.mzxid) else { return state.withLockedValue { $0.topics[name] } }
        var configs: [String: String] = [:]
        if let (cdata, _) = try? zk.blocking({ zk.get(KafkaZNodes.topicConfig(name), watch: false, completion: $0) }),
           let c = ZNodeJSON.decode(ConfigZNode.self, cdata) {
            configs = c.config
        }
        return TopicMetadata(
            name: name, topicId: node.topicId ?? KafkaUUID.random().description, assignment: assignment,
            configs: configs, isInternal: name.hasPrefix("__"))
    }

    /// Re-reads a partition state the controller lost a conditional write on (a leader changed the ISR first) or
    /// that an ISR change notification names. Not published: the controller reads it from the cache.
    func refreshLeadership(_ tp: TopicPartition) {
        let path = KafkaZNodes.partitionState(tp.topic, tp.partition)
        guard let (data, stat) = try? zk.blocking({ zk.get(path, watch: false, completion: $0) }),
              let node = ZNodeJSON.decode(PartitionStateZNode.self, data) else { return }
        let l = PartitionLeadership(
            leader: node.leader, leaderEpoch: node.leaderEpoch, isr: node.isr,
            controllerEpoch: node.controllerEpoch, zkVersion: stat.version)
        state.withLockedValue { s in if s.topics[tp.topic] != nil { s.leadership[tp] = l } }
    }

    /// Reads a partition state into the cache. State znodes are not watched: the controller writes them (and
    /// learns of leaders' ISR changes from /isr_change_notification); brokers learn them from LeaderAndIsr and
    /// UpdateMetadata.
    private func reloadLeadership(_ tp: TopicPartition) {
        let path = KafkaZNodes.partitionState(tp.topic, tp.partition)
        do {
            let (data, stat) = try zk.blocking { zk.get(path, watch: false, completion: $0) }
            guard let node = ZNodeJSON.decode(PartitionStateZNode.self, data) else { return }
            let l = PartitionLeadership(
                leader: node.leader, leaderEpoch: node.leaderEpoch, isr: node.isr,
                controllerEpoch: node.controllerEpoch, zkVersion: stat.version)
            let changed = state.withLockedValue { s -> Bool in
                guard s.topics[tp.topic] != nil else { return false }
                defer { s.leadership[tp] = l }
                return s.leadership[tp] != l
            }
            if changed { publish(.leadershipChanged(tp, l)) }
        } catch let e as ZooKeeperError where e.isNoNode {
            // Not elected yet: the controller creates it.
        } catch {
            logger.warning("cannot read \(path): \(error)")
        }
    }
}
