import FoundationEssentials
import KafkaProtocol
import TernCluster
import TernStorage

/// Partition reassignment, as Kafka's ZooKeeper-mode controller runs it (KIP-455), adding replicas before
/// removing any:
///   A. the topic znode gets RS = TRS + ORS with `adding_replicas` (TRS - ORS) and `removing_replicas`
///      (ORS - TRS); the leader epoch is bumped so LeaderAndIsr reaches every replica of RS: the new ones create
///      their logs and follow the leader, which takes them into the ISR once they have caught up;
///   B. when every target replica is in the ISR (learnt through /isr_change_notification), the leader moves to
///      the first live in-sync target replica if it is not a target itself, the removed replicas leave the ISR,
///      the topic znode gets RS = TRS, the removed replicas get StopReplica with delete (their logs go), every
///      broker gets UpdateMetadata, and the partition leaves `/admin/reassign_partitions`.
/// Cancelling (null replicas) goes straight to B with ORS as the target. Requests come from
/// AlterPartitionReassignments or from `/admin/reassign_partitions`; the API wins over the znode for a partition
/// both name. A new controller resumes moves recorded in topic znodes, then those still in the znode.
extension ClusterController {
    typealias ReassignmentResult = (code: ErrorCode, message: String?)

    /// AlterPartitionReassignments: per partition NONE or why not (target nil cancels); nil when this broker is
    /// not the controller.
    func alterPartitionReassignments(_ requests: [(TopicPartition, [Int32]?)]) -> [TopicPartition: ReassignmentResult]? {
        queue.sync {
            guard active else { return nil }
            var results: [TopicPartition: ReassignmentResult] = [:]
            for (tp, target) in requests { results[tp] = reassign(tp, to: target) }
            let accepted = Set(results.filter { $0.value.code == .none }.keys)
            if !accepted.isEmpty { store.removeFromReassignPartitions(accepted) }
            propagate()
            return results
        }
    }

    /// ListPartitionReassignments: the partitions being moved among `partitions` (all when nil); nil when this
    /// broker is not the controller.
    func listPartitionReassignments(_ partitions: [TopicPartition]?) -> [TopicPartition: PartitionReplicaSet]? {
        queue.sync {
            guard active else { return nil }
            let all = store.partitionsBeingReassigned()
            guard let partitions else { return all }
            return all.filter { partitions.contains($0.key) }
        }
    }

    /// On the queue, after ISR changes and when brokers come or go: moves whose target replicas are all in the
    /// ISR complete.
    func retryPartitionReassignments() {
        for tp in store.partitionsBeingReassigned().keys { maybeCompleteReassignment(tp) }
    }

    /// On the queue, when this broker becomes the controller.
    func resumePartitionReassignments() {
        for (tp, set) in store.partitionsBeingReassigned().sorted(by: { ($0.key.topic, $0.key.partition) < ($1.key.topic, $1.key.partition) }) {
            logger.info("\(tp): resuming the reassignment to \(set.targetReplicas)")
            fitLeadership(tp, within: set.replicas)
            maybeCompleteReassignment(tp)
        }
        handleReassignPartitionsZNode()
    }

    /// On the queue, when active: starts the moves `/admin/reassign_partitions` lists. Rejected ones and ones
    /// done at once leave the node; the rest leave it as they complete.
    func handleReassignPartitionsZNode() {
        guard let entries = store.reassignPartitionsRequest() else { return }
        logger.info("partition reassignment requested through \(KafkaZNodes.reassignPartitions) for \(entries.count) partition(s)")
        var done: Set<TopicPartition> = []
        for e in entries {
            let tp = TopicPartition(topic: e.topic, partition: e.partition)
            let result = reassign(tp, to: e.replicas)
            if result.code != .none {
                logger.warning("\(tp): reassignment to \(e.replicas) rejected: \(result.code) \(result.message ?? "")")
                done.insert(tp)
            } else if store.replicaSet(of: tp)?.isBeingReassigned != true {
                done.insert(tp)
            }
        }
        store.removeFromReassignPartitions(done)
    }

    // MARK: Steps

    private func liveForReassignment() -> Set<Int32> {
        Set((store.liveBrokers() ?? [:]).keys).subtracting(shuttingDown)
    }

    /// Validates and starts (or cancels) one partition's move, in Kafka's order of checks.
    private func reassign(_ tp: TopicPartition, to target: [Int32]?) -> ReassignmentResult {
        let current = store.replicaSet(of: tp) ?? PartitionReplicaSet(replicas: [])
        if let target, let rejection = ReassignmentRules.validate(target: target, current: current, live: liveForReassignment()) {
            return (rejection.code, rejection.message)
        }
        guard let next = current.reassignment(to: target) else { return (.noReassignmentInProgress, nil) }
        // Kafka skips a topic queued for deletion the same way.
        guard !current.replicas.isEmpty, deletions[tp.topic] == nil else {
            return (.unknownTopicOrPartition, "The partition does not exist.")
        }
        do {
            if next.isBeingReassigned {
                if next != current {
                    try store.writeReplicaSets(tp.topic, [tp.partition: next])
                    logger.info("\(tp): reassignment to \(next.targetReplicas) started: replicas \(next.replicas), adding \(next.addingReplicas), removing \(next.removingReplicas)")
                    stopReplicas(of: tp, dropped: current.replicas.filter { !next.replicas.contains($0) })
                }
                // Replicas that a superseded move was adding leave the ISR now they are not in RS; either way a
                // new leader epoch sends LeaderAndIsr with RS to every replica (the new ones start there).
                if fitLeadership(tp, within: next.replicas) == .unchanged { bumpLeaderEpoch(tp) }
                maybeCompleteReassignment(tp)
            } else {
                // Cancelled, or a target equal to the current replicas: the end state at once.
                guard try finish(tp, next.replicas) else {
                    return (.eligibleLeadersNotAvailable, "no live in-sync replica of \(next.replicas) can lead")
                }
            }
        } catch {
            logger.error("\(tp): cannot write the reassignment: \(error)")
            return (.unknownServerError, nil)
        }
        return (.none, nil)
    }

    private func maybeCompleteReassignment(_ tp: TopicPartition) {
        guard deletions[tp.topic] == nil, let set = store.replicaSet(of: tp), set.isBeingReassigned, let l = store.leadership(of: tp),
              set.isComplete(isr: l.isr) else { return }
        do {
            _ = try finish(tp, set.targetReplicas)
        } catch {
            logger.error("\(tp): cannot complete the reassignment: \(error); retrying on the next ISR change")
        }
    }

    /// Phase B: leadership into `target` first (so the leader never sits outside the assignment), then RS = TRS.
    /// False when the leadership could not move yet; the next ISR change retries.
    private func finish(_ tp: TopicPartition, _ target: [Int32]) throws -> Bool {
        let before = store.replicaSet(of: tp)?.replicas ?? []
        guard fitLeadership(tp, within: target) != .failed else { return false }
        try store.writeReplicaSets(tp.topic, [tp.partition: PartitionReplicaSet(replicas: target)])
        changed.insert(tp)  // UpdateMetadata with the new replicas to every broker, LeaderAndIsr to the targets
        stopReplicas(of: tp, dropped: before.filter { !target.contains($0) })
        store.removeFromReassignPartitions([tp])
        logger.info("\(tp): reassignment completed: replicas \(target)")
        return true
    }

    /// StopReplica with delete to the live brokers of replicas no longer in the assignment (Kafka's
    /// OfflineReplica -> NonExistentReplica); a broker down now keeps the log until it is cleaned up by hand.
    private func stopReplicas(of tp: TopicPartition, dropped: [Int32]) {
        guard !dropped.isEmpty else { return }
        sendStopReplica(dropped.map { ReplicaRef(broker: $0, tp: tp) }, delete: true)
        logger.info("\(tp): replicas \(dropped) removed: StopReplica with delete")
    }

    /// A new leader epoch with nothing else changed (Kafka's updateLeaderEpochAndSendRequest): the next
    /// `propagate()` sends LeaderAndIsr with the current replicas to each of them.
    private func bumpLeaderEpoch(_ tp: TopicPartition) {
        guard var next = store.leadership(of: tp), next.leader >= 0 else { return }
        next.leaderEpoch += 1
        next.controllerEpoch = epoch
        do {
            if try writeLeadership(tp, next) { logger.info("\(tp): leader epoch \(next.leaderEpoch) for the new replicas") }
        } catch {
            logger.error("\(tp): cannot write partition state: \(error)")
        }
    }

    enum FitOutcome { case unchanged, written, failed }

    /// Conditional write of the partition state fitted to `replicas` (recorded for `propagate()`).
    @discardableResult
    private func fitLeadership(_ tp: TopicPartition, within replicas: [Int32]) -> FitOutcome {
        guard let current = store.leadership(of: tp) else { return .unchanged }  // no state yet: the first election uses RS
        switch ReassignmentRules.leadership(current, within: replicas, live: liveForReassignment(), controllerEpoch: epoch) {
        case .unchanged:
            return .unchanged
        case .noEligibleLeader:
            logger.info("\(tp): leader \(current.leader) must leave but no live ISR member of \(replicas) can take over yet")
            return .failed
        case .changed(let next):
            do {
                guard try writeLeadership(tp, next) else { return .failed }
                logger.info("\(tp): reassignment: leader \(current.leader) -> \(next.leader), epoch \(next.leaderEpoch), isr \(current.isr) -> \(next.isr)")
                return .written
            } catch {
                logger.error("\(tp): cannot write partition state: \(error)")
                return .failed
            }
        }
    }
}
