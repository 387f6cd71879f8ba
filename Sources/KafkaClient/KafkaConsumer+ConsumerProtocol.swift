import KafkaProtocol

/// group.protocol=consumer (KIP-848): membership is one ConsumerGroupHeartbeat exchange. The member sends its
/// subscription and the partitions it owns; the coordinator answers with the member epoch and, when it changed,
/// the target assignment. The member gives up what is no longer in the target (revoked), takes the rest
/// (assigned) and says so in its next heartbeat; the coordinator hands out a partition only once its previous
/// owner has released it, so no client-side assignor and no second JoinGroup round are needed.
extension KafkaConsumer {
    /// Heartbeats with epoch 0 until the coordinator accepts the member (the first assignment may be empty while
    /// other members release partitions; later heartbeats bring them).
    func consumerGroupJoin() async throws {
        for attempt in 0..<20 {
            group?.lastHeartbeat = ContinuousClock.now - .seconds(3600)
            try await consumerGroupHeartbeat()
            if let g = group, g.generationId > 0 {
                group?.needsJoin = false
                return
            }
            try await Task.sleep(for: config.cluster.retryBackoff * (attempt + 1))
        }
        throw KafkaClientError(.broker(.coordinatorNotAvailable), "could not join group \(group?.groupId ?? "")")
    }

    func consumerGroupHeartbeat() async throws {
        guard var g = group, g.consumerProtocol, !g.joining, !closed,
              ContinuousClock.now - g.lastHeartbeat >= (g.heartbeatInterval ?? config.heartbeatInterval) else { return }
        group?.joining = true
        defer { group?.joining = false }
        if g.coordinator < 0 {
            g.coordinator = try await findCoordinator(g.groupId)
            group?.coordinator = g.coordinator
        }
        let owned = assignment
        let ids = try await topicIds(for: Set(g.topics).union(owned.map(\.topic)))
        var request = ConsumerGroupHeartbeatRequest()
        request.groupId = g.groupId
        request.memberId = g.memberId
        request.memberEpoch = g.generationId
        request.rebalanceTimeoutMs = config.maxPollInterval.milliseconds
        // Sent in full every time: simpler than tracking what changed, and always valid.
        request.subscribedTopicNames = g.topics.sorted()
        request.serverAssignor = config.groupRemoteAssignor
        request.topicPartitions = Dictionary(grouping: owned, by: \.topic).compactMap { topic, tps in
            guard let id = ids[topic] else { return nil }
            var t = ConsumerGroupHeartbeatRequest.TopicPartitions()
            t.topicId = id
            t.partitions = tps.map(\.partition).sorted()
            return t
        }
        group?.lastHeartbeat = .now
        let response = try await cluster.send(request, to: g.coordinator)
        switch ErrorCode(response.errorCode) {
        case .none: break
        case .unknownMemberId, .fencedMemberEpoch:
            // Fenced: rejoin with epoch 0 under the same id; the partitions may be someone else's already.
            group?.generationId = 0
            let lost = assignment
            assign([])
            if !lost.isEmpty { await rebalanceListener?.onPartitionsLost(self, lost) }
            return
        case .notCoordinator, .coordinatorNotAvailable, .coordinatorLoadInProgress:
            group?.coordinator = -1
            return
        case let code:
            throw KafkaClientError.broker(code, "consumer group heartbeat of \(g.groupId)", message: response.errorMessage)
        }
        if let id = response.memberId, !id.isEmpty { group?.memberId = id }
        group?.generationId = response.memberEpoch
        if response.heartbeatIntervalMs > 0 { group?.heartbeatInterval = .milliseconds(Int(response.heartbeatIntervalMs)) }
        guard let target = response.assignment else { return }
        var names = Dictionary(ids.map { ($0.value, $0.key) }, uniquingKeysWith: { a, _ in a })
        if target.topicPartitions.contains(where: { names[$0.topicId] == nil }) {
            _ = try await cluster.refreshMetadata(topics: nil)
            for t in await cluster.topics.values { names[t.topicId] = t.name }
        }
        let next = target.topicPartitions.flatMap { t in
            names[t.topicId].map { name in t.partitions.map { TopicPartition(name, $0) } } ?? []
        }
        let current = Set(owned)
        let revoked = current.subtracting(next).sorted()
        let added = Set(next).subtracting(current).sorted()
        if !revoked.isEmpty {
            if config.enableAutoCommit { try? await commit(consumedPositions().filter { revoked.contains($0.key) }) }
            await rebalanceListener?.onPartitionsRevoked(self, revoked)
        }
        assign(next)
        if !added.isEmpty { await rebalanceListener?.onPartitionsAssigned(self, added) }
        // Acknowledge the new ownership at once, so the coordinator can move on with the other members.
        if !revoked.isEmpty || !added.isEmpty { group?.lastHeartbeat = ContinuousClock.now - .seconds(3600) }
    }

    func consumerGroupLeave() async {
        guard let g = group else { return }
        if g.generationId > 0 {
            if config.enableAutoCommit { try? await commitSync() }
            let owned = assignment
            if !owned.isEmpty { await rebalanceListener?.onPartitionsRevoked(self, owned) }
            var request = ConsumerGroupHeartbeatRequest()
            request.groupId = g.groupId
            request.memberId = g.memberId
            request.memberEpoch = -1
            _ = try? await cluster.send(request, to: g.coordinator)
        }
        group = nil
    }

    private func topicIds(for topics: Set<String>) async throws -> [String: KafkaUUID] {
        var out: [String: KafkaUUID] = [:]
        for name in topics {
            if let info = try? await cluster.topic(name), info.topicId != .zero { out[name] = info.topicId }
        }
        return out
    }
}
