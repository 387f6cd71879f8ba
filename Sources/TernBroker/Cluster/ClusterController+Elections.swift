import Dispatch
import FoundationEssentials
import KafkaProtocol
import TernCluster
import TernStorage

/// What the controller reads from the broker configuration (Kafka's names and defaults).
struct ControllerSettings: Sendable {
    /// `unclean.leader.election.enable`: the broker default; a topic config of the same name overrides it.
    var uncleanLeaderElection = false
    /// `auto.leader.rebalance.enable`
    var autoLeaderRebalance = true
    /// `leader.imbalance.check.interval.seconds`
    var imbalanceCheckIntervalSeconds = 300
    /// `leader.imbalance.per.broker.percentage`
    var imbalancePerBrokerPercentage = 10

    init() {}

    init(raw: [String: String]) {
        if let v = raw["unclean.leader.election.enable"] { uncleanLeaderElection = v.lowercased() == "true" }
        if let v = raw["auto.leader.rebalance.enable"] { autoLeaderRebalance = v.lowercased() != "false" }
        if let v = raw["leader.imbalance.check.interval.seconds"].flatMap({ Int($0) }), v > 0 { imbalanceCheckIntervalSeconds = v }
        if let v = raw["leader.imbalance.per.broker.percentage"].flatMap({ Int($0) }), v >= 0 { imbalancePerBrokerPercentage = v }
    }
}

/// Elections on demand: ElectLeaders (preferred or unclean), the preferred replica election znode, the periodic
/// leader rebalance, and controlled shutdown. All run on the controller's queue, like every other decision.
extension ClusterController {
    enum ElectionType: Int8 { case preferred = 0, unclean = 1 }

    func uncleanElectionEnabled(_ topic: TopicMetadata) -> Bool {
        topic.configs["unclean.leader.election.enable"].map { $0.lowercased() == "true" } ?? settings.uncleanLeaderElection
    }

    /// ElectLeaders: per partition, NONE when the leader moved, or why not. `partitions` nil means all of them.
    func electLeaders(_ type: ElectionType, partitions: [TopicPartition]?) -> [TopicPartition: (ErrorCode, String?)] {
        queue.sync {
            var results: [TopicPartition: (ErrorCode, String?)] = [:]
            let targets = partitions ?? allPartitions()
            for tp in targets {
                guard active else { results[tp] = (.notController, "broker \(brokerId) is not the controller"); continue }
                results[tp] = elect(type, tp)
            }
            propagate()
            // An election for every partition reports only the ones that moved or failed for a reason other
            // than having nothing to do, as Kafka does.
            if partitions == nil { results = results.filter { $0.value.0 != .electionNotNeeded } }
            return results
        }
    }

    private func allPartitions() -> [TopicPartition] {
        store.allTopics().flatMap { t in (0..<t.partitionCount).map { TopicPartition(topic: t.name, partition: Int32($0)) } }
    }

    private func liveBrokerIds() -> Set<Int32> {
        Set((store.liveBrokers() ?? [:]).keys).subtracting(shuttingDown)
    }

    /// One election, on the controller queue.
    private func elect(_ type: ElectionType, _ tp: TopicPartition) -> (ErrorCode, String?) {
        guard let topic = store.topic(named: tp.topic), tp.partition >= 0, Int(tp.partition) < topic.partitionCount,
              let current = store.leadership(of: tp) else {
            return (.unknownTopicOrPartition, "no such partition")
        }
        let replicas = topic.assignment[Int(tp.partition)]
        let live = liveBrokerIds()
        var next = current
        switch type {
        case .preferred:
            guard let preferred = replicas.first else { return (.preferredLeaderNotAvailable, nil) }
            if current.leader == preferred { return (.electionNotNeeded, nil) }
            guard live.contains(preferred), current.isr.contains(preferred) else {
                return (.preferredLeaderNotAvailable, "preferred leader \(preferred) is not live and in the ISR \(current.isr)")
            }
            next.leader = preferred
        case .unclean:
            if current.leader >= 0 && live.contains(current.leader) { return (.electionNotNeeded, nil) }
            if let leader = replicas.first(where: { live.contains($0) && current.isr.contains($0) }) {
                next.leader = leader
                next.isr = current.isr.filter(live.contains)
            } else if let leader = replicas.first(where: live.contains) {
                next.leader = leader
                next.isr = [leader]
            } else {
                return (.eligibleLeadersNotAvailable, "no live replica of \(replicas)")
            }
        }
        next.leaderEpoch = current.leaderEpoch + 1
        next.controllerEpoch = epoch
        do {
            guard try writeLeadership(tp, next) else {
                return (.notController, "partition state changed concurrently; retry")
            }
        } catch {
            return (.brokerNotAvailable, "cannot write the partition state: \(error)")
        }
        if !current.isr.contains(next.leader) {
            logger.warning("\(tp): UNCLEAN leader election of broker \(next.leader), not in the ISR \(current.isr): records acknowledged by the old ISR may be lost")
        }
        logger.info("\(tp): \(type) election: leader \(current.leader) -> \(next.leader), epoch \(next.leaderEpoch), isr \(next.isr)")
        return (.none, nil)
    }

    // MARK: /admin/preferred_replica_election

    private struct PreferredElectionZNode: Decodable {
        struct Entry: Decodable { var topic: String; var partition: Int32 }
        var partitions: [Entry]?
    }

    /// On the queue, when active: elects the preferred leaders the znode lists (all partitions when it lists
    /// none), then deletes it, which is how the admin tool learns the request was taken.
    func handlePreferredReplicaElectionZNode() {
        let zk = store.zk
        guard let (data, _) = try? zk.blocking({ zk.get(KafkaZNodes.preferredReplicaElection, watch: false, completion: $0) }) else { return }
        let listed = ZNodeJSON.decode(PreferredElectionZNode.self, data)?.partitions
        let targets = listed.map { $0.map { TopicPartition(topic: $0.topic, partition: $0.partition) } } ?? allPartitions()
        logger.info("preferred replica election requested through \(KafkaZNodes.preferredReplicaElection) for \(targets.count) partition(s)")
        for tp in targets { _ = elect(.preferred, tp) }
        try? zk.blocking { zk.delete(KafkaZNodes.preferredReplicaElection, version: -1, completion: $0) }
    }

    // MARK: auto.leader.rebalance.enable

    func scheduleRebalanceCheck() {
        guard settings.autoLeaderRebalance else { return }
        queue.asyncAfter(deadline: .now() + .seconds(settings.imbalanceCheckIntervalSeconds)) { [weak self] in
            guard let self else { return }
            if self.active {
                self.rebalanceLeaders()
                self.propagate()
            }
            self.scheduleRebalanceCheck()
        }
    }

    /// Kafka's checkAndTriggerAutoLeaderRebalance: for each preferred leader, the share of its partitions led by
    /// someone else; above leader.imbalance.per.broker.percentage, those partitions whose preferred replica is
    /// live and in the ISR get it back as leader.
    func rebalanceLeaders() {
        let live = liveBrokerIds()
        var byPreferred: [Int32: [(TopicPartition, PartitionLeadership)]] = [:]
        for topic in store.allTopics() {
            for (i, replicas) in topic.assignment.enumerated() {
                let tp = TopicPartition(topic: topic.name, partition: Int32(i))
                guard let preferred = replicas.first, let l = store.leadership(of: tp) else { continue }
                byPreferred[preferred, default: []].append((tp, l))
            }
        }
        for (preferred, partitions) in byPreferred where live.contains(preferred) {
            let notLed = partitions.filter { $0.1.leader != preferred }
            guard !notLed.isEmpty else { continue }
            let ratio = Double(notLed.count) / Double(partitions.count)
            guard ratio * 100 > Double(settings.imbalancePerBrokerPercentage) else { continue }
            logger.info("leader imbalance of broker \(preferred): \(Int(ratio * 100))% of its preferred partitions led elsewhere; rebalancing")
            for (tp, l) in notLed where l.isr.contains(preferred) { _ = elect(.preferred, tp) }
        }
    }

    // MARK: Controlled shutdown

    /// ControlledShutdown: moves leadership of the partitions `id` leads to other live ISR members and takes it
    /// out of the ISRs of the rest, so neither new leaders nor acks=all wait on it. Returns the partitions it
    /// still leads (no other ISR member to take over); the broker retries or gives up and stops anyway.
    /// A `brokerEpoch` older than the broker's live registration is STALE_BROKER_EPOCH (the request comes from an
    /// earlier incarnation of it); -1 (ControlledShutdown v0-v1) is not checked, as in Kafka.
    func controlledShutdown(brokerId id: Int32, brokerEpoch: Int64 = ControlFence.unknownBrokerEpoch) -> (ErrorCode, [TopicPartition]) {
        queue.sync {
            guard active else { return (.notController, []) }
            guard let registered = store.liveBrokers()?[id] else { return (.brokerNotAvailable, []) }
            if ControlFence.isBrokerEpochStale(requestEpoch: brokerEpoch, current: registered.epoch) {
                logger.info("refusing controlled shutdown of broker \(id) at broker epoch \(brokerEpoch): its current epoch is \(registered.epoch)")
                return (.staleBrokerEpoch, [])
            }
            shuttingDown.insert(id)
            logger.info("controlled shutdown of broker \(id)")
            let live = liveBrokerIds()
            var remaining: [TopicPartition] = []
            for topic in store.allTopics() {
                for (i, replicas) in topic.assignment.enumerated() where replicas.contains(id) {
                    let tp = TopicPartition(topic: topic.name, partition: Int32(i))
                    guard let current = store.leadership(of: tp) else { continue }
                    var next = current
                    if current.leader == id {
                        guard let leader = replicas.first(where: { $0 != id && live.contains($0) && current.isr.contains($0) }) else {
                            remaining.append(tp)
                            continue
                        }
                        next.leader = leader
                        next.isr = current.isr.filter { $0 != id }
                    } else if current.isr.contains(id) && current.isr.count > 1 {
                        next.isr = current.isr.filter { $0 != id }
                    } else {
                        continue
                    }
                    next.leaderEpoch = current.leaderEpoch + 1
                    next.controllerEpoch = epoch
                    do {
                        if try writeLeadership(tp, next) {
                            logger.info("\(tp): controlled shutdown of \(id): leader \(current.leader) -> \(next.leader), isr \(next.isr)")
                        } else if current.leader == id {
                            remaining.append(tp)
                        }
                    } catch {
                        if current.leader == id { remaining.append(tp) }
                    }
                }
            }
            propagate()
            return (.none, remaining)
        }
    }
}
