import KafkaProtocol
import TernStorage

/// AlterPartitionReassignments (key 45), version 0 (KIP-455): moves partitions to new replica lists, or cancels a
/// move (null replicas). Served by the controller, which adds the new replicas, waits for them to join the ISR,
/// then drops the old ones (ClusterController+Reassignment.swift); the answer comes once each move has started.
/// Any other broker answers NOT_CONTROLLER at the top level, as Kafka's ZooKeeper-mode brokers did, and the admin
/// client retries on the controller. Per partition: INVALID_REPLICA_ASSIGNMENT (empty, duplicate or negative ids,
/// or new replicas on brokers that are not alive), NO_REASSIGNMENT_IN_PROGRESS (cancelling nothing),
/// UNKNOWN_TOPIC_OR_PARTITION.
extension Broker {
    static let notControllerMessage = "This is not the correct controller for this cluster."

    func alterPartitionReassignments(_ request: AlterPartitionReassignmentsRequest, _ ctx: RequestContext) -> AlterPartitionReassignmentsResponse {
        var response = AlterPartitionReassignmentsResponse()
        let requests = request.topics.flatMap { t in
            t.partitions.map { (TopicPartition(topic: t.name, partition: $0.partitionIndex), $0.replicas) }
        }
        guard let controller, let results = controller.alterPartitionReassignments(requests) else {
            response.errorCode = ErrorCode.notController.rawValue
            response.errorMessage = Self.notControllerMessage
            return response
        }
        var byTopic: [String: [AlterPartitionReassignmentsResponse.ReassignablePartitionResponse]] = [:]
        for (tp, result) in results.sorted(by: { ($0.key.topic, $0.key.partition) < ($1.key.topic, $1.key.partition) }) {
            var p = AlterPartitionReassignmentsResponse.ReassignablePartitionResponse()
            p.partitionIndex = tp.partition
            p.errorCode = result.code.rawValue
            p.errorMessage = result.code == .none ? nil : (result.message ?? Self.defaultMessage(result.code))
            byTopic[tp.topic, default: []].append(p)
        }
        response.responses = byTopic.sorted { $0.key < $1.key }.map { name, partitions in
            var t = AlterPartitionReassignmentsResponse.ReassignableTopicResponse()
            t.name = name
            t.partitions = partitions
            return t
        }
        return response
    }

    /// Kafka's default texts for the codes reassignment answers without a specific message.
    static func defaultMessage(_ code: ErrorCode) -> String? {
        switch code {
        case .noReassignmentInProgress: return "No partition reassignment is in progress."
        case .notController: return notControllerMessage
        default: return nil
        }
    }
}
