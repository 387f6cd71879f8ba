import FoundationEssentials
import KafkaProtocol
import TernCluster
import TernStorage

/// How the controller's decisions reach the brokers, as Kafka's ZooKeeper-mode controller sends them
/// (ControllerChannelManager / ControllerBrokerRequestBatch):
///   - every state written goes through `writeLeadership`/`createLeadership`, which remember the partition;
///   - `propagate()`, at the end of every piece of controller work, sends LeaderAndIsr with the changed states
///     (partitions that have a leader) to their live replicas and UpdateMetadata with them to every live broker;
///   - a broker that registers gets UpdateMetadata with every partition, then LeaderAndIsr for every partition
///     it replicates; the others get UpdateMetadata with the new live broker list;
///   - a new controller does the same for every live broker.
/// All of it runs on the controller's queue.
extension ClusterController {
    var header: ControllerRequests.Header { .init(controllerId: brokerId, controllerEpoch: epoch) }

    /// Conditional write of a partition state; remembered for `propagate()` when it succeeds. A lost race
    /// (someone wrote first: a leader changing its ISR) refreshes the cached state from ZooKeeper.
    func writeLeadership(_ tp: TopicPartition, _ next: PartitionLeadership) throws -> Bool {
        guard try store.updateLeadership(tp, next) else {
            store.refreshLeadership(tp)
            return false
        }
        changed.insert(tp)
        return true
    }

    func createLeadership(_ tp: TopicPartition, _ first: PartitionLeadership) throws -> Bool {
        guard try store.createLeadership(tp, first) else {
            store.refreshLeadership(tp)
            return false
        }
        changed.insert(tp)
        created.insert(tp)
        return true
    }

    /// The state of `tp` as the controller tells it, nil for an unknown partition or one with no state yet.
    func controlledPartition(_ tp: TopicPartition) -> ControlledPartition? {
        guard let topic = store.topic(named: tp.topic), tp.partition >= 0, Int(tp.partition) < topic.partitionCount,
              let l = store.leadership(of: tp) else { return nil }
        return ControlledPartition(
            tp: tp, topicId: topic.id, replicas: topic.assignment[Int(tp.partition)], leadership: l,
            isNew: created.contains(tp))
    }

    func allControlledPartitions() -> [ControlledPartition] {
        store.allTopics().flatMap { t in
            (0..<t.partitionCount).compactMap { controlledPartition(TopicPartition(topic: t.name, partition: Int32($0))) }
        }
    }

    /// Sends what the decisions since the last call changed.
    func propagate() {
        guard active, !changed.isEmpty else { return }
        let partitions = changed.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }.compactMap(controlledPartition)
        changed = []
        created = []
        sendLeaderAndIsr(partitions.filter { $0.leadership.leader >= 0 }, to: nil)
        sendUpdateMetadata(partitions, to: Set(channels.keys))
    }

    /// LeaderAndIsr to every live replica of `partitions` (or only to `only`).
    func sendLeaderAndIsr(_ partitions: [ControlledPartition], to only: Set<Int32>?) {
        let live = Array((store.liveBrokers() ?? [:]).values)
        var perBroker: [Int32: [ControlledPartition]] = [:]
        for p in partitions {
            for r in p.replicas where channels[r] != nil && (only?.contains(r) ?? true) {
                perBroker[r, default: []].append(p)
            }
        }
        for (id, parts) in perBroker {
            channels[id]?.enqueue(.leaderAndIsr(ControllerRequests.leaderAndIsr(
                header, parts, liveLeaders: live, listener: interBrokerListener)))
        }
    }

    func sendUpdateMetadata(_ partitions: [ControlledPartition], to brokers: Set<Int32>) {
        let live = Array((store.liveBrokers() ?? [:]).values)
        let request = ControllerRequests.updateMetadata(header, partitions, live: live)
        for id in brokers { channels[id]?.enqueue(.updateMetadata(request)) }
    }

    /// StopReplica to the live brokers holding `replicas` (a replica moved away: `delete` true removes its log).
    /// `onAck` runs on the controller queue with the broker's answer.
    func sendStopReplica(_ replicas: [ReplicaRef], delete: Bool, onAck: (@Sendable (Int32, StopReplicaResponse) -> Void)? = nil) {
        var perBroker: [Int32: [(tp: TopicPartition, leaderEpoch: Int32)]] = [:]
        for ref in replicas where channels[ref.broker] != nil {
            let epoch = delete ? ControlFence.epochDuringDelete : (store.leadership(of: ref.tp)?.leaderEpoch ?? ControlFence.noEpoch)
            perBroker[ref.broker, default: []].append((ref.tp, epoch))
        }
        for (broker, parts) in perBroker {
            let request = ControllerRequests.stopReplica(header, parts, delete: delete)
            channels[broker]?.enqueue(.stopReplica(request, onAck: { [weak self] response in
                guard let self, let onAck else { return }
                self.queue.async { onAck(broker, response) }
            }))
        }
    }

    /// `/brokers/ids` changed (or this broker just became controller, `all` true): channels follow the live
    /// brokers; new ones are brought up to date (Kafka's onBrokerStartup), the rest learn the new broker list.
    func syncBrokers(all: Bool = false) {
        guard active else { return }
        let live = store.liveBrokers() ?? [:]
        let gone = Set(channels.keys).subtracting(live.keys)
        for id in gone { channels.removeValue(forKey: id)?.stop() }
        // Bounced (Kafka's name): registered again, with a newer epoch, since its channel was made (a restart or a
        // session expiry the child watch saw as one change). Its queued requests were for the old registration:
        // it starts over as a new broker.
        for (id, broker) in live {
            guard let channel = channels[id], channel.brokerEpoch != broker.epoch else { continue }
            logger.info("broker \(id) registered again (broker epoch \(channel.brokerEpoch) -> \(broker.epoch))")
            channels.removeValue(forKey: id)?.stop()
            shuttingDown.remove(id)  // the shutdown it asked for is over
        }
        var added: Set<Int32> = []
        for (id, broker) in live where channels[id] == nil {
            guard let connector else { break }
            channels[id] = ControllerChannel(brokerId: id, brokerEpoch: broker.epoch, logger: logger) { try await connector(id) }
            added.insert(id)
        }
        let fresh = all ? Set(channels.keys) : added
        if !gone.isEmpty || !added.isEmpty || all {
            let existing = Set(channels.keys).subtracting(fresh)
            if !existing.isEmpty { sendUpdateMetadata([], to: existing) }
        }
        guard !fresh.isEmpty else { return }
        let everything = allControlledPartitions()
        sendUpdateMetadata(everything, to: fresh)
        let deleting = topicsBeingDeleted
        sendLeaderAndIsr(everything.filter { $0.leadership.leader >= 0 && !deleting.contains($0.tp.topic) }, to: fresh)
        logger.info("brought broker(s) \(fresh.sorted()) up to date: \(everything.count) partition state(s)")
        resumeTopicDeletion(for: fresh)
    }

    /// Leaving the controller role: nothing more is sent.
    func stopChannels() {
        for c in channels.values { c.stop() }
        channels = [:]
        changed = []
        created = []
    }
}
