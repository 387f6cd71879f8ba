import KafkaProtocol
import NIOCore
import TernCoordinator

/// ConsumerGroupHeartbeat (key 68), versions 0-1 (KIP-848, `group.protocol=consumer`).
/// Joins (epoch 0), heartbeats, and leaves (-1, or -2 for a static member) a consumer group whose assignment the
/// coordinator computes. Owned partitions and the returned assignment name topics by id on the wire; the broker
/// maps them to names for the coordinator with its topic metadata, dropping ids it does not know (deleted
/// topics). v1 is what librdkafka 2.10+ requires: the client chooses its member id (an empty one is
/// INVALID_REQUEST) and may subscribe by regex, which Tern does not evaluate yet (INVALID_REQUEST; differs from
/// Kafka 4.0). An empty group id is INVALID_REQUEST, as in Kafka.
extension Broker {
    func consumerGroupHeartbeat(_ request: ConsumerGroupHeartbeatRequest, _ ctx: RequestContext)
        -> EventLoopFuture<ConsumerGroupHeartbeatResponse?>
    {
        var owned: TopicPartitions?
        if let partitions = request.topicPartitions {
            var byName: TopicPartitions = [:]
            for tp in partitions {
                guard let topic = metadataStore.topic(id: tp.topicId) else { continue }
                byName[topic.name, default: []].formUnion(tp.partitions)
            }
            owned = byName
        }
        let input = ConsumerGroupHeartbeatInput(
            groupId: request.groupId, memberId: request.memberId, memberEpoch: request.memberEpoch,
            instanceId: request.instanceId, rackId: request.rackId, rebalanceTimeoutMs: request.rebalanceTimeoutMs,
            subscribedTopicNames: request.subscribedTopicNames, serverAssignor: request.serverAssignor,
            topicPartitions: owned, clientId: ctx.clientId, clientHost: Self.clientHost(ctx))
        let failed: @Sendable (Int16) -> ConsumerGroupHeartbeatResponse = { code in
            var r = ConsumerGroupHeartbeatResponse()
            r.errorCode = code
            r.memberId = request.memberId
            r.memberEpoch = request.memberEpoch
            return r
        }
        func invalid(_ message: String) -> EventLoopFuture<ConsumerGroupHeartbeatResponse?> {
            var r = failed(CoordinatorErrorCode.invalidRequest)
            r.errorMessage = message
            return ctx.eventLoop.makeSucceededFuture(r)
        }
        if request.groupId.isEmpty { return invalid("GroupId can't be empty.") }
        if ctx.apiVersion >= 1 {
            if request.memberId.isEmpty { return invalid("MemberId can't be empty.") }
            if let regex = request.subscribedTopicRegex, !regex.isEmpty {
                return invalid("SubscribedTopicRegex is not supported by this broker.")
            }
        }
        let store = metadataStore
        return withGroupCoordinator(ctx, failure: failed) { service in
            let result = await service.consumerGroupHeartbeat(input)
            var r = ConsumerGroupHeartbeatResponse()
            r.errorCode = result.errorCode
            r.errorMessage = result.errorMessage
            r.memberId = result.memberId
            r.memberEpoch = result.memberEpoch
            r.heartbeatIntervalMs = result.heartbeatIntervalMs
            if let assignment = result.assignment {
                var a = ConsumerGroupHeartbeatResponse.Assignment()
                a.topicPartitions = assignment.keys.sorted().compactMap { name in
                    guard let topic = store.topic(named: name) else { return nil }
                    var tp = ConsumerGroupHeartbeatResponse.TopicPartitions()
                    tp.topicId = topic.id
                    tp.partitions = assignment[name]!.sorted()
                    return tp
                }
                r.assignment = a
            }
            return r
        }
    }
}
