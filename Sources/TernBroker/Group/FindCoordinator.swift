import KafkaProtocol
import TernCoordinator

/// FindCoordinator (key 10), versions 0-6.
/// v0-3 carry one `key` (v0 always a group); v4+ a batch of `coordinator_keys` of one `key_type`, answered one
/// `Coordinator` entry per key (KIP-699). Key type 0 (group): this broker, at the advertised endpoint of the
/// listener the client connected through, after creating `__consumer_offsets` if needed (Kafka answers
/// COORDINATOR_NOT_AVAILABLE while it creates the topic; Tern creates it before answering). Key type 1
/// (transaction): this broker likewise, after creating `__transaction_state` if needed. Any other key type
/// (share groups included, which Tern does not run): INVALID_REQUEST. The error message is null without an error,
/// otherwise Kafka's default message for the code. Errors carry node id -1, host "" and port -1 (`Node.noNode`).
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

    private struct LocatedCoordinator {
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
        switch keyType {
        case 0:
            guard coordinator.ensureOffsetsTopic(broker: self) else {
                return .error(.coordinatorNotAvailable, "The coordinator is not available.")
            }
            let partition = GroupPartitioner.partition(for: key, numPartitions: coordinator.offsetsTopicPartitionCount)
            guard replicaManager.partition(topic: ConsumerOffsetsLog.topicName, index: partition) != nil else {
                return .error(.coordinatorNotAvailable, "The coordinator is not available.")
            }
            let endpoint = coordinatorEndpoint(ctx)
            return LocatedCoordinator(errorCode: 0, errorMessage: nil, nodeId: endpoint.nodeId, host: endpoint.host, port: endpoint.port)
        case 1:
            // The transaction coordinator (Txn/): this broker leads every `__transaction_state` partition.
            guard transactions.ensureStateTopic(broker: self) else {
                return .error(.coordinatorNotAvailable, "The coordinator is not available.")
            }
            let endpoint = coordinatorEndpoint(ctx)
            return LocatedCoordinator(errorCode: 0, errorMessage: nil, nodeId: endpoint.nodeId, host: endpoint.host, port: endpoint.port)
        default:
            return .error(.invalidRequest, "Unknown coordinator type \(keyType)")
        }
    }
}
