import KafkaProtocol
import TernStorage

/// ListPartitionReassignments (key 46), version 0: the partitions being moved, each with its full replica set
/// (target and origin), the replicas being added and those being removed. A null topic list asks for every
/// partition; listed partitions that are not moving (or do not exist) are left out. Served by the controller;
/// any other broker answers NOT_CONTROLLER at the top level. A broker without ZooKeeper answers an empty list.
extension Broker {
    func listPartitionReassignments(_ request: ListPartitionReassignmentsRequest, _ ctx: RequestContext) -> ListPartitionReassignmentsResponse {
        var response = ListPartitionReassignmentsResponse()
        let wanted = request.topics.map { topics in
            topics.flatMap { t in t.partitionIndexes.map { TopicPartition(topic: t.name, partition: $0) } }
        }
        // A broker without ZooKeeper is the whole cluster: nothing can be moving.
        if zooKeeperStore == nil { return response }
        guard let controller, let ongoing = controller.listPartitionReassignments(wanted) else {
            response.errorCode = ErrorCode.notController.rawValue
            response.errorMessage = Self.notControllerMessage
            return response
        }
        var byTopic: [String: [ListPartitionReassignmentsResponse.OngoingPartitionReassignment]] = [:]
        for (tp, set) in ongoing.sorted(by: { ($0.key.topic, $0.key.partition) < ($1.key.topic, $1.key.partition) }) {
            var p = ListPartitionReassignmentsResponse.OngoingPartitionReassignment()
            p.partitionIndex = tp.partition
            p.replicas = set.replicas
            p.addingReplicas = set.addingReplicas
            p.removingReplicas = set.removingReplicas
            byTopic[tp.topic, default: []].append(p)
        }
        response.topics = byTopic.sorted { $0.key < $1.key }.map { name, partitions in
            var t = ListPartitionReassignmentsResponse.OngoingTopicReassignment()
            t.name = name
            t.partitions = partitions
            return t
        }
        return response
    }
}
