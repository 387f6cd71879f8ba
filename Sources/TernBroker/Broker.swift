import FoundationEssentials
import KafkaProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import TernCluster
import TernNetwork
import TernStorage

/// A Kafka broker: owns the logs (through `ReplicaManager`), the metadata store, the coordinators, and answers
/// every request through `RequestDispatcher`. One instance serves all connections concurrently.
public final class Broker: KafkaRequestHandler, Sendable {
    public let config: BrokerConfig
    public let clusterId: String
    let logger: Logger
    let eventLoopGroup: any EventLoopGroup
    let metadataStore: any MetadataStore
    let replicaManager: ReplicaManager
    let fetchSessions = FetchSessionCache()
    let purgatory = FetchPurgatory()
    let authorizer = Authorizer()
    let metrics = BrokerMetrics()
    let producerIds: ProducerIdManager
    let coordinator: CoordinatorWiring
    let transactions = TransactionWiring()
    /// Cluster mode (`zookeeper.connect`): the controller this broker runs for; nil when alone.
    let controller: ClusterController?
    /// Cluster mode: replica fetchers and the ISR check (Broker+Cluster.swift).
    let clusterRuntime = ClusterRuntime()
    /// Cluster mode: partition states and live brokers as the controller last told them (UpdateMetadata).
    let metadataCache = MetadataCache()
    /// Cluster mode: `/config/brokers/<id>` and `/config/brokers/<default>` (DynamicBrokerConfig.swift).
    let dynamicConfigs = DynamicBrokerConfigs()
    let advertised = NIOLockedValueBox<[KafkaListener]>([])
    private let background = NIOLockedValueBox<[RepeatedTask]>([])

    public init(config: BrokerConfig, eventLoopGroup: any EventLoopGroup, logger: Logger = Logger(label: "tern.broker")) throws {
        self.config = config
        self.logger = logger
        self.eventLoopGroup = eventLoopGroup
        guard let firstDir = config.logDirs.first else { throw BrokerError.config("log.dirs: at least one directory is needed") }
        for dir in config.logDirs {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        let localClusterId = try MetaProperties.loadOrCreate(logDir: firstDir, nodeId: config.brokerId).clusterId
        if let connect = config.zookeeperConnect {
            let store = try Self.connectZooKeeper(connect, config: config, logger: logger)
            self.clusterId = try store.clusterId(proposing: localClusterId)
            if clusterId != localClusterId {
                logger.notice("cluster id \(clusterId) from ZooKeeper (meta.properties has \(localClusterId))")
            }
            self.metadataStore = store
            self.controller = ClusterController(
                store: store, brokerId: Int32(config.brokerId), settings: ControllerSettings(raw: config.raw), logger: logger)
        } else {
            self.clusterId = localClusterId
            self.metadataStore = try EmbeddedMetadataStore(directory: firstDir)
            self.controller = nil
        }
        self.replicaManager = try ReplicaManager(config: config, store: metadataStore, logger: logger)
        self.producerIds = try ProducerIdManager(
            directory: firstDir, claimBlock: ProducerIdManager.zooKeeperBlocks(metadataStore, brokerId: Int32(config.brokerId)))
        self.coordinator = CoordinatorWiring()
        self.advertised.withLockedValue { $0 = config.advertisedListeners }
    }

    /// Called once the listeners are bound: ports chosen by the OS (port 0) become the advertised ones.
    public func listenersBound(_ bound: [KafkaListener]) {
        advertised.withLockedValue { $0 = config.advertised(boundListeners: bound) }
    }

    /// Opens the internal coordinators and starts background work (retention, cleaning, checkpoints).
    public func start() throws {
        try startCluster()
        try coordinator.start(broker: self)
        transactions.start(broker: self)
        let loop = eventLoopGroup.any()
        let interval = TimeAmount.milliseconds(Int64(max(config.logRetentionCheckIntervalMs, 100)))
        let retention = loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [weak self] _ in
            self?.replicaManager.runRetention()
        }
        let backoff = TimeAmount.milliseconds(Int64(config.raw["log.cleaner.backoff.ms"].flatMap { Int($0) } ?? 15000))
        let cleaner = loop.scheduleRepeatedTask(initialDelay: backoff, delay: backoff) { [weak self] _ in
            self?.replicaManager.runCleaner()
        }
        let checkpoint = loop.scheduleRepeatedTask(initialDelay: .seconds(60), delay: .seconds(60)) { [weak self] _ in
            self?.replicaManager.checkpoint()
        }
        background.withLockedValue { $0 = [retention, cleaner, checkpoint] }
    }

    /// Clean shutdown: background tasks stop, parked fetches answer, logs flush and write their checkpoints.
    public func shutdown() {
        // First leave the cluster: fetchers stop appending, and closing the ZooKeeper session hands any leadership
        // left (controlledShutdown() moves it earlier, through the controller) to the other replicas at once.
        stopCluster()
        background.withLockedValue { tasks in
            for task in tasks { task.cancel() }
            tasks = []
        }
        purgatory.notifyAll()
        transactions.shutdown()
        coordinator.shutdown()
        replicaManager.shutdown()
    }

    /// This broker's endpoint on the listener a client connected through (clients connect to exactly this).
    func advertisedEndpoint(listenerName: String) -> KafkaListener {
        let all = advertised.withLockedValue { $0 }
        return all.first { $0.name == listenerName } ?? all.first ?? KafkaListener(
            name: "PLAINTEXT", host: "127.0.0.1", port: 9092, securityProtocol: .plaintext)
    }

    var brokerId: Int32 { Int32(config.brokerId) }

    static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
