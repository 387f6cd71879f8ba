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
