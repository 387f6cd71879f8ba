import KafkaProtocol

/// Admin calls served by the controller: partition reassignment (KIP-455) and leader election (KIP-460).
/// Each goes to the controller named by Metadata; a NOT_CONTROLLER answer (the controller moved) refreshes the
/// metadata and retries, a few times, as Java's admin client does.
extension KafkaAdmin {
    /// A partition being moved: its full replica set and the replicas being added and removed.
    public struct PartitionReassignment: Sendable, Hashable {
        public var replicas: [Int32]
        public var addingReplicas: [Int32]
        public var removingReplicas: [Int32]
    }

    /// A per-partition outcome: nil for success, else the broker's error.
    public typealias PartitionResults = [TopicPartition: KafkaClientError?]

    /// Starts moving partitions to new replica lists; nil replicas cancel a partition's move.
    public func alterPartitionReassignments(_ targets: [TopicPartition: [Int32]?], timeout: Duration = .seconds(30)) async throws -> PartitionResults {
        var request = AlterPartitionReassignmentsRequest()
        request.timeoutMs = timeout.milliseconds
        let byTopic = Dictionary(grouping: targets.keys, by: \.topic)
        request.topics = byTopic.keys.sorted().map { name in
            var t = AlterPartitionReassignmentsRequest.ReassignableTopic()
            t.name = name
            t.partitions = byTopic[name]!.sorted().map { tp in
                var p = AlterPartitionReassignmentsRequest.ReassignablePartition()
                p.partitionIndex = tp.partition
                p.replicas = targets[tp]!
                return p
            }
            return t
        }
        let response = try await sendToController(request) { $0.errorCode }
        try check(response.errorCode, "alter partition reassignments", message: response.errorMessage)
        var out: PartitionResults = [:]
        for t in response.responses {
            for p in t.partitions {
                let tp = TopicPartition(t.name, p.partitionIndex)
                let code = ErrorCode(p.errorCode)
                out[tp] = code.isError ? KafkaClientError.broker(code, "reassignment of \(tp)", message: p.errorMessage) : nil
            }
        }
        return out
    }

    /// The partitions being moved, among `partitions` (every one when nil).
    public func listPartitionReassignments(_ partitions: [TopicPartition]? = nil, timeout: Duration = .seconds(30)) async throws -> [TopicPartition: PartitionReassignment] {
        var request = ListPartitionReassignmentsRequest()
        request.timeoutMs = timeout.milliseconds
        request.topics = partitions.map { list in
            let byTopic = Dictionary(grouping: list, by: \.topic)
            return byTopic.keys.sorted().map { name in
                var t = ListPartitionReassignmentsRequest.ListPartitionReassignmentsTopics()
                t.name = name
                t.partitionIndexes = byTopic[name]!.map(\.partition).sorted()
                return t
            }
        }
        let response = try await sendToController(request) { $0.errorCode }
        try check(response.errorCode, "list partition reassignments", message: response.errorMessage)
        var out: [TopicPartition: PartitionReassignment] = [:]
        for t in response.topics {
            for p in t.partitions {
                out[TopicPartition(t.name, p.partitionIndex)] = PartitionReassignment(
                    replicas: p.replicas, addingReplicas: p.addingReplicas, removingReplicas: p.removingReplicas)
            }
        }
        return out
    }

    public enum ElectionType: Int8, Sendable {
        case preferred = 0
        case unclean = 1
    }

    /// ElectLeaders: per partition nil (a leader was elected) or the broker's error, e.g. ELECTION_NOT_NEEDED.
    /// `partitions` nil elects for every partition; the broker then reports only those it acted on or failed.
    public func electLeaders(_ type: ElectionType, partitions: [TopicPartition]?, timeout: Duration = .seconds(30)) async throws -> PartitionResults {
        var request = ElectLeadersRequest()
        request.electionType = type.rawValue
        request.timeoutMs = timeout.milliseconds
        request.topicPartitions = partitions.map { list in
            let byTopic = Dictionary(grouping: list, by: \.topic)
            return byTopic.keys.sorted().map { name in
                var t = ElectLeadersRequest.TopicPartitions()
                t.topic = name
                t.partitions = byTopic[name]!.map(\.partition).sorted()
                return t
            }
        }
        let response = try await sendToController(request) { $0.errorCode }
        try check(response.errorCode, "elect leaders")
        var out: PartitionResults = [:]
        for t in response.replicaElectionResults {
            for p in t.partitionResult {
                let tp = TopicPartition(t.topic, p.partitionId)
                let code = ErrorCode(p.errorCode)
                out[tp] = code.isError ? KafkaClientError.broker(code, "election for \(tp)", message: p.errorMessage) : nil
            }
        }
        return out
    }

    /// Sends to the current controller, retrying on NOT_CONTROLLER after a metadata refresh.
    func sendToController<R: KafkaRequestMessage>(_ request: R, errorCode: (R.Response) -> Int16) async throws -> R.Response {
        var last: R.Response?
        for attempt in 0..<5 {
            try await cluster.refreshMetadata(topics: [])
            let controller = await cluster.controllerId
            guard controller >= 0 else {
                if attempt == 4 { throw KafkaClientError(.broker(.notController), "no controller is known") }
                try await Task.sleep(for: .milliseconds(200))
                continue
            }
            let response = try await cluster.send(request, to: controller)
            guard ErrorCode(errorCode(response)) == .notController else { return response }
            last = response
            try await Task.sleep(for: .milliseconds(200))
        }
        return last!
    }
}
