import KafkaProtocol

/// Heartbeats of the classic protocol. A background task sends one every `heartbeat.interval.ms`, so a member
/// whose application is busy between polls stays in the group for up to `max.poll.interval.ms` (Java's heartbeat
/// thread). The task never rejoins by itself: it only marks the membership, and the next `poll` rejoins.
extension KafkaConsumer {
    func startHeartbeats() {
        heartbeatTask?.cancel()
        let interval = config.heartbeatInterval
        heartbeatTask = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: min(interval, .milliseconds(100)))
                guard let self, !Task.isCancelled else { return }
                try? await self.heartbeat()
            }
        }
    }

    /// Sends a Heartbeat when one is due and the member is settled in a generation.
    func heartbeat() async throws {
        if group?.consumerProtocol == true {
            try await consumerGroupHeartbeat()
            return
        }
        guard let g = group, !g.joining, !g.needsJoin, g.generationId >= 0, !closed,
              ContinuousClock.now - g.lastHeartbeat >= config.heartbeatInterval else { return }
        group?.lastHeartbeat = .now
        var request = HeartbeatRequest()
        request.groupId = g.groupId
        request.generationId = g.generationId
        request.memberId = g.memberId
        let response = try await cluster.send(request, to: g.coordinator)
        // A join may have run while the request was in flight; its result belongs to the old generation.
        guard let now = group, now.generationId == g.generationId, now.memberId == g.memberId, !now.joining else { return }
        switch ErrorCode(response.errorCode) {
        case .none: break
        case .rebalanceInProgress: group?.needsJoin = true
        case .unknownMemberId, .illegalGeneration, .fencedInstanceId:
            group?.memberId = ""
            group?.generationId = -1
            group?.needsJoin = true
            // Fenced: the partitions may already be someone else's, so they are lost rather than revoked.
            let lost = assignment
            assign([])
            if !lost.isEmpty { await rebalanceListener?.onPartitionsLost(self, lost) }
        case .notCoordinator, .coordinatorNotAvailable:
            group?.coordinator = -1
            group?.needsJoin = true
        case let code: throw KafkaClientError.broker(code, "heartbeat of group \(g.groupId)")
        }
    }
}
