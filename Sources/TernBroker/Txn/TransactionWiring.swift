import FoundationEssentials
import KafkaProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore
import TernCoordinator
import TernStorage

/// Connects the transaction coordinator (TernCoordinator's `TransactionCoordinatorService`) to the wire, to
/// `__transaction_state` and to the partitions it writes markers to; the twin of `CoordinatorWiring`.
///
/// Life cycle: `start` builds the service and replays every existing `__transaction_state` partition on a
/// background task (transactions found prepared get their markers written; open ones get their timeout); until then
/// transactional requests answer COORDINATOR_LOAD_IN_PROGRESS. `__transaction_state` is created on first use
/// (FindCoordinator key type 1, or any transactional request) with `transaction.state.log.num.partitions`
/// partitions and Kafka's configs (compacted). Marker writes that failed are retried every few seconds.
/// Single broker: this broker coordinates every transactional id.
/// Cluster (`zookeeper.connect`): the service starts owning no partition; a `__transaction_state` partition is
/// loaded when this broker becomes its leader (its prepared transactions get their markers, its open ones keep
/// running until they end or time out) and unloaded when another broker takes over (Broker+CoordinatorLeadership).
/// `__transaction_state` is then created with `transaction.state.log.replication.factor` (default 3, refused until
/// that many brokers are up, as Kafka does) and `min.insync.replicas` = `transaction.state.log.min.isr` (default 2).
final class TransactionWiring: Sendable {
    enum Availability {
        case ready(TransactionCoordinatorService)
        case unavailable(Int16)
    }

    private struct State {
        var service: TransactionCoordinatorService?
        var log: TransactionStateLog?
        var numPartitions: Int32 = 50
        var loaded = false
        var stopped = false
        var loader: Task<Void, Never>?
        var retry: RepeatedTask?
        var topicReady = false
        var clustered = false
    }

    private let state = NIOLockedValueBox(State())
    private let creationLock = NIOLock()
    /// Cluster mode: the partitions loaded into the service, and the last role change queued.
    let roles = PartitionRoles()
    /// Connections for WriteTxnMarkers to the other brokers.
    let markerLinks = MarkerLinks()

    init() {}

    var stateTopicPartitionCount: Int32 { state.withLockedValue { $0.numPartitions } }

    func start(broker: Broker) {
        let existing = broker.metadataStore.topic(named: TransactionStateLog.topicName)
        let numPartitions = Int32(existing?.partitionCount ?? max(1, broker.config.transactionStateLogNumPartitions))
        var config = TransactionCoordinatorConfig()
        config.transactionStateLogNumPartitions = numPartitions
        config.offsetsTopicNumPartitions = broker.coordinator.offsetsTopicPartitionCount
        if let v = broker.config.raw["transaction.max.timeout.ms"].flatMap(Int32.init) { config.transactionMaxTimeoutMs = v }
        let producerIds = broker.producerIds
        let logger = broker.logger
        let clustered = broker.zooKeeperStore != nil
        let machine = TransactionCoordinator(config: config, ownedPartitions: clustered ? [] : nil, allocateProducerId: {
            do { return try producerIds.nextProducerId() } catch {
                logger.error("cannot reserve producer ids: \(error)")
                return nil
            }
        })
        let coordinator = broker.coordinator
        let requestTimeoutMs = broker.markerTimeoutMs
        let log = TransactionStateLog(
            replicaManager: broker.replicaManager, logger: logger,
            write: { [weak broker] batch, partition in
                guard let broker else { throw CommittedAppendFailure(code: .notLeaderOrFollower, message: "broker stopped") }
                try await broker.appendCommitted(batch, to: partition, timeoutMs: requestTimeoutMs)
            },
            markers: { [weak broker] markers in
                guard let broker else { throw CoordinatorAppendError(errorCode: CoordinatorErrorCode.notCoordinator) }
                try await broker.writeTransactionMarkers(markers)
            })
        let loop = broker.eventLoopGroup.next()
        let service = TransactionCoordinatorService(machine: machine, environment: log, clock: EventLoopCoordinatorClock(eventLoop: loop))
        // In a cluster a marker usually fails because its partition's leader just died: the new leader is elected
        // within a ZooKeeper session timeout, so retry sooner than alone.
        let retryEvery: TimeAmount = broker.zooKeeperStore != nil ? .seconds(1) : .seconds(5)
        let retry = loop.scheduleRepeatedTask(initialDelay: retryEvery, delay: retryEvery) { _ in
            Task { await service.retryMarkers() }
        }
        state.withLockedValue {
            $0.service = service
            $0.log = log
            $0.numPartitions = numPartitions
            $0.topicReady = existing != nil
            $0.retry = retry
            $0.clustered = clustered
        }
        if clustered {
            // Partitions load as this broker becomes their leader; the ones it leads already are loaded now.
            let loader = Task { [weak self, weak broker] in
                self?.state.withLockedValue { $0.loaded = true }
                broker?.reconcileCoordinatorPartitions(topic: TransactionStateLog.topicName)
            }
            state.withLockedValue { $0.loader = loader }
            return
        }
        let loader = Task { [weak self] in
            if existing != nil {
                // Markers to __consumer_offsets complete staged group offsets: wait for the group coordinator.
                while case .unavailable(let code) = coordinator.availability(), code == CoordinatorErrorCode.coordinatorLoadInProgress {
                    try? await Task.sleep(for: .milliseconds(10))
                }
                var loaded = 0
                for partition in 0..<numPartitions {
                    if Task.isCancelled { return }
                    let records: [TransactionRecord]
                    do {
                        records = try log.readRecords(partition: partition)
                    } catch {
                        logger.error("loading \(TransactionStateLog.topicName)-\(partition) failed: \(error)")
                        records = []
                    }
                    loaded += records.count
                    await service.load(records: records)
                }
                logger.info("transaction coordinator loaded \(loaded) record(s)")
            }
            self?.state.withLockedValue { $0.loaded = true }
        }
        state.withLockedValue { $0.loader = loader }
    }

    func shutdown() {
        let (service, log, loader, retry) = state.withLockedValue { s in
            s.stopped = true
            return (s.service, s.log, s.loader, s.retry)
        }
        loader?.cancel()
        retry?.cancel()
        log?.close()
        markerLinks.closeAll()
        if let service { Task { await service.shutdown() } }
    }

    /// Cluster mode once started: the service and its log, for loading and unloading partitions.
    var clusterService: (service: TransactionCoordinatorService, log: TransactionStateLog)? {
        state.withLockedValue { s in
            guard s.clustered, s.loaded, !s.stopped, let service = s.service, let log = s.log else { return nil }
            return (service, log)
        }
    }

    func availability() -> Availability {
        state.withLockedValue { s in
            guard let service = s.service, !s.stopped else { return .unavailable(CoordinatorErrorCode.coordinatorNotAvailable) }
            guard s.loaded else { return .unavailable(CoordinatorErrorCode.coordinatorLoadInProgress) }
            return .ready(service)
        }
    }

    /// Creates `__transaction_state` if it does not exist yet. False when it cannot be created.
    func ensureStateTopic(broker: Broker) -> Bool {
        if state.withLockedValue({ $0.topicReady }) { return true }
        return creationLock.withLock {
            // Alone: one replica. In a cluster, as Kafka: exactly transaction.state.log.replication.factor,
            // refused (COORDINATOR_NOT_AVAILABLE) until that many brokers are up.
            let rf = broker.zooKeeperStore == nil ? 1 : Int16(broker.config.raw["transaction.state.log.replication.factor"].flatMap { Int16($0) } ?? 3)
            guard broker.ensureInternalTopic(
                name: TransactionStateLog.topicName, partitions: stateTopicPartitionCount, replicationFactor: rf,
                configs: Self.stateTopicConfigs(broker.config))
            else { return false }
            state.withLockedValue { $0.topicReady = true }
            return true
        }
    }

    /// Kafka's `__transaction_state` topic configs (`TransactionLog`/`TransactionStateManager`). Alone, the minimum
    /// ISR is this one replica whatever `transaction.state.log.min.isr` says, so a lone broker keeps working.
    static func stateTopicConfigs(_ config: BrokerConfig) -> [String: String] {
        [
            "cleanup.policy": "compact",
            "compression.type": "uncompressed",
            "min.insync.replicas": config.zookeeperConnect == nil ? "1" : config.raw["transaction.state.log.min.isr"] ?? "2",
            "unclean.leader.election.enable": "false",
            "segment.bytes": config.raw["transaction.state.log.segment.bytes"] ?? "104857600",
        ]
    }
}

extension Broker {
    func routeTransactionApis(_ ctx: RequestContext, body b: inout ByteBuffer) throws -> EventLoopFuture<ByteBuffer?> {
        switch ctx.apiKey {
        case .addPartitionsToTxn: return try serve(AddPartitionsToTxnRequest.self, ctx, body: &b, addPartitionsToTxn)
        case .addOffsetsToTxn: return try serve(AddOffsetsToTxnRequest.self, ctx, body: &b, addOffsetsToTxn)
        case .endTxn: return try serve(EndTxnRequest.self, ctx, body: &b, endTxn)
        case .txnOffsetCommit: return try serve(TxnOffsetCommitRequest.self, ctx, body: &b, txnOffsetCommit)
        case .writeTxnMarkers: return try serve(WriteTxnMarkersRequest.self, ctx, body: &b, writeTxnMarkers)
        default:
            throw RequestRejection(description: "no handler for \(ctx.apiKey.name)")
        }
    }

    /// Runs a transactional request on the coordinator off the event loop; answers `failure(code)` at once when it
    /// cannot serve (`__transaction_state` not creatable, not started, loading).
    func withTransactionCoordinator<R: Sendable>(
        _ ctx: RequestContext, failure: @escaping (Int16) -> R,
        _ body: @escaping @Sendable (TransactionCoordinatorService) async -> R
    ) -> EventLoopFuture<R?> {
        guard transactions.ensureStateTopic(broker: self) else {
            return ctx.eventLoop.makeSucceededFuture(failure(CoordinatorErrorCode.coordinatorNotAvailable))
        }
        switch transactions.availability() {
        case .unavailable(let code):
            return ctx.eventLoop.makeSucceededFuture(failure(code))
        case .ready(let service):
            return ctx.eventLoop.makeFutureWithTask { await body(service) }.map { Optional.some($0) }
        }
    }

    /// Kafka answers clients older than KIP-588 INVALID_PRODUCER_EPOCH where newer ones get PRODUCER_FENCED.
    static func fencedCode(_ code: Int16, newCodeFrom version: Int16, requestVersion: Int16) -> Int16 {
        code == ErrorCode.producerFenced.rawValue && requestVersion < version ? ErrorCode.invalidProducerEpoch.rawValue : code
    }
}
