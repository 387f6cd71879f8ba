import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import TernCluster
import TernNetwork
import TernStorage

/// Cluster membership of a broker with `zookeeper.connect`: its ephemeral registration in `/brokers/ids`, its run
/// for controller, and the roles it learns from the partition state znodes. Without ZooKeeper all of this is a
/// no-op and the broker leads every partition it hosts.
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
        for topic in store.allTopics() { adoptTopic(topic) }
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
                let _: String = try zk.blocking { zk.create(KafkaZNodes.broker(brokerId), data: data, mode: .ephemeral, completion: $0) }
                logger.info("registered broker \(brokerId) at \(KafkaZNodes.broker(brokerId)) with endpoints \(registration.endpoints)")
                return
            } catch let e as ZooKeeperError where e.isNodeExists && Date() < deadline {
                logger.warning("\(KafkaZNodes.broker(brokerId)) is still held by an earlier session; waiting for it to expire")
                Thread.sleep(forTimeInterval: 1)
            }
        }
    }

    /// The logs of a topic just created here: all of them alone; in a cluster only the partitions this broker
    /// replicates, each in the role the controller gave it (none yet: not leader, so nothing is accepted early).
    func createLocalLogs(for topic: TopicMetadata) throws {
        if zooKeeperStore == nil { try replicaManager.createLogs(for: topic) } else { adoptTopic(topic) }
    }

    /// A topic this broker replicates: its logs exist and each partition takes its current role.
    private func adoptTopic(_ topic: TopicMetadata) {
        do {
            _ = try replicaManager.ensureLogs(for: topic, brokerId: brokerId)
        } catch {
            logger.error("cannot create the logs of \(topic.name): \(error)")
        }
        for p in 0..<topic.partitionCount {
            let tp = TopicPartition(topic: topic.name, partition: Int32(p))
            guard let partition = replicaManager.partition(tp) else { continue }
            if let l = metadataStore.leadership(of: tp) {
                applyLeadership(partition, l)
            } else {
                partition.setRole(leader: -1, leaderEpoch: 0, localBrokerId: brokerId)
            }
        }
        stopUnassignedReplicas(of: topic)
    }

    private func applyLeadership(_ partition: Partition, _ l: PartitionLeadership) {
        let was = partition.isLeader
        partition.setRole(leader: l.leader, leaderEpoch: l.leaderEpoch, isr: l.isr, zkVersion: l.zkVersion, localBrokerId: brokerId)
        if was != partition.isLeader {
            logger.info("\(partition.topicPartition): \(partition.isLeader ? "leader" : "follower of \(l.leader)") at epoch \(l.leaderEpoch), isr \(l.isr)")
        }
        if !partition.isLeader && l.leader >= 0 { ensureFetcher(for: l.leader) }
        purgatory.notify(.init(topic: partition.topicPartition.topic, partition: partition.topicPartition.partition))
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
    /// written to the partition's state znode conditionally (a controller decision in between wins).
    func maintainIsr(lagMaxMs: Int64) {
        guard let store = zooKeeperStore else { return }
        let now = Broker.nowMs()
        for partition in replicaManager.allPartitions where partition.isLeader {
            let tp = partition.topicPartition
            guard let topic = metadataStore.topic(named: tp.topic), Int(tp.partition) < topic.partitionCount,
                  let current = store.leadership(of: tp), current.leader == brokerId,
                  let isr = partition.proposedIsr(
                    nowMs: now, lagMaxMs: lagMaxMs, replicas: topic.assignment[Int(tp.partition)],
                    joinable: store.replicaSet(of: tp)?.targetReplicas, committed: current.isr)
            else { continue }
            var next = current
            next.isr = isr
            do {
                if try store.updateLeadership(tp, next) {
                    logger.info("\(tp): ISR \(current.isr) -> \(isr)")
                }
            } catch {
                logger.warning("\(tp): cannot write ISR change: \(error)")
            }
        }
    }

    private func applyClusterChange(_ change: ZooKeeperMetadataStore.Change) {
        switch change {
        case .topicsChanged(let added, let removed):
            for t in added { adoptTopic(t) }
            for t in removed {
                do { try replicaManager.deleteLogs(of: t) } catch { logger.error("cannot delete the logs of \(t.name): \(error)") }
                for p in 0..<t.partitionCount { purgatory.notify(.init(topic: t.name, partition: Int32(p))) }
            }
        case .leadershipChanged(let tp, let l):
            guard let partition = replicaManager.partition(tp) else { return }
            applyLeadership(partition, l)
        case .brokersChanged, .controllerChanged, .preferredReplicaElectionRequested, .partitionReassignmentRequested:
            break
        case .sessionExpired:
            break
        case .sessionReestablished:
            guard let store = zooKeeperStore else { return }
            do { try register(store) } catch { logger.critical("cannot re-register after a session expiry: \(error)") }
        }
    }
}
