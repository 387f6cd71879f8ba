import Testing

@testable import TernCoordinator

/// A cluster's transaction coordinator serves only the `__transaction_state` partitions its broker leads:
/// load on becoming leader, unload on losing it, and transactions resume on the new coordinator.
@Suite struct TransactionOwnershipTests {
    private let tp0 = TopicPartition(topic: "t", partition: 0)

    private func config(partitions: Int32 = 4) -> TransactionCoordinatorConfig {
        var c = TransactionCoordinatorConfig()
        c.transactionStateLogNumPartitions = partitions
        return c
    }

    private func machine(owned: Set<Int32>?, next: Int64 = 1000) -> TransactionCoordinator {
        var id = next
        return TransactionCoordinator(config: config(), ownedPartitions: owned, allocateProducerId: {
            defer { id += 1 }
            return id
        })
    }

    private func records(_ actions: [TransactionAction]) -> [TransactionRecord] {
        actions.compactMap { if case .append(_, let r) = $0 { return r } else { return nil } }
    }

    /// Two transactional ids on different partitions of a 4-partition `__transaction_state`.
    private func idsOnTwoPartitions(_ m: TransactionCoordinator) -> (String, String) {
        let ids = (0..<100).map { "txn-\($0)" }
        let a = ids[0]
        let b = ids.first { m.partition(for: $0) != m.partition(for: a) }!
        return (a, b)
    }

    @Test func keysOfPartitionsNotLedAnswerNotCoordinator() {
        let m = machine(owned: [])
        let (r, actions) = m.initProducerId(transactionalId: "x", transactionTimeoutMs: 60000, now: 1)
        #expect(r.errorCode == TransactionErrorCode.notCoordinator)
        #expect(actions.isEmpty)
        #expect(m.addPartitions(transactionalId: "x", producerId: 1, producerEpoch: 0, partitions: [tp0], now: 1).0 == 16)
        #expect(m.endTransaction(transactionalId: "x", producerId: 1, producerEpoch: 0, commit: true, now: 1).0 == 16)
        #expect(m.isCurrent(transactionalId: "x", producerId: 1, producerEpoch: 0) == 16)
        #expect(m.verifyPartitions(transactionalId: "x", producerId: 1, producerEpoch: 0, partitions: [tp0]) == 16)
    }

    @Test func loadingPartitionAnswersLoadInProgressThenServes() {
        let m = machine(owned: [])
        let p = m.partition(for: "x")
        m.beginLoading(partition: p)
        #expect(m.initProducerId(transactionalId: "x", transactionTimeoutMs: 60000, now: 1).0.errorCode == TransactionErrorCode.coordinatorLoadInProgress)
        _ = m.load(partition: p, coordinatorEpoch: 3, records: [], now: 2)
        let (r, actions) = m.initProducerId(transactionalId: "x", transactionTimeoutMs: 60000, now: 3)
        #expect(r.errorCode == 0)
        #expect(records(actions).count == 1)
        #expect(m.owns(partition: p))
        #expect(!m.owns(partition: (p + 1) % 4))
    }

    @Test func ongoingTransactionResumesOnTheNewCoordinatorWithItsEpoch() {
        // The old coordinator runs a transaction and writes its records.
        let old = machine(owned: nil)
        let (a, b) = idsOnTwoPartitions(old)
        var log: [TransactionRecord] = []
        log += records(old.initProducerId(transactionalId: a, transactionTimeoutMs: 60000, now: 1).1)
        log += records(old.initProducerId(transactionalId: b, transactionTimeoutMs: 60000, now: 1).1)
        log += records(old.addPartitions(transactionalId: a, producerId: 1000, producerEpoch: 0, partitions: [tp0], now: 10).1)
        // The new leader of a's partition loads only that partition's records (a's), at leader epoch 7.
        let new = machine(owned: [], next: 5000)
        let p = new.partition(for: a)
        let actions = new.load(partition: p, coordinatorEpoch: 7, records: log.filter { new.partition(for: $0.transactionalId) == p }, now: 20)
        #expect(actions == [.scheduleTimeout(transactionalId: a, deadlineMs: 60010)])
        #expect(new.metadataOf(a)?.state == .ongoing)
        #expect(new.metadataOf(b) == nil)
        #expect(new.initProducerId(transactionalId: b, transactionTimeoutMs: 60000, now: 21).0.errorCode == TransactionErrorCode.notCoordinator)
        // The producer ends its transaction there; the markers carry the new coordinator epoch.
        let (code, end) = new.endTransaction(transactionalId: a, producerId: 1000, producerEpoch: 0, commit: true, now: 30)
        #expect(code == 0)
        let markers = end.compactMap { if case .writeMarkers(let m) = $0 { return m } else { return nil } }
        #expect(markers == [TransactionMarkers(transactionalId: a, producerId: 1000, producerEpoch: 0, commit: true, coordinatorEpoch: 7, partitions: [tp0])])
    }

    @Test func preparedTransactionGetsItsMarkersOnLoad() {
        let old = machine(owned: nil)
        var log: [TransactionRecord] = []
        log += records(old.initProducerId(transactionalId: "x", transactionTimeoutMs: 60000, now: 1).1)
        log += records(old.addPartitions(transactionalId: "x", producerId: 1000, producerEpoch: 0, partitions: [tp0], now: 2).1)
        log += records(old.endTransaction(transactionalId: "x", producerId: 1000, producerEpoch: 0, commit: false, now: 3).1)
        let new = machine(owned: [])
        let actions = new.load(partition: new.partition(for: "x"), coordinatorEpoch: 2, records: log, now: 4)
        #expect(actions == [.writeMarkers(TransactionMarkers(
            transactionalId: "x", producerId: 1000, producerEpoch: 0, commit: false, coordinatorEpoch: 2, partitions: [tp0]))])
    }

    @Test func unloadForgetsThePartitionsIds() {
        let m = machine(owned: [])
        let (a, b) = idsOnTwoPartitions(m)
        for id in [a, b] { _ = m.load(partition: m.partition(for: id), coordinatorEpoch: 1, records: [], now: 0) }
        _ = m.initProducerId(transactionalId: a, transactionTimeoutMs: 60000, now: 1)
        _ = m.initProducerId(transactionalId: b, transactionTimeoutMs: 60000, now: 1)
        #expect(m.unload(partition: m.partition(for: a)) == [a])
        #expect(m.metadataOf(a) == nil)
        #expect(m.metadataOf(b) != nil)
        #expect(m.initProducerId(transactionalId: a, transactionTimeoutMs: 60000, now: 2).0.errorCode == TransactionErrorCode.notCoordinator)
        // A marker completion arriving after the unload changes nothing.
        #expect(m.markersWritten(TransactionMarkers(transactionalId: a, producerId: 1000, producerEpoch: 0, commit: true, coordinatorEpoch: 1, partitions: []), now: 3).isEmpty)
    }

    @Test func aloneEveryPartitionIsServed() {
        let m = machine(owned: nil)
        #expect(m.owns(partition: 3))
        #expect(m.initProducerId(transactionalId: "x", transactionTimeoutMs: 60000, now: 1).0.errorCode == 0)
    }
}

private extension TransactionCoordinator {
    func metadataOf(_ id: String) -> TransactionMetadata? { transactions[id] }
}

/// Marker writes that reach only some partitions are retried for the rest only; an unloaded transaction's
/// markers are left to its new coordinator.
@Suite struct TransactionMarkerRetryTests {
    actor Environment: TransactionCoordinatorEnvironment {
        var written: [[TopicPartition]] = []
        var failWith: [TopicPartition]?

        func append(partition: Int32, records: [TransactionRecord]) async throws {}

        func writeMarkers(_ markers: TransactionMarkers) async throws {
            written.append(markers.partitions)
            if let remaining = failWith {
                failWith = nil
                throw TransactionMarkersIncomplete(remaining: remaining)
            }
        }

        func failNext(leaving remaining: [TopicPartition]) { failWith = remaining }
    }

    private let tp0 = TopicPartition(topic: "t", partition: 0)
    private let tp1 = TopicPartition(topic: "t", partition: 1)

    private func service(_ env: Environment) -> TransactionCoordinatorService {
        var id: Int64 = 1000
        let machine = TransactionCoordinator(allocateProducerId: {
            defer { id += 1 }
            return id
        })
        return TransactionCoordinatorService(machine: machine, environment: env, clock: ManualCoordinatorClock())
    }

    @Test func onlyTheRemainingPartitionsAreRetried() async {
        let env = Environment()
        let s = service(env)
        _ = await s.initProducerId(transactionalId: "x", transactionTimeoutMs: 60000, expectedProducerId: -1, expectedEpoch: -1)
        _ = await s.addPartitions(transactionalId: "x", producerId: 1000, producerEpoch: 0, partitions: [tp0, tp1])
        await env.failNext(leaving: [tp1])
        #expect(await s.endTransaction(transactionalId: "x", producerId: 1000, producerEpoch: 0, commit: true) == 0)
        #expect(await s.metadata(of: "x")?.state == .prepareCommit)
        await s.retryMarkers()
        #expect(await env.written == [[tp0, tp1], [tp1]])
        #expect(await s.metadata(of: "x")?.state == .completeCommit)
    }

    @Test func anUnloadedTransactionIsNotRetriedHere() async {
        let env = Environment()
        let s = service(env)
        _ = await s.initProducerId(transactionalId: "x", transactionTimeoutMs: 60000, expectedProducerId: -1, expectedEpoch: -1)
        _ = await s.addPartitions(transactionalId: "x", producerId: 1000, producerEpoch: 0, partitions: [tp0])
        await env.failNext(leaving: [tp0])
        _ = await s.endTransaction(transactionalId: "x", producerId: 1000, producerEpoch: 0, commit: true)
        await s.unload(partition: s.partition(for: "x"))
        await s.retryMarkers()
        #expect(await env.written == [[tp0]])
        #expect(await s.metadata(of: "x") == nil)
    }
}
