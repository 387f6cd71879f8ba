import KafkaProtocol
import NIOCore
import TernStorage

/// acks=all in a cluster: the response waits until every in-sync replica has the batch, that is until the
/// leader's high watermark reaches the log end offset seen right after the append, bounded by the request's
/// `timeout_ms`. Outcomes per partition: success; REQUEST_TIMED_OUT (the batch is in the leader's log but not
/// known to be replicated, as Kafka answers); NOT_LEADER_OR_FOLLOWER when leadership moved meanwhile;
/// NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrank below `min.insync.replicas` before the batch committed.
extension Broker {
    struct ReplicationWait: Sendable {
        var topicIndex: Int
        var partitionIndex: Int
        var partition: Partition
        var requiredOffset: Int64
    }

    func awaitReplication(
        _ response: ProduceResponse, _ waits: [ReplicationWait], timeoutMs: Int32, _ ctx: RequestContext
    ) -> EventLoopFuture<ProduceResponse?> {
        @Sendable func pending() -> [ReplicationWait] {
            waits.filter { $0.partition.isLeader && $0.partition.log.highWatermark < $0.requiredOffset }
        }
        if pending().isEmpty { return ctx.eventLoop.makeSucceededFuture(settle(response, waits)) }
        let deadline = NIODeadline.now() + .milliseconds(Int64(max(timeoutMs, 0)))
        return ctx.eventLoop.makeFutureWithTask { [self] in
            while true {
                let left = pending()
                let remaining = deadline - NIODeadline.now()
                if left.isEmpty || remaining <= .zero { break }
                let keys = left.map { FetchPurgatory.Key(topic: $0.partition.topicPartition.topic, partition: $0.partition.topicPartition.partition) }
                // Short slices: a wake-up that races the registration costs at most 50 ms.
                await purgatory.wait(for: keys, timeout: min(remaining, .milliseconds(50)), on: ctx.eventLoop)
            }
            return settle(response, waits)
        }
    }

    private func settle(_ response: ProduceResponse, _ waits: [ReplicationWait]) -> ProduceResponse {
        var response = response
        for w in waits {
            var p = response.responses[w.topicIndex].partitionResponses[w.partitionIndex]
            if !w.partition.isLeader {
                p.errorCode = ErrorCode.notLeaderOrFollower.rawValue
            } else if w.partition.log.highWatermark < w.requiredOffset {
                if w.partition.inSyncReplicaCount < w.partition.log.config.minInsyncReplicas {
                    p.errorCode = ErrorCode.notEnoughReplicasAfterAppend.rawValue
                } else {
                    p.errorCode = ErrorCode.requestTimedOut.rawValue
                }
            } else {
                continue
            }
            p.baseOffset = -1
            response.responses[w.topicIndex].partitionResponses[w.partitionIndex] = p
        }
        return response
    }
}
