#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import FoundationEssentials
import Logging
import NIOConcurrencyHelpers
import NIOCore
import TernCluster
import TernNetwork
import TernStorage

/// Cluster membership of a broker with `zookeeper.connect`: its ephemeral registration in `/brokers/ids`, its run
/// for controller, and the roles the controller gives it with LeaderAndIsr (API/LeaderAndIsr.swift; the partition
/// state znodes are the controller's, brokers do not watch them). Without ZooKeeper all of this is a no-op and the
/// broker leads every partition it hosts.
extension Broker {
    var zooKeeperStore: ZooKeeperMetadataStore? { metadataStore as? ZooKeeperMetadataStore }

    static func connectZooKeeper(_ connect: String, config: BrokerConfig, logger: Logger) throws -> ZooKeeperMetadataStore {
        let sessionMs = config.raw["zookeeper.session.timeout.ms"].flatMap { Int64($0) } ?? 18000
        let connectMs = config.raw["zookeeper.connection.timeout.ms"].flatMap { Int64($0) } ?? sessionMs
        logger.info("connecting to ZooKeeper at \(connect) (session timeout \(sessionMs) ms)")
        return try ZooKeeperMetadataStore(connect: {
            try ZooKeeperClient.connectBlocking(
                connect, sessionTimeout: .milliseconds(sessionMs), connectionTimeout: .milliseconds(connectMs))
        }, logger: logger)
    }

    /// After the listeners are bound (the registration names the real ports): roles, registration, controller.
    func startCluster() throws {
        guard let store = zooKeeperStore, let controller else { return }
        store.onChange { [weak self] change in self?.applyClusterChange(change) }
        // No role until the controller's LeaderAndIsr: nothing is served or fetched from what is on disk, and
        // any leader epoch the controller sends is newer than -1.
        for partition in replicaManager.allPartitions {
            partition.setRole(leader: -1, leaderEpoch: -1, localBrokerId: brokerId)
        }
        reloadDynamicBrokerConfigs()
        controller.interBrokerListener = config.raw["inter.broker.listener.name"] ?? advertised.withLockedValue { $0.first?.name } ?? "PLAINTEXT"
        controller.connector = { [weak self] id in
            guard let self else { throw BrokerError.metadata("broker stopped") }
            return try await self.connectToBroker(id)
        }
        try register(store)
        controller.start()
        // Kafka checks for lagging followers every replica.lag.time.max.ms / 2.
        let lagMax = Int64(config.raw["replica.lag.time.max.ms"].flatMap { Int64($0) } ?? 30000)
        let every = TimeAmount.milliseconds(max(lagMax / 2, 100))
        let isrCheck = eventLoopGroup.any().scheduleRepeatedTask(initialDelay: every, delay: every) { [weak self] _ in
            self?.maintainIsr(lagMaxMs: lagMax)
        }
        clusterRuntime.tasks.withLockedValue { $0.append(isrCheck) }
    }

    func stopCluster() {
        clusterRuntime.stop()
        // Closing the session deletes the registration (and /controller if held) at once: the survivors react
        // now instead of after the session timeout.
        zooKeeperStore?.close()
    }

    private func register(_ store: ZooKeeperMetadataStore) throws {
        let listeners = advertised.withLockedValue { $0 }
        var protocols: [String: String] = [:]
        for l in listeners { protocols[l.name] = l.securityProtocol.rawValue }
        let registration = BrokerRegistration(
            endpoints: listeners.map { .init(listenerName: $0.name, host: $0.host, port: $0.port) },
            securityProtocols: protocols, rack: config.brokerRack)
        let data = ZNodeJSON.encode(registration)
        let zk = store.zk
        // After a kill -9 our previous session's node lingers until that session times out: wait it out.
        let deadline = Date().addingTimeInterval(Double(zk.negotiatedSessionTimeoutMs) / 1000 + 5)
        while true {
            do {
                let stat = try zk.createEphemeralWithStatBlocking(KafkaZNodes.broker(brokerId), data: data)
                metadataCache.brokerEpoch = stat.czxid
                logger.info("registered broker \(brokerId) at \(KafkaZNodes.broker(brokerId)) with endpoints \(registration.endpoints), broker epoch \(stat.czxid)")
                return
            } catch let e as ZooKeeperError where e.isNodeExists && Date() < deadline {
                logger.warning("\(KafkaZNodes.broker(brokerId)) is still held by an earlier session; waiting for it to expire")
                sleep(1)
            }
        }
    }

    /// The logs of a topic just created here: all of them alone; in a cluster none yet (each replica's log is
    /// created by the controller's LeaderAndIsr, with its role).
    func createLocalLogs(for topic: TopicMetadata) throws {
        if zooKeeperStore == nil { try replicaManager.createLogs(for: topic) }
    }

    /// The one place a role is applied (LeaderAndIsr, and a leader's own ISR change).
    func applyLeadership(_ partition: Partition, _ l: PartitionLeadership) {
        let was = partition.isLeader
        partition.setRole(leader: l.leader, leaderEpoch: l.leaderEpoch, isr: l.isr, zkVersion: l.zkVersion, localBrokerId: brokerId)
        if was != partition.isLeader {
            logger.info("\(partition.topicPartition): \(partition.isLeader ? "leader" : "follower of \(l.leader)") at epoch \(l.leaderEpoch), isr \(l.isr)")
        }
        if !partition.isLeader && l.leader >= 0 { ensureFetcher(for: l.leader) }
        purgatory.notify(.init(topic: partition.topicPartition.topic, partition: partition.topicPartition.partition))
        coordinatorPartitionRoleChanged(partition)
    }

    private func ensureFetcher(for leader: Int32) {
        let created = clusterRuntime.fetchers.withLockedValue { f -> ReplicaFetcher? in
            guard f[leader] == nil else { return nil }
            let fetcher = ReplicaFetcher(leaderId: leader)
            f[leader] = fetcher
            return fetcher
        }
        created?.start(broker: self)
    }

    /// Leader side: drops followers that stopped keeping up from the ISR and takes caught-up ones back,
    /// written to the partition's state znode conditionally on the version the leader last knew (a controller
    /// decision in between wins: its LeaderAndIsr follows), then announced to the controller through a
    /// sequential `/isr_change_notification/isr_change_` znode (Kafka's ZooKeeper-mode path).
    /// `only` one partition and `growOnly`: the fetch path's prompt expansion (Broker+IsrExpansion.swift).
    func maintainIsr(lagMaxMs: Int64, only: Partition? = nil, growOnly: Bool = false) {
        guard let store = zooKeeperStore else { return }
        let now = Broker.nowMs()
        var changedIsr: [TopicPartition] = []
        for partition in only.map({ [$0] }) ?? replicaManager.allPartitions where partition.isLeader {
            let tp = partition.topicPartition
            // A reassignment's removed replicas may stay in the ISR but not rejoin it (joinable = its target).
            let committed = metadataCache.leadership(of: tp)?.isr
            guard let topic = metadataStore.topic(named: tp.topic), Int(tp.partition) < topic.partitionCount,
                  let isr = partition.proposedIsr(
                    nowMs: now, lagMaxMs: lagMaxMs, replicas: topic.assignment[Int(tp.partition)],
                    joinable: store.replicaSet(of: tp)?.targetReplicas, committed: committed),
                  !growOnly || Set(isr).isStrictSuperset(of: committed ?? partition.inSyncReplicas)
            else { continue }
            let before = partition.inSyncReplicas
            let next = PartitionLeadership(
                leader: brokerId, leaderEpoch: partition.leaderEpoch, isr: isr,
                controllerEpoch: metadataCache.leadership(of: tp)?.controllerEpoch ?? metadataCache.controllerEpoch,
                zkVersion: partition.isrZkVersion)
            do {
                guard try store.updateLeadership(tp, next), let stored = store.leadership(of: tp) else {
                    logger.info("\(tp): ISR change to \(isr) lost to a newer partition state; waiting for the controller")
                    continue
                }
                logger.info("\(tp): ISR \(committed ?? before) -> \(isr)")  // before: already grown (maximal ISR)
                applyLeadership(partition, stored)
                metadataCache.updateIsr(tp, stored)
                changedIsr.append(tp)
            } catch {
                logger.warning("\(tp): cannot write ISR change: \(error)")
            }
        }
        guard !changedIsr.isEmpty else { return }
        let zk = store.zk
        let data = ZNodeJSON.encode(IsrChangeNotification(changedIsr))
        do {
            let _: String = try zk.blocking {
                zk.create(KafkaZNodes.isrChangePrefix, data: data, mode: .persistentSequential, completion: $0)
            }
        } catch {
            logger.warning("cannot write an ISR change notification: \(error)")
        }
    }

    private func applyClusterChange(_ change: ZooKeeperMetadataStore.Change) {
        switch change {
        case .topicsChanged(_, let removed):
            // Logs come and go with LeaderAndIsr / StopReplica; parked fetches of a deleted topic wake here.
            for t in removed {
                for p in 0..<t.partitionCount { purgatory.notify(.init(topic: t.name, partition: Int32(p))) }
            }
        case .configChangeNotified:
            reloadDynamicBrokerConfigs()
        case .leadershipChanged, .brokersChanged, .controllerChanged, .preferredReplicaElectionRequested,
             .partitionReassignmentRequested,
             .topicDeletionRequested, .isrChangeNotified:
            break
        case .sessionExpired:
            break
        case .sessionReestablished:
            guard let store = zooKeeperStore else { return }
            do { try register(store) } catch { logger.critical("cannot re-register after a session expiry: \(error)") }
        }
    }
}
