import Dispatch
import FoundationEssentials
import Logging
import NIOConcurrencyHelpers
import TernCluster
import TernStorage

/// Kafka's controller, ZooKeeper style: every broker runs for `/controller` (an ephemeral znode, so it is
/// released when the winner's session ends); the winner bumps `/controller_epoch` and from then on
///   - gives every new partition its first leader (the first live replica of its assignment) and ISR,
///   - when brokers disappear from `/brokers/ids`, removes them from ISRs and elects a new leader from the live
///     ISR (assignment order), bumping the leader epoch; with no live ISR member the partition goes offline
///     (leader -1, ISR kept) unless `unclean.leader.election.enable` (topic, else broker) lets any live replica lead,
///   - when an ISR member of an offline partition returns, makes it leader again.
/// Every write of partition state is conditional on the znode version read, so a stale controller (or a leader
/// changing its ISR at the same moment) cannot overwrite a newer decision; a lost race re-runs on the next event.
/// Brokers learn their roles from LeaderAndIsr and the cluster from UpdateMetadata, sent after every decision
/// (ClusterController+Propagation.swift, ControllerChannel.swift); leaders' own ISR changes come back through
/// /isr_change_notification (ClusterController+IsrChanges.swift); topic deletion is
/// ClusterController+TopicDeletion.swift. Every piece of work on the queue ends with `propagate()`.
/// Elections on demand (ElectLeaders, preferred replica election, rebalance, controlled shutdown) live in
/// ClusterController+Elections.swift.
/// All work runs on one serial queue.
final class ClusterController: @unchecked Sendable {  // `active`/`epoch` only touched on `queue`
    let store: ZooKeeperMetadataStore
    let brokerId: Int32
    let logger: Logger
    let settings: ControllerSettings
    let queue = DispatchQueue(label: "tern.controller")
    var active = false
    var epoch: Int32 = 0
    /// Brokers that asked for a controlled shutdown and are still registered: never elected, left out of ISRs.
    var shuttingDown: Set<Int32> = []
    /// How to reach a broker (set by the broker before `start`).
    var connector: (@Sendable (Int32) async throws -> BrokerLink)?
    /// The listener whose endpoints LeaderAndIsr names as live leaders.
    var interBrokerListener = "PLAINTEXT"
    /// One channel per live broker while active.
    var channels: [Int32: ControllerChannel] = [:]
    /// Partitions whose state was written since the last `propagate()`, and those among them just created.
    var changed: Set<TopicPartition> = []
    var created: Set<TopicPartition> = []
    /// Topics being deleted: the replicas (broker, partition) that have not yet acknowledged StopReplica.
    var deletions: [String: Set<ReplicaRef>] = [:]

    init(store: ZooKeeperMetadataStore, brokerId: Int32, settings: ControllerSettings = .init(), logger: Logger) {
        self.store = store
        self.brokerId = brokerId
        self.settings = settings
        self.logger = logger
    }

    func start() {
        store.onChange { [weak self] change in
            guard let self else { return }
            self.queue.async {
                self.handle(change)
                self.propagate()
            }
        }
        queue.async {
            self.elect()
            self.propagate()
        }
        scheduleRebalanceCheck()
    }

    /// For tests and the Metadata API: whether this broker is the active controller.
    var isActive: Bool { queue.sync { active } }

    private func handle(_ change: ZooKeeperMetadataStore.Change) {
        switch change {
        case .controllerChanged(let id):
            if id == nil { elect() } else if id != brokerId && active {
                logger.warning("controller role lost to broker \(id!)")
                resign()
            }
        case .brokersChanged(let live):
            shuttingDown.formIntersection(live)
            if active {
                syncBrokers()
                reconcile()
                retryPartitionReassignments()
            }
        case .topicsChanged:
            if active { reconcile() }
        case .topicDeletionRequested:
            if active { handleTopicDeletions() }
        case .isrChangeNotified:
            if active {
                handleIsrChangeNotifications()
                retryPartitionReassignments()  // new replicas in the ISR complete a move
            }
        case .configChangeNotified:
            break
        case .preferredReplicaElectionRequested:
            if active { handlePreferredReplicaElectionZNode() }
        case .leadershipChanged:
            break
        case .partitionReassignmentRequested:
            if active { handleReassignPartitionsZNode() }
        case .sessionExpired:
            if active { logger.warning("controller role lost with the ZooKeeper session") }
            resign()
        case .sessionReestablished:
            elect()
        }
    }

    private func elect() {
        let node = ZNodeJSON.encode(ControllerZNode(brokerId: brokerId))
        do {
            try store.zk.createEphemeralBlocking(KafkaZNodes.controller, data: node)
        } catch {
            return  // someone else won (or ZooKeeper is away); the /controller watch brings us back here
        }
        do {
            epoch = try bumpControllerEpoch()
        } catch {
            logger.error("won /controller but cannot bump /controller_epoch: \(error); resigning")
            try? store.zk.blocking { store.zk.delete(KafkaZNodes.controller, version: -1, completion: $0) }
            return
        }
        active = true
        logger.info("broker \(brokerId) is the controller (epoch \(epoch))")
        // Kafka's onControllerFailover: the partition states as ZooKeeper has them, every broker told, then the
        // pending work (ISR changes, deletions, elections) taken up.
        for topic in store.allTopics() {
            for p in 0..<topic.partitionCount { store.refreshLeadership(TopicPartition(topic: topic.name, partition: Int32(p))) }
        }
        syncBrokers(all: true)
        handleIsrChangeNotifications()
        reconcile()
        handleTopicDeletions()
        handlePreferredReplicaElectionZNode()
        resumePartitionReassignments()
    }

    private func resign() {
        active = false
        deletions = [:]
        stopChannels()
    }

    private func bumpControllerEpoch() throws -> Int32 {
        let zk = store.zk
        while true {
            do {
                let (data, stat) = try zk.blocking { zk.get(KafkaZNodes.controllerEpoch, watch: false, completion: $0) }
                let next = (Int32(String(decoding: data, as: UTF8.self)) ?? 0) + 1
                do {
                    _ = try zk.blocking { zk.set(KafkaZNodes.controllerEpoch, data: Array(String(next).utf8), version: stat.version, completion: $0) }
                    return next
                } catch let e as ZooKeeperError where e.isBadVersion { continue }
            } catch let e as ZooKeeperError where e.isNoNode {
                do {
                    let _: String = try zk.blocking { zk.create(KafkaZNodes.controllerEpoch, data: Array("1".utf8), mode: .persistent, completion: $0) }
                    return 1
                } catch let e as ZooKeeperError where e.isNodeExists { continue }
            }
        }
    }

    /// Brings every partition's state in line with the live brokers.
    func reconcile() {
        let live = Set((store.liveBrokers() ?? [:]).keys).subtracting(shuttingDown)
        logger.debug("reconciling \(store.allTopics().count) topic(s) over live brokers \(live.sorted())")
        for topic in store.allTopics() where deletions[topic.name] == nil {
            for (index, replicas) in topic.assignment.enumerated() {
                let tp = TopicPartition(topic: topic.name, partition: Int32(index))
                // A lost race (a leader wrote its ISR first) re-reads the state; try again with it.
                for _ in 0..<3 {
                    if reconcile(tp, topic: topic, replicas: replicas, live: live) { break }
                }
            }
        }
    }

    /// One partition; false when a conditional write lost a race and the state was re-read.
    private func reconcile(_ tp: TopicPartition, topic: TopicMetadata, replicas: [Int32], live: Set<Int32>) -> Bool {
        do {
            if let current = store.leadership(of: tp) {
                let unclean = uncleanElectionEnabled(topic)
                guard let next = Self.nextLeadership(current, replicas: replicas, live: live, controllerEpoch: epoch, unclean: unclean) else { return true }
                if try writeLeadership(tp, next) {
                    if next.leader >= 0 && !current.isr.contains(next.leader) {
                        logger.warning("\(tp): UNCLEAN leader election: broker \(next.leader) was not in the ISR \(current.isr); records acknowledged by the old ISR may be lost (unclean.leader.election.enable=true)")
                    }
                    logger.info("\(tp): leader \(current.leader) -> \(next.leader), epoch \(next.leaderEpoch), isr \(next.isr)")
                } else {
                    logger.info("\(tp): state changed under the controller; re-read")
                    return false
                }
            } else {
                let liveReplicas = replicas.filter(live.contains)
                guard let leader = liveReplicas.first else { return true }
                let first = PartitionLeadership(leader: leader, leaderEpoch: 0, isr: liveReplicas, controllerEpoch: epoch, zkVersion: 0)
                if try createLeadership(tp, first) {
                    logger.info("\(tp): first leader \(leader), isr \(liveReplicas)")
                } else {
                    return false
                }
            }
        } catch {
            logger.error("\(tp): cannot write partition state: \(error)")
        }
        return true
    }

    /// The controller's election rule (pure, for tests): nil when nothing needs to change.
    /// With `unclean` (unclean.leader.election.enable) and no live ISR member, the first live replica leads alone:
    /// the partition is available again at the price of whatever the old ISR had that it lacks.
    static func nextLeadership(
        _ current: PartitionLeadership, replicas: [Int32], live: Set<Int32>, controllerEpoch: Int32, unclean: Bool = false
    ) -> PartitionLeadership? {
        let liveIsr = current.isr.filter(live.contains)
        var next = current
        if current.leader < 0 || !live.contains(current.leader) {
            if let leader = replicas.first(where: liveIsr.contains) {
                next.leader = leader
                next.isr = liveIsr
            } else if unclean, let leader = replicas.first(where: live.contains) {
                next.leader = leader
                next.isr = [leader]
            } else {
                // No clean choice: offline, keeping the last ISR so its members can lead when they return.
                next.leader = -1
            }
        } else if liveIsr != current.isr {
            next.isr = liveIsr
        }
        guard next.leader != current.leader || next.isr != current.isr else { return nil }
        next.leaderEpoch = current.leaderEpoch + 1
        next.controllerEpoch = controllerEpoch
        return next
    }
}
