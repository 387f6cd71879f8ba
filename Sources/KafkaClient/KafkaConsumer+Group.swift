import KafkaProtocol
import NIOCore

/// Classic group membership of a consumer: FindCoordinator, JoinGroup (with MEMBER_ID_REQUIRED), SyncGroup with
/// the range assignment computed by the leader, Heartbeat and auto-commit driven from `poll`, LeaveGroup on close.
/// Heartbeats run inside `poll` rather than on a background thread, so a caller must poll within
/// `session.timeout.ms` to stay in the group.
struct GroupMembership: Sendable {
    var groupId: String
    var topics: [String]
    var memberId = ""
    var generationId: Int32 = -1
    var coordinator: Int32 = -1
    var needsJoin = true
    var lastHeartbeat = ContinuousClock.now
    var lastCommit = ContinuousClock.now
}

extension KafkaConsumer {
    /// Joins `group.id` and consumes the partitions the group assigns (range assignor).
    public func subscribe(_ topics: [String]) async throws {
        guard let groupId = config.groupId else {
            throw KafkaClientError(.invalidArgument, "To use group management or offset commit APIs, you must provide a valid group.id in the consumer configuration.")
        }
        group = GroupMembership(groupId: groupId, topics: topics)
        try await joinGroup()
    }

    /// Commits the current positions of the assigned partitions.
    public func commitSync() async throws {
        guard var g = group else { throw KafkaClientError(.invalidArgument, "commitSync needs a group.id and subscribe") }
        let offsets = consumedPositions()
        guard !offsets.isEmpty else { return }
        var request = OffsetCommitRequest()
        request.groupId = g.groupId
        request.generationIdOrMemberEpoch = g.generationId
        request.memberId = g.memberId
        request.topics = Dictionary(grouping: offsets, by: \.key.topic).map { topic, entries in
            var t = OffsetCommitRequest.OffsetCommitRequestTopic()
            t.name = topic
            t.partitions = entries.map {
                var p = OffsetCommitRequest.OffsetCommitRequestPartition()
                p.partitionIndex = $0.key.partition
                p.committedOffset = $0.value
                return p
            }
            return t
        }
        let response = try await cluster.send(request, to: g.coordinator)
        for t in response.topics {
            for p in t.partitions {
                let code = ErrorCode(p.errorCode)
                if code == .rebalanceInProgress || code == .illegalGeneration || code == .unknownMemberId {
                    g.needsJoin = true
                    group = g
                }
                try check(p.errorCode, "commit offsets of \(t.name)-\(p.partitionIndex)")
            }
        }
        g.lastCommit = .now
        group = g
    }

    /// Committed offsets of the group for `tps` (-1: none).
    public func committed(_ tps: [TopicPartition]) async throws -> [TopicPartition: Int64] {
        guard let g = group else { throw KafkaClientError(.invalidArgument, "committed needs a group.id and subscribe") }
        return try await KafkaAdmin.fetchOffsets(cluster: cluster, coordinator: g.coordinator, groupId: g.groupId, tps)
    }

    func groupPoll() async throws {
        guard var g = group else { return }
        if g.needsJoin {
            try await joinGroup()
            return
        }
        if config.enableAutoCommit && ContinuousClock.now - g.lastCommit >= config.autoCommitInterval {
            try? await commitSync()
            g = group!
        }
        guard ContinuousClock.now - g.lastHeartbeat >= config.heartbeatInterval else { return }
        var request = HeartbeatRequest()
        request.groupId = g.groupId
        request.generationId = g.generationId
        request.memberId = g.memberId
        let response = try await cluster.send(request, to: g.coordinator)
        g.lastHeartbeat = .now
        switch ErrorCode(response.errorCode) {
        case .none: break
        case .rebalanceInProgress: g.needsJoin = true
        case .unknownMemberId, .illegalGeneration, .fencedInstanceId:
            g.memberId = ""
            g.generationId = -1
            g.needsJoin = true
        case .notCoordinator, .coordinatorNotAvailable:
            g.coordinator = -1
            g.needsJoin = true
        case let code: throw KafkaClientError.broker(code, "heartbeat of group \(g.groupId)")
        }
        group = g
        if g.needsJoin { try await joinGroup() }
    }

    private func joinGroup() async throws {
        guard var g = group else { return }
        if config.enableAutoCommit && g.generationId >= 0 { try? await commitSync() }
        for attempt in 0..<20 {
            if g.coordinator < 0 { g.coordinator = try await findCoordinator(g.groupId) }
            var subscription = ConsumerProtocolSubscription()
            subscription.topics = g.topics.sorted()
            subscription.ownedPartitions = []
            var metadata = ByteBuffer()
            metadata.writeInteger(Int16(1))
            try subscription.write(to: &metadata, version: 1)

            var join = JoinGroupRequest()
            join.groupId = g.groupId
            join.sessionTimeoutMs = config.sessionTimeout.milliseconds
            join.rebalanceTimeoutMs = config.maxPollInterval.milliseconds
            join.memberId = g.memberId
            join.protocolType = "consumer"
            var proto = JoinGroupRequest.JoinGroupRequestProtocol()
            proto.name = RangeAssignor.name
            proto.metadata = metadata
            join.protocols = [proto]
            let joined = try await cluster.send(join, to: g.coordinator)
            let code = ErrorCode(joined.errorCode)
            if code == .memberIdRequired {
                g.memberId = joined.memberId
                continue
            }
            if code == .notCoordinator || code == .coordinatorNotAvailable || code == .coordinatorLoadInProgress {
                g.coordinator = -1
                try await Task.sleep(for: config.cluster.retryBackoff * (attempt + 1))
                continue
            }
            if code == .unknownMemberId { g.memberId = ""; continue }
            if code == .rebalanceInProgress { continue }
            try check(joined.errorCode, "join group \(g.groupId)")
            g.memberId = joined.memberId
            g.generationId = joined.generationId

            var sync = SyncGroupRequest()
            sync.groupId = g.groupId
            sync.generationId = g.generationId
            sync.memberId = g.memberId
            sync.protocolType = "consumer"
            sync.protocolName = RangeAssignor.name
            if joined.leader == joined.memberId {
                sync.assignments = try await leaderAssignments(joined.members)
            }
            let synced = try await cluster.send(sync, to: g.coordinator)
            let syncCode = ErrorCode(synced.errorCode)
            if syncCode == .rebalanceInProgress || syncCode == .illegalGeneration { continue }
            if syncCode == .unknownMemberId { g.memberId = ""; continue }
            try check(synced.errorCode, "sync group \(g.groupId)")
            var assignmentBytes = synced.assignment
            var assigned: [TopicPartition] = []
            if assignmentBytes.readableBytes >= 2, let v = assignmentBytes.readInteger(as: Int16.self) {
                let a = try ConsumerProtocolAssignment(from: &assignmentBytes, version: min(v, ConsumerProtocolAssignment.highestSupportedVersion))
                assigned = a.assignedPartitions.flatMap { t in t.partitions.map { TopicPartition(t.topic, $0) } }
            }
            g.needsJoin = false
            g.lastHeartbeat = .now
            group = g
            assign(assigned)
            return
        }
        throw KafkaClientError(.broker(.rebalanceInProgress), "could not join group \(g.groupId)")
    }

    private func leaderAssignments(_ members: [JoinGroupResponse.JoinGroupResponseMember]) async throws -> [SyncGroupRequest.SyncGroupRequestAssignment] {
        var subscriptions: [String: [String]] = [:]
        for m in members {
            var data = m.metadata
            guard let v = data.readInteger(as: Int16.self) else { continue }
            let s = try ConsumerProtocolSubscription(from: &data, version: min(v, ConsumerProtocolSubscription.highestSupportedVersion))
            subscriptions[m.memberId] = s.topics
        }
        var counts: [String: Int32] = [:]
        for topic in Set(subscriptions.values.flatMap { $0 }) {
            counts[topic] = Int32((try? await cluster.topic(topic, refresh: true))?.partitions.count ?? 0)
        }
        let plan = RangeAssignor.assign(subscriptions: subscriptions, partitionCounts: counts)
        return try plan.map { member, tps in
            var a = ConsumerProtocolAssignment()
            a.assignedPartitions = Dictionary(grouping: tps, by: \.topic).sorted { $0.key < $1.key }.map { topic, parts in
                var t = ConsumerProtocolAssignment.TopicPartition()
                t.topic = topic
                t.partitions = parts.map(\.partition).sorted()
                return t
            }
            var bytes = ByteBuffer()
            bytes.writeInteger(Int16(0))
            try a.write(to: &bytes, version: 0)
            var out = SyncGroupRequest.SyncGroupRequestAssignment()
            out.memberId = member
            out.assignment = bytes
            return out
        }
    }

    private func findCoordinator(_ groupId: String) async throws -> Int32 {
        var request = FindCoordinatorRequest()
        request.key = groupId
        request.keyType = 0
        request.coordinatorKeys = [groupId]
        for attempt in 0..<20 {
            let response = try await cluster.sendAny(request)
            let (code, node, message) = response.coordinators.first.map { ($0.errorCode, $0.nodeId, $0.errorMessage) }
                ?? (response.errorCode, response.nodeId, response.errorMessage)
            if code == 0 { return node }
            if !ErrorCode(code).isRetriable { try check(code, "find coordinator for group \(groupId)", message: message) }
            try await Task.sleep(for: config.cluster.retryBackoff * (attempt + 1))
        }
        throw KafkaClientError(.broker(.coordinatorNotAvailable), "no coordinator for group \(groupId)")
    }

    func fetchCommittedPositions(_ g: GroupMembership, _ tps: [TopicPartition]) async throws {
        guard g.coordinator >= 0 else { return }
        let committed = try await KafkaAdmin.fetchOffsets(cluster: cluster, coordinator: g.coordinator, groupId: g.groupId, tps)
        for (tp, offset) in committed where offset >= 0 && positions[tp] != nil { seek(tp, to: offset) }
    }

    func leaveGroup() async {
        guard let g = group, g.generationId >= 0 else { return }
        if config.enableAutoCommit { try? await commitSync() }
        var request = LeaveGroupRequest()
        request.groupId = g.groupId
        request.memberId = g.memberId
        var member = LeaveGroupRequest.MemberIdentity()
        member.memberId = g.memberId
        member.reason = "the consumer is being closed"
        request.members = [member]
        _ = try? await cluster.send(request, to: g.coordinator)
        group = nil
    }
}
