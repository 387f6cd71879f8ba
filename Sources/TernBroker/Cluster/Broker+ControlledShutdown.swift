import FoundationEssentials
import KafkaProtocol
import TernStorage

/// Kafka's controlled shutdown (`controlled.shutdown.enable`, default true): before a broker in a cluster stops
/// serving, it asks the controller (ControlledShutdown, key 7) to hand the leadership it holds to other ISR
/// members, and waits until it has learnt the new leaders. Producers then get NOT_LEADER_OR_FOLLOWER from it and
/// move on at once, instead of waiting for the session timeout that a plain exit would cost.
extension Broker {
    /// Call while the listeners still accept (clients must be able to hear NOT_LEADER_OR_FOLLOWER).
    /// Gives up after `controlled.shutdown.max.retries` attempts, `controlled.shutdown.retry.backoff.ms` apart.
    public func controlledShutdown() async {
        guard let store = zooKeeperStore, let controller else { return }
        guard (config.raw["controlled.shutdown.enable"] ?? "true").lowercased() != "false" else { return }
        let retries = config.raw["controlled.shutdown.max.retries"].flatMap { Int($0) } ?? 3
        let backoffMs = config.raw["controlled.shutdown.retry.backoff.ms"].flatMap { Int($0) } ?? 5000
        for attempt in 1...max(retries, 1) {
            do {
                let remaining: [TopicPartition]
                if controller.isActive {
                    let (code, left) = controller.controlledShutdown(brokerId: brokerId, brokerEpoch: metadataCache.brokerEpoch)
                    guard code == .none else { throw BrokerError.metadata("controlled shutdown refused: error \(code.rawValue)") }
                    remaining = left
                } else {
                    guard let controllerId = store.controllerId() else { throw BrokerError.metadata("no controller") }
                    let link = try await connectToBroker(controllerId)
                    defer { link.close() }
                    var request = ControlledShutdownRequest()
                    request.brokerId = brokerId
                    request.brokerEpoch = metadataCache.brokerEpoch  // v2+ (KIP-380)
                    let response = try await link.send(request, version: 3, flexible: true)
                    guard response.errorCode == 0 else {
                        throw BrokerError.metadata("controller \(controllerId) answered error \(response.errorCode)")
                    }
                    remaining = response.remainingPartitions.map { TopicPartition(topic: $0.topicName, partition: $0.partitionIndex) }
                }
                await waitUntilLeadershipMoved(keeping: Set(remaining), deadline: Date().addingTimeInterval(3))
                if remaining.isEmpty {
                    logger.info("controlled shutdown succeeded: leadership moved to other replicas")
                    return
                }
                logger.warning("controlled shutdown attempt \(attempt): still leading \(remaining.map(\.description)) (no other live ISR member)")
            } catch {
                logger.warning("controlled shutdown attempt \(attempt) failed: \(error)")
            }
            if attempt < retries { try? await Task.sleep(for: .milliseconds(backoffMs)) }
        }
        logger.warning("proceeding to unclean shutdown after \(retries) controlled shutdown attempt(s)")
    }

    /// The controller wrote the new states before answering; its LeaderAndIsr requests arrive a moment later.
    private func waitUntilLeadershipMoved(keeping remaining: Set<TopicPartition>, deadline: Date) async {
        while Date() < deadline {
            let moving = replicaManager.allPartitions.filter { $0.isLeader && !remaining.contains($0.topicPartition) }
            if moving.isEmpty { return }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}
