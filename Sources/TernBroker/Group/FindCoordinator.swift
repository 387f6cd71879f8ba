import KafkaProtocol
import TernCoordinator

/// FindCoordinator (key 10), versions 0-6.
/// v0-3 carry one `key` (v0 always a group); v4+ a batch of `coordinator_keys` of one `key_type`, answered one
/// `Coordinator` entry per key (KIP-699). Key type 0 (group) maps the key to partition
/// `abs(hash(key)) % offsets.topic.num.partitions` of `__consumer_offsets`, key type 1 (transaction) to partition
/// `abs(hash(key)) % transaction.state.log.num.partitions` of `__transaction_state`; the coordinator is that
/// partition's leader, at its advertised endpoint for the listener the client connected through. The internal
/// topic is created on first use; while it cannot be (a cluster with fewer live brokers than its replication
/// factor) or the partition has no live leader, the answer is COORDINATOR_NOT_AVAILABLE, as Kafka's. A broker alone
/// leads every partition and answers itself. Any other key type (share groups included, which Tern does not
/// run): INVALID_REQUEST. The error message is null without an error, otherwise Kafka's default message for the
/// code. Errors carry node id -1, host "" and port -1 (`Node.noNode`).
extension Broker {
    func findCoordinator(_ request: FindCoordinatorRequest, _ ctx: RequestContext) -> FindCoordinatorResponse {
        var response = FindCoordinatorResponse()
        if ctx.apiVersion >= 4 {
            response.coordinators = request.coordinatorKeys.map { key in
                let found = locateCoordinator(keyType: request.keyType, key: key, ctx)
                var c = FindCoordinatorResponse.Coordinator()
                c.key = key
                c.nodeId = found.nodeId
                c.host = found.host
                c.port = found.port
                c.errorCode = found.errorCode
                c.errorMessage = found.errorMessage
                return c
            }
        } else {
            let found = locateCoordinator(keyType: ctx.apiVersion == 0 ? 0 : request.keyType, key: request.key, ctx)
            response.errorCode = found.errorCode
            response.errorMessage = found.errorMessage
            response.nodeId = found.nodeId
            response.host = found.host
            response.port = found.port
        }
        return response
    }

    fileprivate struct LocatedCoordinator {
        var errorCode: Int16
        var errorMessage: String?
        var nodeId: Int32 = -1
        var host: String = ""
        var port: Int32 = -1

        static func error(_ code: ErrorCode, _ message: String) -> LocatedCoordinator {
            LocatedCoordinator(errorCode: code.rawValue, errorMessage: message)
        }
    }

    private func locateCoordinator(keyType: Int8, key: String, _ ctx: RequestContext) -> LocatedCoordinator {
        let topic: String
        let partition: Int32
        switch keyType {
        case 0:
            guard coordinator.ensureOffsetsTopic(broker: self) else { return .notAvailable }
            topic = ConsumerOffsetsLog.topicName
            partition = GroupPartitioner.partition(for: key, numPartitions: coordinator.offsetsTopicPartitionCount)
        case 1:
            guard transactions.ensureStateTopic(broker: self) else { return .notAvailable }
            topic = TransactionStateLog.topicName
            partition = GroupPartitioner.partition(for: key, numPartitions: transactions.stateTopicPartitionCount)
        default:
            return .error(.invalidRequest, "Unknown coordinator type \(keyType)")
        }
        guard zooKeeperStore != nil else {
            guard replicaManager.partition(topic: topic, index: partition) != nil else { return .notAvailable }
            let endpoint = coordinatorEndpoint(ctx)
            return LocatedCoordinator(errorCode: 0, errorMessage: nil, nodeId: endpoint.nodeId, host: endpoint.host, port: endpoint.port)
        }
        // Kafka answers from its metadata cache (what the controller last sent with UpdateMetadata).
        guard let leader = metadataCache.leadership(of: .init(topic: topic, partition: partition))?.leader, leader >= 0,
              let endpoint = Self.coordinatorNode(leader, listener: ctx.connection.listenerName, liveBrokers: metadataCache.liveBrokers())
        else { return .notAvailable }
        return LocatedCoordinator(errorCode: 0, errorMessage: nil, nodeId: leader, host: endpoint.host, port: Int32(endpoint.port))
    }

    /// The leader's endpoint on the client's listener, if the leader is registered (alive) and has that listener.
    static func coordinatorNode(_ leader: Int32, listener: String, liveBrokers: [Int32: ClusterBroker]) -> (host: String, port: Int)? {
        liveBrokers[leader]?.endpoints[listener]
    }
}

extension Broker.LocatedCoordinator {
    static var notAvailable: Self { .error(.coordinatorNotAvailable, "The coordinator is not available.") }
}
