import Dispatch
import Foundation
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
/// Brokers learn their roles by watching the state znodes (no LeaderAndIsr requests yet).
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

    init(store: ZooKeeperMetadataStore, brokerId: Int32, settings: ControllerSettings = .init(), logger: Logger) {
        self.store = store
        self.brokerId = brokerId
        self.settings = settings
        self.logger = logger
    }

    func start() {
        store.onChange { [weak self] change in
            guard let self else { return }
            self.queue.async { self.handle(change) }
        }
        queue.async { self.elect() }
        scheduleRebalanceCheck()
    }

    /// For tests and the Metadata API: whether this broker is the active controller.
    var isActive: Bool { queue.sync { active } }

    private func handle(_ change: ZooKeeperMetadataStore.Change) {
        switch change {
        case .controllerChanged(let id):
            if id == nil { elect() } else if id != brokerId && active {
                logger.warning("controller role lost to broker \(id!)")
                active = false
            }
        case .brokersChanged(let live):
            shuttingDown.formIntersection(live)
            if active {
                reconcile()
                retryPartitionReassignments()
            }
        case .topicsChanged:
            if active { reconcile() }
        case .preferredReplicaElectionRequested:
            if active { handlePreferredReplicaElectionZNode() }
        case .leadershipChanged(let tp, _):
            if active { reassignmentIsrChanged(tp) }
        case .partitionReassignmentRequested:
            if active { handleReassignPartitionsZNode() }
        case .sessionExpired:
            if active { logger.warning("controller role lost with the ZooKeeper session") }
            active = false
        case .sessionReestablished:
            elect()
        }
    }

    private func elect() {
        let node = ZNodeJSON.encode(ControllerZNode(brokerId: brokerId))
        do {
            let _: String = try store.zk.blocking {
                store.zk.create(KafkaZNodes.controller, data: node, mode: .ephemeral, completion: $0)
            }
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
        reconcile()
        handlePreferredReplicaElectionZNode()
        resumePartitionReassignments()
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
        for topic in store.allTopics() {
            for (index, replicas) in topic.assignment.enumerated() {
                let tp = TopicPartition(topic: topic.name, partition: Int32(index))
                do {
                    if let current = store.leadership(of: tp) {
                        let unclean = uncleanElectionEnabled(topic)
                        guard let next = Self.nextLeadership(current, replicas: replicas, live: live, controllerEpoch: epoch, unclean: unclean) else { continue }
                        if try store.updateLeadership(tp, next) {
                            if next.leader >= 0 && !current.isr.contains(next.leader) {
                                logger.warning("\(tp): UNCLEAN leader election: broker \(next.leader) was not in the ISR \(current.isr); records acknowledged by the old ISR may be lost (unclean.leader.election.enable=true)")
                            }
                            logger.info("\(tp): leader \(current.leader) -> \(next.leader), epoch \(next.leaderEpoch), isr \(next.isr)")
                        } else {
                            logger.info("\(tp): state changed under the controller; retrying on the next event")
                        }
                    } else {
                        let liveReplicas = replicas.filter(live.contains)
                        guard let leader = liveReplicas.first else { continue }
                        let first = PartitionLeadership(leader: leader, leaderEpoch: 0, isr: liveReplicas, controllerEpoch: epoch, zkVersion: 0)
                        if try store.createLeadership(tp, first) {
                            logger.info("\(tp): first leader \(leader), isr \(liveReplicas)")
                        }
                    }
                } catch {
                    logger.error("\(tp): cannot write partition state: \(error)")
                }
            }
        }
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
