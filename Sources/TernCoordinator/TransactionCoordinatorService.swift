/// Where the transaction coordinator's effects go: the broker implements this with `__transaction_state` and
/// in-process marker writes.
public protocol TransactionCoordinatorEnvironment: Sendable {
    /// Appends records to `__transaction_state` partition `partition` (acks=all semantics), in call order.
    func append(partition: Int32, records: [TransactionRecord]) async throws
    /// Writes the COMMIT/ABORT markers to every partition (and completes pending group offsets). Throws when a
    /// marker could not be written; the service retries later.
    func writeMarkers(_ markers: TransactionMarkers) async throws
}

/// The transaction coordinator as the broker sees it: an actor owning ``TransactionCoordinator`` that performs its
/// actions in order. EndTxn answers once the markers are written and the Complete state is stored, so a client
/// that begins its next transaction at once finds the previous one complete; requests arriving while markers are
/// being written see PrepareCommit/PrepareAbort and get CONCURRENT_TRANSACTIONS, as in Kafka.
/// Timers (`transaction.timeout.ms`) are one clock wake-up per transactional id.
public actor TransactionCoordinatorService {
    private let machine: TransactionCoordinator
    private let environment: any TransactionCoordinatorEnvironment
    private let clock: any CoordinatorClock
    private let stateLogPartitions: Int32
    private var timers: [String: CoordinatorTimerHandle] = [:]
    /// Markers whose write failed, retried by `retryMarkers` (Kafka's marker channel retries forever too).
    private var failedMarkers: [String: TransactionMarkers] = [:]

    public init(machine: TransactionCoordinator, environment: any TransactionCoordinatorEnvironment, clock: any CoordinatorClock) {
        self.machine = machine
        self.environment = environment
        self.clock = clock
        self.stateLogPartitions = machine.config.transactionStateLogNumPartitions
    }

    /// The `__transaction_state` partition of a transactional id.
    public nonisolated func partition(for transactionalId: String) -> Int32 {
        GroupPartitioner.partition(for: transactionalId, numPartitions: stateLogPartitions)
    }

    public func initProducerId(
        transactionalId: String, transactionTimeoutMs: Int32, expectedProducerId: Int64, expectedEpoch: Int16
    ) async -> TransactionCoordinator.InitProducerIdResult {
        let (result, actions) = machine.initProducerId(
            transactionalId: transactionalId, transactionTimeoutMs: transactionTimeoutMs,
            expectedProducerId: expectedProducerId, expectedEpoch: expectedEpoch, now: clock.nowMs())
        if let failure = await perform(actions) { return .init(errorCode: failure) }
        return result
    }

    public func addPartitions(transactionalId: String, producerId: Int64, producerEpoch: Int16, partitions: [TopicPartition]) async -> Int16 {
        let (code, actions) = machine.addPartitions(
            transactionalId: transactionalId, producerId: producerId, producerEpoch: producerEpoch, partitions: partitions, now: clock.nowMs())
        return await perform(actions) ?? code
    }

    public func verifyPartitions(transactionalId: String, producerId: Int64, producerEpoch: Int16, partitions: [TopicPartition]) -> Int16 {
        machine.verifyPartitions(transactionalId: transactionalId, producerId: producerId, producerEpoch: producerEpoch, partitions: partitions)
    }

    public func addOffsets(transactionalId: String, producerId: Int64, producerEpoch: Int16, groupId: String) async -> Int16 {
        let (code, actions) = machine.addOffsets(
            transactionalId: transactionalId, producerId: producerId, producerEpoch: producerEpoch, groupId: groupId, now: clock.nowMs())
        return await perform(actions) ?? code
    }

    public func endTransaction(transactionalId: String, producerId: Int64, producerEpoch: Int16, commit: Bool) async -> Int16 {
        let (code, actions) = machine.endTransaction(
            transactionalId: transactionalId, producerId: producerId, producerEpoch: producerEpoch, commit: commit, now: clock.nowMs())
        return await perform(actions) ?? code
    }

    public func isCurrent(transactionalId: String, producerId: Int64, producerEpoch: Int16) -> Int16 {
        machine.isCurrent(transactionalId: transactionalId, producerId: producerId, producerEpoch: producerEpoch)
    }

    public func metadata(of transactionalId: String) -> TransactionMetadata? { machine.transactions[transactionalId] }

    /// Replays a `__transaction_state` partition and finishes what it left in flight.
    public func load(records: [TransactionRecord]) async {
        _ = await perform(machine.load(records: records, now: clock.nowMs()))
    }

    // MARK: - Partition ownership (TransactionCoordinator+Ownership.swift)

    public func beginLoading(partition: Int32) {
        machine.beginLoading(partition: partition)
    }

    /// Replays one `__transaction_state` partition this broker now leads (at `coordinatorEpoch`) and resumes its
    /// transactions.
    public func load(partition: Int32, coordinatorEpoch: Int32, records: [TransactionRecord]) async {
        _ = await perform(machine.load(partition: partition, coordinatorEpoch: coordinatorEpoch, records: records, now: clock.nowMs()))
    }

    /// Another broker leads the partition now: its transactions' timers and pending marker retries stop here.
    public func unload(partition: Int32) {
        for id in machine.unload(partition: partition) {
            timers.removeValue(forKey: id)?.cancel()
            failedMarkers[id] = nil
        }
    }

    public func owns(partition: Int32) -> Bool { machine.owns(partition: partition) }

    public func shutdown() {
        for handle in timers.values { handle.cancel() }
        timers = [:]
    }

    /// Retries marker writes that failed (called by the broker periodically).
    public func retryMarkers() async {
        let pending = failedMarkers
        failedMarkers = [:]
        for markers in pending.values.sorted(by: { $0.transactionalId < $1.transactionalId }) {
            _ = await perform([.writeMarkers(markers)])
        }
    }

    public func timeoutExpired(transactionalId: String) async {
        timers[transactionalId] = nil
        _ = await perform(machine.timeoutExpired(transactionalId: transactionalId, now: clock.nowMs()))
    }

    // MARK: - Performing actions

    /// Performs actions in order; returns the error of the first failed append (the request's answer).
    private func perform(_ actions: [TransactionAction]) async -> Int16? {
        var failure: Int16?
        for action in actions {
            switch action {
            case .append(let partition, let record):
                do {
                    try await environment.append(partition: partition, records: [record])
                } catch let error as CoordinatorAppendError {
                    if failure == nil { failure = error.errorCode }
                } catch {
                    if failure == nil { failure = TransactionErrorCode.coordinatorNotAvailable }
                }
            case .writeMarkers(let markers):
                do {
                    try await environment.writeMarkers(markers)
                    failedMarkers[markers.transactionalId] = nil
                    if let f = await perform(machine.markersWritten(markers, now: clock.nowMs())), failure == nil { failure = f }
                } catch let incomplete as TransactionMarkersIncomplete {
                    var rest = markers
                    rest.partitions = incomplete.remaining
                    // An unloaded transaction is the new coordinator's to finish.
                    if machine.transactions[markers.transactionalId] != nil { failedMarkers[markers.transactionalId] = rest }
                } catch {
                    // The transaction stays PrepareCommit/PrepareAbort (clients get CONCURRENT_TRANSACTIONS) until
                    // a retry writes the markers.
                    if machine.transactions[markers.transactionalId] != nil { failedMarkers[markers.transactionalId] = markers }
                }
            case .scheduleTimeout(let id, let deadline):
                timers[id]?.cancel()
                timers[id] = clock.schedule(atMs: deadline) { [weak self] in
                    guard let self else { return }
                    Task { await self.timeoutExpired(transactionalId: id) }
                }
            case .cancelTimeout(let id):
                timers.removeValue(forKey: id)?.cancel()
            }
        }
        return failure
    }
}
