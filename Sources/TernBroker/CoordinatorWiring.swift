import FoundationEssentials
import KafkaProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore
import TernCoordinator
import TernStorage

/// Connects the group coordinator (TernCoordinator's `GroupCoordinatorService`) to the wire and to the internal
/// topic `__consumer_offsets`.
///
/// Life cycle: `start` builds the service (configs from `server.properties`, the wall clock on one event loop) and
/// replays every existing `__consumer_offsets` partition into it on a background task; until that is done group
/// requests answer COORDINATOR_LOAD_IN_PROGRESS (14), as Kafka's do while it loads. `__consumer_offsets` itself is
/// created on first use (FindCoordinator or any group request) with `offsets.topic.num.partitions` partitions.
/// `shutdown` refuses further appends, answers parked JoinGroup/SyncGroup calls with NOT_COORDINATOR and cancels
/// the coordinator's timers.
///
/// Single broker: this broker leads every `__consumer_offsets` partition, so it coordinates every group.
/// Cluster (`zookeeper.connect`): the service starts owning no partition; each partition is loaded when this broker
/// becomes its leader and unloaded when it stops leading it (`partitionRoleChanged`, Broker+CoordinatorLeadership.swift).
final class CoordinatorWiring: Sendable {
    enum Availability {
        case ready(GroupCoordinatorService)
        case unavailable(Int16)
    }

    private struct State {
        var service: GroupCoordinatorService?
        var log: ConsumerOffsetsLog?
        var numPartitions: Int32 = 50
        var loaded = false
        var stopped = false
        var loader: Task<Void, Never>?
        var offsetsTopicReady = false
        var clustered = false
    }

    private let state = NIOLockedValueBox(State())
    /// The last group request of each connection still running, with a sequence number to recognise it.
    private let connectionTails = NIOLockedValueBox<[UInt64: (sequence: UInt64, task: Task<Void, Never>)]>([:])
    private let nextSequence = NIOLockedValueBox<UInt64>(0)
    /// Serialises the creation of `__consumer_offsets` between connections.
    private let creationLock = NIOLock()
    /// Cluster mode: the partitions loaded into the service, and the last role change queued (they run in order).
    let roles = PartitionRoles()

    init() {}

    /// The partition count every group maps with (`Utils.abs(groupId.hashCode) % n`).
    var offsetsTopicPartitionCount: Int32 { state.withLockedValue { $0.numPartitions } }

    /// - Parameter beforeLoading: awaited before the replay starts; tests hold the coordinator in its loading state.
    func start(broker: Broker, beforeLoading: @escaping @Sendable () async -> Void = {}) throws {
        let existing = broker.metadataStore.topic(named: ConsumerOffsetsLog.topicName)
        // An existing topic's partition count wins over the config, as in Kafka: groups must keep their partition.
        let numPartitions = Int32(existing?.partitionCount ?? max(1, broker.config.offsetsTopicNumPartitions))
        let store = broker.metadataStore
        let topicIds = TopicIdResolver(
            id: { name in store.topic(named: name).map(\.id) }, name: { id in store.topic(id: id)?.name })
        let commitTimeoutMs = broker.config.raw["offsets.commit.timeout.ms"].flatMap { Int64($0) } ?? 5000
        let log = ConsumerOffsetsLog(
            replicaManager: broker.replicaManager, topicIds: topicIds, logger: broker.logger,
            write: { [weak broker] batch, partition in
                guard let broker else { throw CommittedAppendFailure(code: .notLeaderOrFollower, message: "broker stopped") }
                try await broker.appendCommitted(batch, to: partition, timeoutMs: commitTimeoutMs)
            })
        // KIP-848 assignors read partition counts from the broker's metadata at the time they run.
        let service = GroupCoordinatorService(
            config: Self.coordinatorConfig(broker.config, numPartitions: numPartitions), log: log,
            clock: EventLoopCoordinatorClock(eventLoop: broker.eventLoopGroup.next()),
            ownedPartitions: broker.zooKeeperStore != nil ? [] : nil,
            partitionCount: { name in store.topic(named: name).map { Int32($0.partitionCount) } })
        let logger = broker.logger
        let clustered = broker.zooKeeperStore != nil
        state.withLockedValue {
            $0.service = service
            $0.log = log
            $0.numPartitions = numPartitions
            $0.offsetsTopicReady = existing != nil
            $0.clustered = clustered
        }
        if clustered {
            // Partitions load as this broker becomes their leader; the ones it leads already are loaded now.
            let loader = Task { [weak self, weak broker] in
                await service.start()
                self?.state.withLockedValue { $0.loaded = true }
                broker?.reconcileCoordinatorPartitions(topic: ConsumerOffsetsLog.topicName)
            }
            state.withLockedValue { $0.loader = loader }
            return
        }
        let loader = Task { [weak self] in
            await beforeLoading()
            let started = ContinuousClock.now
            var loadedRecords = 0
            if existing != nil {
                for partition in 0..<numPartitions {
                    if Task.isCancelled { return }
                    let loaded: ConsumerOffsetsLog.Loaded
                    do {
                        loaded = try log.load(partition: partition)
                    } catch {
                        logger.error("loading \(ConsumerOffsetsLog.topicName)-\(partition) failed: \(error); serving what was read")
                        loaded = .init()
                    }
                    loadedRecords += loaded.records.count
                    await service.load(partition: partition, records: loaded.records, openTransactions: loaded.openTransactions)
                }
            }
            await service.start()
            self?.state.withLockedValue { $0.loaded = true }
            logger.info("group coordinator loaded \(loadedRecords) record(s) in \(ContinuousClock.now - started)")
        }
        state.withLockedValue { $0.loader = loader }
    }

    func shutdown() {
        let (service, log, loader, numPartitions) = state.withLockedValue { s in
            s.stopped = true
            return (s.service, s.log, s.loader, s.numPartitions)
        }
        loader?.cancel()
        log?.close()
        guard let service else { return }
        Task {
            for partition in 0..<numPartitions { await service.unload(partition: partition) }
        }
    }

    /// Runs `body` after every earlier group request of the same connection has been answered. Kafka reads no
    /// further request from a connection until it has answered the current one, so a client that sends OffsetCommit
    /// then OffsetFetch, or Heartbeat then LeaveGroup, sees them applied in that order; tasks alone would not
    /// guarantee it.
    func serialized<R: Sendable>(connection: UInt64, _ body: @escaping @Sendable () async -> R) -> Task<R, Never> {
        connectionTails.withLockedValue { tails in
            let previous = tails[connection]?.task
            let sequence = nextSequence.withLockedValue { n -> UInt64 in
                n += 1
                return n
            }
            let work = Task<R, Never> {
                await previous?.value
                return await body()
            }
            let tail = Task<Void, Never> { [weak self] in
                _ = await work.value
                self?.connectionTails.withLockedValue { tails in
                    if tails[connection]?.sequence == sequence { tails[connection] = nil }
                }
            }
            tails[connection] = (sequence, tail)
            return work
        }
    }

    /// Cluster mode once started: the service and its log, for loading and unloading partitions.
    var clusterService: (service: GroupCoordinatorService, log: ConsumerOffsetsLog)? {
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

    /// Creates `__consumer_offsets` if it does not exist yet. False when it cannot be created.
    func ensureOffsetsTopic(broker: Broker) -> Bool {
        if state.withLockedValue({ $0.offsetsTopicReady }) { return true }
        return creationLock.withLock {
            // Alone: capped to this broker. In a cluster, as Kafka: created with exactly
            // offsets.topic.replication.factor, refused (COORDINATOR_NOT_AVAILABLE) until that many brokers are up.
            let rf = Int16(broker.zooKeeperStore == nil
                ? broker.config.effectiveOffsetsTopicReplicationFactor(liveBrokers: 1) : broker.config.offsetsTopicReplicationFactor)
            guard broker.ensureInternalTopic(
                name: ConsumerOffsetsLog.topicName, partitions: offsetsTopicPartitionCount, replicationFactor: rf,
                configs: Self.offsetsTopicConfigs(broker.config))
            else { return false }
            state.withLockedValue { $0.offsetsTopicReady = true }
            return true
        }
    }

    /// Kafka's `__consumer_offsets` topic configs (`GroupCoordinator.groupMetadataTopicConfigs`).
    static func offsetsTopicConfigs(_ config: BrokerConfig) -> [String: String] {
        [
            "cleanup.policy": "compact",
            "compression.type": "producer",
            "segment.bytes": config.raw["offsets.topic.segment.bytes"] ?? "104857600",
        ]
    }

    static func coordinatorConfig(_ config: BrokerConfig, numPartitions: Int32) -> GroupCoordinatorConfig {
        var c = GroupCoordinatorConfig()
        c.offsetsTopicNumPartitions = numPartitions
        c.groupMinSessionTimeoutMs = Int32(clamping: config.groupMinSessionTimeoutMs)
        c.groupMaxSessionTimeoutMs = Int32(clamping: config.groupMaxSessionTimeoutMs)
        c.groupInitialRebalanceDelayMs = Int32(clamping: config.groupInitialRebalanceDelayMs)
        c.offsetsRetentionMs = Int64(config.offsetsRetentionMinutes) * 60_000
        if let v = config.raw["group.max.size"].flatMap(Int.init) { c.groupMaxSize = v }
        if let v = config.raw["offset.metadata.max.bytes"].flatMap(Int.init) { c.offsetMetadataMaxBytes = v }
        if let v = config.raw["offsets.retention.check.interval.ms"].flatMap(Int64.init) {
            c.offsetsRetentionCheckIntervalMs = max(1, v)
        }
        // KIP-848 consumer groups.
        if let v = config.raw["group.consumer.session.timeout.ms"].flatMap(Int32.init) { c.consumerGroupSessionTimeoutMs = v }
        if let v = config.raw["group.consumer.heartbeat.interval.ms"].flatMap(Int32.init) { c.consumerGroupHeartbeatIntervalMs = v }
        if let v = config.raw["group.consumer.max.size"].flatMap(Int.init) { c.consumerGroupMaxSize = v }
        if let list = config.raw["group.consumer.assignors"] {
            // Kafka names them by class (org.apache.kafka.coordinator.group.assignor.UniformAssignor) or short name.
            let assignors = list.split(separator: ",").compactMap { entry -> ConsumerGroupAssignor? in
                let name = entry.trimmingWhitespaces().lowercased()
                return ConsumerGroupAssignor.allCases.first { name == $0.rawValue || name.hasSuffix(".\($0.rawValue)assignor") }
            }
            if !assignors.isEmpty { c.consumerGroupAssignors = assignors }
        }
        return c
    }
}

extension Broker {
    func routeCoordinatorApis(_ ctx: RequestContext, body b: inout ByteBuffer) throws -> EventLoopFuture<ByteBuffer?> {
        switch ctx.apiKey {
        case .findCoordinator: return try serveNow(FindCoordinatorRequest.self, ctx, body: &b, findCoordinator)
        case .joinGroup: return try serve(JoinGroupRequest.self, ctx, body: &b, joinGroup)
        case .syncGroup: return try serve(SyncGroupRequest.self, ctx, body: &b, syncGroup)
        case .heartbeat: return try serve(HeartbeatRequest.self, ctx, body: &b, heartbeat)
        case .leaveGroup: return try serve(LeaveGroupRequest.self, ctx, body: &b, leaveGroup)
        case .offsetCommit: return try serve(OffsetCommitRequest.self, ctx, body: &b, offsetCommit)
        case .offsetFetch: return try serve(OffsetFetchRequest.self, ctx, body: &b, offsetFetch)
        case .describeGroups: return try serve(DescribeGroupsRequest.self, ctx, body: &b, describeGroups)
        case .listGroups: return try serve(ListGroupsRequest.self, ctx, body: &b, listGroups)
        case .deleteGroups: return try serve(DeleteGroupsRequest.self, ctx, body: &b, deleteGroups)
        case .offsetDelete: return try serve(OffsetDeleteRequest.self, ctx, body: &b, offsetDelete)
        case .consumerGroupHeartbeat:
            return try serve(ConsumerGroupHeartbeatRequest.self, ctx, body: &b, consumerGroupHeartbeat)
        case .consumerGroupDescribe:
            return try serve(ConsumerGroupDescribeRequest.self, ctx, body: &b, consumerGroupDescribe)
        default:
            return try routeTransactionApis(ctx, body: &b)
        }
    }

    /// Runs a group request on the coordinator without blocking the event loop: `body` runs on a task, after the
    /// connection's earlier group requests, and the future completes on the connection's event loop when it
    /// returns (JoinGroup may wait a whole rebalance).
    /// When the coordinator cannot serve (not started, loading, `__consumer_offsets` not creatable) the request is
    /// answered at once with `failure(code)`.
    func withGroupCoordinator<R: Sendable>(
        _ ctx: RequestContext, failure: (Int16) -> R,
        _ body: @escaping @Sendable (GroupCoordinatorService) async -> R
    ) -> EventLoopFuture<R?> {
        guard coordinator.ensureOffsetsTopic(broker: self) else {
            return ctx.eventLoop.makeSucceededFuture(failure(CoordinatorErrorCode.coordinatorNotAvailable))
        }
        switch coordinator.availability() {
        case .unavailable(let code):
            return ctx.eventLoop.makeSucceededFuture(failure(code))
        case .ready(let service):
            let work = coordinator.serialized(connection: ctx.connection.connectionId) { await body(service) }
            return ctx.eventLoop.makeFutureWithTask { await work.value }.map { Optional.some($0) }
        }
    }

    /// The `host:port` clients reach this broker at (the advertised endpoint of the listener they came through).
    func coordinatorEndpoint(_ ctx: RequestContext) -> (nodeId: Int32, host: String, port: Int32) {
        let endpoint = advertisedEndpoint(listenerName: ctx.connection.listenerName)
        return (brokerId, endpoint.host, Int32(endpoint.port))
    }
}
