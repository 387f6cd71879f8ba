import KafkaProtocol
import TernStorage

/// ElectLeaders (key 43), versions 0-2: election type 0 (preferred: the first replica of the assignment, when
/// it is live and in the ISR) or 1 (unclean: only for partitions without a live leader; any live replica, the
/// ISR first). Served by the controller; any other broker answers NOT_CONTROLLER so the admin client retries
/// there. A null topic list means every partition, and then partitions needing no election are left out.
extension Broker {
    func electLeaders(_ request: ElectLeadersRequest, _ ctx: RequestContext) throws -> ElectLeadersResponse {
        var response = ElectLeadersResponse()
        // v0 has no election type: always preferred.
        let type = ClusterController.ElectionType(rawValue: ctx.apiVersion >= 1 ? request.electionType : 0)
        let requested = request.topicPartitions.map { topics in
            topics.flatMap { t in t.partitions.map { TopicPartition(topic: t.topic, partition: $0) } }
        }
        var results: [TopicPartition: (ErrorCode, String?)] = [:]
        if let controller, controller.isActive, let type {
            results = controller.electLeaders(type, partitions: requested)
        } else {
            let code: ErrorCode = type == nil ? .invalidRequest : .notController
            if ctx.apiVersion >= 1 {
                response.errorCode = code.rawValue
                return response
            }
            for tp in requested ?? [] { results[tp] = (code, nil) }
        }
        var byTopic: [String: [ElectLeadersResponse.PartitionResult]] = [:]
        for (tp, r) in results.sorted(by: { ($0.key.topic, $0.key.partition) < ($1.key.topic, $1.key.partition) }) {
            var p = ElectLeadersResponse.PartitionResult()
            p.partitionId = tp.partition
            p.errorCode = r.0.rawValue
            p.errorMessage = r.0 == .none ? nil : (r.1 ?? "")
            byTopic[tp.topic, default: []].append(p)
        }
        response.replicaElectionResults = byTopic.sorted { $0.key < $1.key }.map { topic, parts in
            var t = ElectLeadersResponse.ReplicaElectionResult()
            t.topic = topic
            t.partitionResult = parts
            return t
        }
        return response
    }
}
