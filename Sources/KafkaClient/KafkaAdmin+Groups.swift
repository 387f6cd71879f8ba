import KafkaProtocol
import NIOCore

/// Group administration: list, describe, committed offsets, reset and delete (kafka-consumer-groups.sh).
extension KafkaAdmin {
    public struct GroupListing: Sendable, Hashable {
        public var groupId: String
        public var protocolType: String
        public var state: String
    }

    public func listGroups() async throws -> [GroupListing] {
        try await cluster.refreshMetadata(topics: [])
        var out: [GroupListing] = []
        for node in await cluster.brokers.keys.sorted() {
            let response = try await cluster.send(ListGroupsRequest(), to: node)
            try check(response.errorCode, "list groups on broker \(node)")
            out += response.groups.map { GroupListing(groupId: $0.groupId, protocolType: $0.protocolType, state: $0.groupState) }
        }
        return out.sorted { $0.groupId < $1.groupId }
    }

    public struct GroupMember: Sendable, Hashable {
        public var memberId: String
        public var clientId: String
        public var host: String
        public var assignment: [TopicPartition]
    }

    public struct GroupDescription: Sendable, Hashable {
        public var groupId: String
        public var state: String
        public var protocolType: String
        public var protocolName: String
        public var members: [GroupMember]
        public var coordinator: Int32
    }

    public func coordinator(for groupId: String) async throws -> Int32 {
        var request = FindCoordinatorRequest()
        request.key = groupId
        request.coordinatorKeys = [groupId]
        let response = try await cluster.sendAny(request)
        let (code, node, message) = response.coordinators.first.map { ($0.errorCode, $0.nodeId, $0.errorMessage) }
            ?? (response.errorCode, response.nodeId, response.errorMessage)
        try check(code, "find coordinator for group \(groupId)", message: message)
        return node
    }

    public func describeGroup(_ groupId: String) async throws -> GroupDescription {
        let node = try await coordinator(for: groupId)
        var request = DescribeGroupsRequest()
        request.groups = [groupId]
        let response = try await cluster.send(request, to: node)
        guard let g = response.groups.first else { throw KafkaClientError(.protocolViolation, "empty DescribeGroups answer") }
        try check(g.errorCode, "describe group \(groupId)")
        return GroupDescription(
            groupId: g.groupId, state: g.groupState, protocolType: g.protocolType, protocolName: g.protocolData,
            members: g.members.map { m in
                var bytes = m.memberAssignment
                var tps: [TopicPartition] = []
                if g.protocolType == "consumer", bytes.readableBytes >= 2, let v = bytes.readInteger(as: Int16.self),
                   let a = try? ConsumerProtocolAssignment(from: &bytes, version: min(v, 3)) {
                    tps = a.assignedPartitions.flatMap { t in t.partitions.map { TopicPartition(t.topic, $0) } }
                }
                return GroupMember(memberId: m.memberId, clientId: m.clientId, host: m.clientHost, assignment: tps)
            },
            coordinator: node)
    }

    /// Committed offsets of a group; nil `tps` means every partition the group committed.
    public func listGroupOffsets(_ groupId: String, _ tps: [TopicPartition]? = nil) async throws -> [TopicPartition: Int64] {
        let node = try await coordinator(for: groupId)
        return try await Self.fetchOffsets(cluster: cluster, coordinator: node, groupId: groupId, tps)
    }

    static func fetchOffsets(cluster: KafkaClusterClient, coordinator: Int32, groupId: String, _ tps: [TopicPartition]?) async throws -> [TopicPartition: Int64] {
        var request = OffsetFetchRequest()
        request.groupId = groupId
        let topics = tps.map { Dictionary(grouping: $0, by: \.topic) }
        request.topics = topics?.map { var t = OffsetFetchRequest.OffsetFetchRequestTopic(); t.name = $0.key; t.partitionIndexes = $0.value.map(\.partition); return t }
        var group = OffsetFetchRequest.OffsetFetchRequestGroup()
        group.groupId = groupId
        group.topics = topics?.map { var t = OffsetFetchRequest.OffsetFetchRequestTopics(); t.name = $0.key; t.partitionIndexes = $0.value.map(\.partition); return t }
        request.groups = [group]
        let response = try await cluster.send(request, to: coordinator)
        var out: [TopicPartition: Int64] = [:]
        if let g = response.groups.first {
            try check(g.errorCode, "fetch offsets of group \(groupId)")
            for t in g.topics { for p in t.partitions {
                try check(p.errorCode, "fetch offset of \(t.name)-\(p.partitionIndex)")
                out[TopicPartition(t.name, p.partitionIndex)] = p.committedOffset
            } }
        } else {
            try check(response.errorCode, "fetch offsets of group \(groupId)")
            for t in response.topics { for p in t.partitions {
                try check(p.errorCode, "fetch offset of \(t.name)-\(p.partitionIndex)")
                out[TopicPartition(t.name, p.partitionIndex)] = p.committedOffset
            } }
        }
        return out
    }

    /// Commits offsets for a group with no active members (what --reset-offsets --execute does).
    public func alterGroupOffsets(_ groupId: String, _ offsets: [TopicPartition: Int64]) async throws {
        let node = try await coordinator(for: groupId)
        var request = OffsetCommitRequest()
        request.groupId = groupId
        request.generationIdOrMemberEpoch = -1
        request.topics = Dictionary(grouping: offsets, by: \.key.topic).map { topic, entries in
            var t = OffsetCommitRequest.OffsetCommitRequestTopic()
            t.name = topic
            t.partitions = entries.map { var p = OffsetCommitRequest.OffsetCommitRequestPartition(); p.partitionIndex = $0.key.partition; p.committedOffset = $0.value; return p }
            return t
        }
        let response = try await cluster.send(request, to: node)
        for t in response.topics { for p in t.partitions { try check(p.errorCode, "commit offset of \(t.name)-\(p.partitionIndex) for group \(groupId)") } }
    }

    public func deleteGroups(_ groupIds: [String]) async throws {
        for id in groupIds {
            let node = try await coordinator(for: id)
            var request = DeleteGroupsRequest()
            request.groupsNames = [id]
            let response = try await cluster.send(request, to: node)
            for r in response.results { try check(r.errorCode, "delete group \(r.groupId)") }
        }
    }
}
