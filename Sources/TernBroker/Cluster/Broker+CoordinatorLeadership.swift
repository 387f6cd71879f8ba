import Foundation
import NIOConcurrencyHelpers
import TernCoordinator

/// The group and transaction coordinators follow the leadership of their internal partitions, as Kafka's do
/// (`onElection` / `onResignation`): when this broker becomes leader of a `__consumer_offsets` or
/// `__transaction_state` partition it replays the partition into the coordinator (whose requests for that
/// partition's keys answer COORDINATOR_LOAD_IN_PROGRESS meanwhile), and when it stops leading it the coordinator
/// unloads the partition (its keys answer NOT_COORDINATOR, parked JoinGroup/SyncGroup calls too).
///
/// Role changes arrive from `applyLeadership` (Broker+Cluster.swift) for every partition; each internal partition's
/// change is queued and handled in arrival order against the partition's role at that time, so a burst of
/// changes settles on the last one. Before the coordinators start, nothing is queued: `start` reconciles every
/// partition once it is ready. A broker alone leads everything and loads all partitions at start instead.
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
        if topic == ConsumerOffsetsLog.topicName {
            coordinator.roles.enqueue { [weak self] in await self?.reconcileGroupPartition(index) }
        } else {
            transactions.roles.enqueue { [weak self] in await self?.reconcileTransactionPartition(index) }
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
        if let leader = ledPartition(ConsumerOffsetsLog.topicName, index), !roles.owns(index) {
            roles.set(index, owned: true)
            await service.beginLoading(partition: index)
            let started = ContinuousClock.now
            let loaded: ConsumerOffsetsLog.Loaded
            do {
                loaded = try log.load(partition: index)
            } catch {
                logger.error("loading \(tp) failed: \(error); serving what was read")
                loaded = .init()
            }
            await service.load(partition: index, records: loaded.records, openTransactions: loaded.openTransactions)
            logger.info("group coordinator: loaded \(tp) at leader epoch \(leader.leaderEpoch), \(loaded.records.count) record(s) in \(ContinuousClock.now - started)")
        } else if ledPartition(ConsumerOffsetsLog.topicName, index) == nil, roles.owns(index) {
            roles.set(index, owned: false)
            await service.unload(partition: index)
            logger.info("group coordinator: unloaded \(tp) (no longer its leader)")
        }
    }

    private func reconcileTransactionPartition(_ index: Int32) async {
        guard let parts = transactions.clusterService else { return }
        let (service, log) = (parts.service, parts.log)
        let roles = transactions.roles
        let tp = "\(TransactionStateLog.topicName)-\(index)"
        if let leader = ledPartition(TransactionStateLog.topicName, index), !roles.owns(index) {
            roles.set(index, owned: true)
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
        } else if ledPartition(TransactionStateLog.topicName, index) == nil, roles.owns(index) {
            roles.set(index, owned: false)
            await service.unload(partition: index)
            logger.info("transaction coordinator: unloaded \(tp) (no longer its leader)")
        }
    }
}

/// Which partitions of an internal topic a coordinator has loaded, and the queue its role changes run in.
final class PartitionRoles: Sendable {
    private struct State {
        var owned: Set<Int32> = []
        var tail: Task<Void, Never>?
    }

    private let state = NIOLockedValueBox(State())

    func owns(_ partition: Int32) -> Bool { state.withLockedValue { $0.owned.contains(partition) } }

    func set(_ partition: Int32, owned: Bool) {
        state.withLockedValue { s in
            if owned { s.owned.insert(partition) } else { s.owned.remove(partition) }
        }
    }

    var ownedPartitions: Set<Int32> { state.withLockedValue { $0.owned } }

    /// Runs `body` after every change queued before it.
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
