/// Which transactional ids this coordinator serves, after Kafka's `TransactionStateManager`: in a cluster a broker
/// coordinates the ids hashing to the `__transaction_state` partitions it leads. Becoming leader: `beginLoading`
/// (requests for the partition's ids answer COORDINATOR_LOAD_IN_PROGRESS), then `load(partition:...)` replays the
/// partition and finishes what the previous coordinator left in flight (markers of prepared transactions are
/// written again; open ones keep running and are aborted when their timeout passes). Losing leadership:
/// `unload` forgets the partition's ids; their requests answer NOT_COORDINATOR so clients find the new leader.
extension TransactionCoordinator {
    /// NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS when this coordinator cannot serve `transactionalId` now.
    func coordinatorError(for transactionalId: String) -> Int16? {
        let p = partition(for: transactionalId)
        if loadingPartitions.contains(p) { return TransactionErrorCode.coordinatorLoadInProgress }
        if let owned = ownedPartitions, !owned.contains(p) { return TransactionErrorCode.notCoordinator }
        return nil
    }

    /// True when this coordinator serves `partition` (always on a broker alone).
    public func owns(partition: Int32) -> Bool {
        ownedPartitions?.contains(partition) ?? true
    }

    public func beginLoading(partition: Int32) {
        loadingPartitions.insert(partition)
    }

    /// Replays partition `partition` of `__transaction_state`, read at leader epoch `coordinatorEpoch`, and starts
    /// serving its transactional ids. Returns the actions that resume their transactions.
    public func load(partition: Int32, coordinatorEpoch: Int32, records: [TransactionRecord], now: Int64) -> [TransactionAction] {
        coordinatorEpochs[partition] = coordinatorEpoch
        let mine = records.filter { self.partition(for: $0.transactionalId) == partition }
        let actions = load(records: mine, now: now)
        loadingPartitions.remove(partition)
        if ownedPartitions != nil { ownedPartitions!.insert(partition) }
        return actions
    }

    /// Drops the partition's transactional ids (another broker coordinates them now). Returns the ids dropped, so
    /// the driver cancels their timers and forgets their pending marker writes.
    public func unload(partition: Int32) -> [String] {
        let dropped = transactions.keys.filter { self.partition(for: $0) == partition }.sorted()
        for id in dropped { transactions[id] = nil }
        loadingPartitions.remove(partition)
        coordinatorEpochs[partition] = nil
        if ownedPartitions != nil { ownedPartitions!.remove(partition) }
        return dropped
    }
}
