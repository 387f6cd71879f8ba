import FoundationEssentials
import NIOConcurrencyHelpers
import TernCoordinator

/// The group and transaction coordinators follow the leadership of their internal partitions, as Kafka's do
/// (`onElection` / `onResignation`): when this broker becomes leader of a `__consumer_offsets` or
/// `__transaction_state` partition it replays the partition into the coordinator (whose requests for that
/// partition's keys answer COORDINATOR_LOAD_IN_PROGRESS meanwhile), and when it stops leading it the coordinator
/// unloads the partition (its keys answer NOT_COORDINATOR, parked JoinGroup/SyncGroup calls too).
///
/// Role changes arrive from `applyLeadership` (Broker+Cluster.swift) for every partition. Each one is noted at
/// once (becoming leader starts a new leadership *term*) and a reconciliation is queued; the queue runs in arrival
/// order and brings the coordinator to the latest noted role, so a burst of changes settles on the last one, yet
/// a partition that was lost and regained meanwhile is reloaded (another leader may have written to it in
/// between). Before the coordinators start, reconciliations do nothing: `start` reconciles every partition once
/// it is ready. A broker alone leads everything and loads all partitions at start instead.
extension Broker {
    /// The one call `applyLeadership` makes after a partition took its new role.
    func coordinatorPartitionRoleChanged(_ partition: Partition) {
        let tp = partition.topicPartition
        guard tp.topic == ConsumerOffsetsLog.topicName || tp.topic == TransactionStateLog.topicName else { return }
        reconcileCoordinatorPartition(topic: tp.topic, index: tp.partition)
    }

    /// Loads or unloads every partition of `topic` to match this broker's roles now.
    func reconcileCoordinatorPartitions(topic: String) {
        guard let t = metadataStore.topic(named: topic) else { return }
        for p in 0..<t.partitionCount { reconcileCoordinatorPartition(topic: topic, index: Int32(p)) }
    }

    private func reconcileCoordinatorPartition(topic: String, index: Int32) {
        let roles = topic == ConsumerOffsetsLog.topicName ? coordinator.roles : transactions.roles
        roles.observe(index, leads: ledPartition(topic, index) != nil)
        if topic == ConsumerOffsetsLog.topicName {
            roles.enqueue { [weak self] in await self?.reconcileGroupPartition(index) }
        } else {
            roles.enqueue { [weak self] in await self?.reconcileTransactionPartition(index) }
        }
    }

    /// This broker's replica of the partition when it is the leader.
    private func ledPartition(_ topic: String, _ index: Int32) -> Partition? {
        guard let p = replicaManager.partition(topic: topic, index: index), p.isLeader, p.leaderId == brokerId else { return nil }
        return p
    }

    private func reconcileGroupPartition(_ index: Int32) async {
        guard let parts = coordinator.clusterService else { return }
        let (service, log) = (parts.service, parts.log)
        let roles = coordinator.roles
        let tp = "\(ConsumerOffsetsLog.topicName)-\(index)"
        let loaded = roles.loadedTerm(index)
        if let term = roles.leadingTerm(index), let leader = ledPartition(ConsumerOffsetsLog.topicName, index) {
            if loaded == term { return }
            if loaded != nil { await service.unload(partition: index) }  // lost and regained meanwhile: reload
            roles.setLoaded(index, term: term)
            await service.beginLoading(partition: index)
            let started = ContinuousClock.now
            let records: ConsumerOffsetsLog.Loaded
            do {
                records = try log.load(partition: index)
            } catch {
                logger.error("loading \(tp) failed: \(error); serving what was read")
                records = .init()
            }
            await service.load(partition: index, records: records.records, openTransactions: records.openTransactions)
            logger.info("group coordinator: loaded \(tp) at leader epoch \(leader.leaderEpoch), \(records.records.count) record(s) in \(ContinuousClock.now - started)")
        } else if loaded != nil {
            roles.setLoaded(index, term: nil)
            await service.unload(partition: index)
            logger.info("group coordinator: unloaded \(tp) (no longer its leader)")
        }
    }

    private func reconcileTransactionPartition(_ index: Int32) async {
        guard let parts = transactions.clusterService else { return }
        let (service, log) = (parts.service, parts.log)
        let roles = transactions.roles
        let tp = "\(TransactionStateLog.topicName)-\(index)"
        let loaded = roles.loadedTerm(index)
        if let term = roles.leadingTerm(index), let leader = ledPartition(TransactionStateLog.topicName, index) {
            if loaded == term { return }
            if loaded != nil { await service.unload(partition: index) }  // lost and regained meanwhile: reload
            roles.setLoaded(index, term: term)
            await service.beginLoading(partition: index)
            let started = ContinuousClock.now
            let records: [TransactionRecord]
            do {
                records = try log.readRecords(partition: index)
            } catch {
                logger.error("loading \(tp) failed: \(error)")
                records = []
            }
            await service.load(partition: index, coordinatorEpoch: leader.leaderEpoch, records: records)
            logger.info("transaction coordinator: loaded \(tp) at leader epoch \(leader.leaderEpoch), \(records.count) record(s) in \(ContinuousClock.now - started)")
        } else if loaded != nil {
            roles.setLoaded(index, term: nil)
            await service.unload(partition: index)
            logger.info("transaction coordinator: unloaded \(tp) (no longer its leader)")
        }
    }
}

/// Which partitions of an internal topic a coordinator has loaded, the leadership terms noted as role changes
/// arrive, and the queue the reconciliations run in.
final class PartitionRoles: Sendable {
    private struct State {
        /// Partitions this broker leads now, with their term (bumped each time it becomes leader again).
        var leading: [Int32: UInt64] = [:]
        var lastTerm: [Int32: UInt64] = [:]
        /// The term each loaded partition was loaded in.
        var loaded: [Int32: UInt64] = [:]
        var tail: Task<Void, Never>?
    }

    private let state = NIOLockedValueBox(State())

    /// Notes a role as it is applied (synchronously, in order).
    func observe(_ partition: Int32, leads: Bool) {
        state.withLockedValue { s in
            if leads {
                if s.leading[partition] == nil {
                    let term = (s.lastTerm[partition] ?? 0) + 1
                    s.lastTerm[partition] = term
                    s.leading[partition] = term
                }
            } else {
                s.leading[partition] = nil
            }
        }
    }

    func leadingTerm(_ partition: Int32) -> UInt64? { state.withLockedValue { $0.leading[partition] } }
    func loadedTerm(_ partition: Int32) -> UInt64? { state.withLockedValue { $0.loaded[partition] } }
    func setLoaded(_ partition: Int32, term: UInt64?) { state.withLockedValue { $0.loaded[partition] = term } }

    /// Runs `body` after every reconciliation queued before it.
    func enqueue(_ body: @escaping @Sendable () async -> Void) {
        state.withLockedValue { s in
            let previous = s.tail
            s.tail = Task {
                await previous?.value
                await body()
            }
        }
    }
}
