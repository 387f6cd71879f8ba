import KafkaProtocol
import NIOCore

/// Classic group membership of a consumer: FindCoordinator, JoinGroup (with MEMBER_ID_REQUIRED) offering every
/// assignor of `partition.assignment.strategy`, SyncGroup with the assignment computed by the leader, auto-commit
/// and rejoining driven from `poll`, Heartbeat from a background task (KafkaConsumer+Heartbeat.swift), LeaveGroup
/// on close.
struct GroupMembership: Sendable {
    var groupId: String
    var topics: [String]
    /// A pattern subscription: `topics` is re-derived from metadata every `metadata.max.age.ms`.
    var pattern: String?
    var lastMetadataCheck = ContinuousClock.now
    /// The assignor the coordinator chose in the last generation.
    var assignor: PartitionAssignor?
    /// True while joinGroup runs, so the heartbeat task leaves the membership alone.
    var joining = false
    /// group.protocol=consumer (KIP-848): `generationId` holds the member epoch.
    var consumerProtocol = false
    /// The interval the coordinator asked for (KIP-848), else heartbeat.interval.ms.
    var heartbeatInterval: Duration?
    var memberId = ""
    var generationId: Int32 = -1
    var coordinator: Int32 = -1
    var needsJoin = true
    var lastHeartbeat = ContinuousClock.now
    var lastCommit = ContinuousClock.now
}

extension KafkaConsumer {
    /// Joins `group.id` and consumes the partitions the group assigns; `listener` hears of each rebalance.
    public func subscribe(_ topics: [String], listener: (any ConsumerRebalanceListener)? = nil) async throws {
        try await subscribe(GroupMembership(groupId: try requireGroupId(), topics: topics), listener)
    }

    /// Subscribes to every topic whose whole name matches `pattern` (a regular expression, as Java's
    /// subscribe(Pattern)); topics created or deleted later are picked up every `metadata.max.age.ms`.
    public func subscribe(pattern: String, listener: (any ConsumerRebalanceListener)? = nil) async throws {
        do { _ = try Regex(pattern) } catch {
            throw KafkaClientError(.invalidArgument, "invalid topic pattern \(pattern): \(error)")
        }
        var g = GroupMembership(groupId: try requireGroupId(), topics: [])
        g.pattern = pattern
        g.topics = try await matchingTopics(pattern)
        try await subscribe(g, listener)
    }

    private func requireGroupId() throws -> String {
        guard let groupId = config.groupId else {
            throw KafkaClientError(.invalidArgument, "To use group management or offset commit APIs, you must provide a valid group.id in the consumer configuration.")
        }
        return groupId
    }

    private func subscribe(_ membership: GroupMembership, _ listener: (any ConsumerRebalanceListener)?) async throws {
        if group != nil { await leaveGroup() }
        rebalanceListener = listener
        var membership = membership
        if config.groupProtocolConsumer {
            // KIP-848 v1: the member names itself; epoch 0 asks to join.
            membership.consumerProtocol = true
            membership.memberId = KafkaUUID.random().description
            membership.generationId = 0
        }
        group = membership
        try await joinGroup()
        startHeartbeats()
    }

    /// The current subscription (for a pattern, the topics it matched at the last metadata check).
    public var subscription: [String] { group?.topics.sorted() ?? [] }

    func matchingTopics(_ pattern: String) async throws -> [String] {
        let regex = try Regex(pattern)
        let metadata = try await cluster.refreshMetadata(topics: nil)
        return metadata.topics.compactMap { t -> String? in
            guard let name = t.name, !t.isInternal, (try? regex.wholeMatch(in: name)) != nil else { return nil }
            return name
        }.sorted()
    }

    /// Commits the current positions of the assigned partitions.
    public func commitSync() async throws {
        try await commit(consumedPositions())
    }

    /// Commits `offsets` (the next offset to read per partition) for the group.
    public func commitSync(_ offsets: [TopicPartition: Int64]) async throws {
        try await commit(offsets)
    }

    func commit(_ offsets: [TopicPartition: Int64]) async throws {
        guard let g = group else { throw KafkaClientError(.invalidArgument, "commit needs a group.id and subscribe") }
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
                    group?.needsJoin = true
                }
                try check(p.errorCode, "commit offsets of \(t.name)-\(p.partitionIndex)")
            }
        }
        group?.lastCommit = .now
    }

    /// Committed offsets of the group for `tps` (-1: none).
    public func committed(_ tps: [TopicPartition]) async throws -> [TopicPartition: Int64] {
        guard let g = group else { throw KafkaClientError(.invalidArgument, "committed needs a group.id and subscribe") }
        return try await KafkaAdmin.fetchOffsets(cluster: cluster, coordinator: g.coordinator, groupId: g.groupId, tps)
    }

    func groupPoll() async throws {
        guard var g = group else { return }
        if let pattern = g.pattern, ContinuousClock.now - g.lastMetadataCheck >= config.metadataMaxAge {
            let topics = try await matchingTopics(pattern)
            g = group ?? g
            g.lastMetadataCheck = .now
            if topics != g.topics.sorted() {
                g.topics = topics
                g.needsJoin = true
            }
            group = g
        }
        if g.needsJoin {
            try await joinGroup()
            return
        }
        if config.enableAutoCommit && ContinuousClock.now - g.lastCommit >= config.autoCommitInterval {
            try? await commitSync()
        }
        // The heartbeat task only sends heartbeats; a poll without one running (or just after it noticed a
        // rebalance) sends its own so the rejoin is not delayed.
        try await heartbeat()
        if group?.needsJoin == true { try await joinGroup() }
    }

    func joinGroup() async throws {
        guard var g = group else { return }
        if g.consumerProtocol {
            try await consumerGroupJoin()
            return
        }
        group?.joining = true
        defer { group?.joining = false }
        if config.enableAutoCommit && g.generationId >= 0 { try? await commitSync() }
        // Eager assignors give up everything before joining; cooperative ones keep their partitions and report
        // them as owned, so the leader can keep them where they are.
        let owned = assignment
        if g.generationId >= 0, g.assignor?.isCooperative != true, !owned.isEmpty {
            await rebalanceListener?.onPartitionsRevoked(self, owned)
            assign([])
        }
        let kept = g.assignor?.isCooperative == true ? owned : []
        for attempt in 0..<20 {
            if g.coordinator < 0 { g.coordinator = try await findCoordinator(g.groupId) }
            var subscription = ConsumerProtocolSubscription()
            subscription.topics = g.topics.sorted()
            subscription.ownedPartitions = Dictionary(grouping: kept, by: \.topic).sorted { $0.key < $1.key }.map { topic, tps in
                var t = ConsumerProtocolSubscription.TopicPartition()
                t.topic = topic
                t.partitions = tps.map(\.partition).sorted()
                return t
            }
            var metadata = ByteBuffer()
            metadata.writeInteger(Int16(1))
            try subscription.write(to: &metadata, version: 1)

            var join = JoinGroupRequest()
            join.groupId = g.groupId
            join.sessionTimeoutMs = config.sessionTimeout.milliseconds
            join.rebalanceTimeoutMs = config.maxPollInterval.milliseconds
            join.memberId = g.memberId
            join.protocolType = "consumer"
            join.protocols = config.partitionAssignmentStrategy.map {
                var proto = JoinGroupRequest.JoinGroupRequestProtocol()
                proto.name = $0.rawValue
                proto.metadata = metadata
                return proto
            }
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
            guard let chosen = joined.protocolName.flatMap(PartitionAssignor.init(rawValue:)) else {
                throw KafkaClientError(.broker(.inconsistentGroupProtocol), "the group chose an assignor this consumer does not have: \(joined.protocolName ?? "none")")
            }
            g.memberId = joined.memberId
            g.generationId = joined.generationId

            var sync = SyncGroupRequest()
            sync.groupId = g.groupId
            sync.generationId = g.generationId
            sync.memberId = g.memberId
            sync.protocolType = "consumer"
            sync.protocolName = chosen.rawValue
            if joined.leader == joined.memberId {
                sync.assignments = try await leaderAssignments(chosen, joined.members)
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
            g.assignor = chosen
            g.needsJoin = false
            g.lastHeartbeat = .now
            g.joining = true
            group = g
            let current = Set(assignment)
            let revoked = current.subtracting(assigned).sorted()
            let added = Set(assigned).subtracting(current).sorted()
            if !revoked.isEmpty {
                // KIP-429: partitions the leader moved away are given up now, then a second rebalance lets the
                // new owner have them.
                if config.enableAutoCommit {
                    try? await commit(consumedPositions().filter { revoked.contains($0.key) })
                }
                await rebalanceListener?.onPartitionsRevoked(self, revoked)
                group?.needsJoin = true
            }
            assign(assigned)
            if !added.isEmpty || !chosen.isCooperative { await rebalanceListener?.onPartitionsAssigned(self, added) }
            return
        }
        throw KafkaClientError(.broker(.rebalanceInProgress), "could not join group \(g.groupId)")
    }

    private func leaderAssignments(_ assignor: PartitionAssignor, _ members: [JoinGroupResponse.JoinGroupResponseMember]) async throws -> [SyncGroupRequest.SyncGroupRequestAssignment] {
        var subscriptions: [String: PartitionAssignor.Member] = [:]
        for m in members {
            var data = m.metadata
            guard let v = data.readInteger(as: Int16.self) else { continue }
            let s = try ConsumerProtocolSubscription(from: &data, version: min(v, ConsumerProtocolSubscription.highestSupportedVersion))
            let owned = s.ownedPartitions.flatMap { t in t.partitions.map { TopicPartition(t.topic, $0) } }
            subscriptions[m.memberId] = PartitionAssignor.Member(topics: s.topics, owned: owned)
        }
        var counts: [String: Int32] = [:]
        for topic in Set(subscriptions.values.flatMap(\.topics)) {
            counts[topic] = Int32((try? await cluster.topic(topic, refresh: true))?.partitions.count ?? 0)
        }
        let plan = assignor.assign(subscriptions, partitionCounts: counts)
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

    func findCoordinator(_ groupId: String) async throws -> Int32 {
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
        heartbeatTask?.cancel()
        heartbeatTask = nil
        if group?.consumerProtocol == true {
            await consumerGroupLeave()
            return
        }
        guard let g = group, g.generationId >= 0 else { group = nil; return }
        if config.enableAutoCommit { try? await commitSync() }
        let owned = assignment
        if !owned.isEmpty { await rebalanceListener?.onPartitionsRevoked(self, owned) }
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
