import KafkaProtocol
import NIOCore
import TernStorage

/// DeleteRecords in a cluster (Kafka's DelayedDeleteRecords): after the leader has moved its log start, the answer
/// waits until the partition's low watermark — the smallest log start offset over the leader and the followers on
/// live brokers, which report it in their fetches after taking the leader's — reaches the requested offset, bounded
/// by `timeout_ms`. Outcomes per partition: the low watermark; REQUEST_TIMED_OUT with -1 when the followers did
/// not follow in time (the leader has deleted already, as in Kafka); NOT_LEADER_OR_FOLLOWER when leadership moved.
/// Alone, the leader's answer is final at once.
extension Broker {
    func deleteRecordsAcrossReplicas(_ request: DeleteRecordsRequest, _ ctx: RequestContext) throws -> EventLoopFuture<DeleteRecordsResponse?> {
        let response = try deleteRecords(request, ctx)
        guard zooKeeperStore != nil else { return ctx.eventLoop.makeSucceededFuture(response) }
        var waits: [(topic: Int, partition: Int, replica: Partition, required: Int64)] = []
        for (t, topic) in response.topics.enumerated() {
            for (i, r) in topic.partitions.enumerated() where r.errorCode == 0 {
                guard let replica = replicaManager.partition(topic: topic.name, index: r.partitionIndex),
                      let asked = request.topics[t].partitions.first(where: { $0.partitionIndex == r.partitionIndex })
                else { continue }
                // -1 asked for the high watermark, which is where the leader's log start now is.
                let required = asked.offset == -1 ? r.lowWatermark : min(asked.offset, r.lowWatermark)
                waits.append((t, i, replica, required))
            }
        }
        if waits.isEmpty { return ctx.eventLoop.makeSucceededFuture(response) }
        let deadline = NIODeadline.now() + .milliseconds(Int64(max(request.timeoutMs, 0)))
        return ctx.eventLoop.makeFutureWithTask { [self, waits] in
            while true {
                let live = metadataStore.liveBrokers() ?? [:]
                let pending = waits.filter {
                    $0.replica.isLeader && $0.replica.lowWatermark(isAlive: { live[$0] != nil }) < $0.required
                }
                let remaining = deadline - NIODeadline.now()
                if pending.isEmpty || remaining <= .zero { break }
                let keys = pending.map { FetchPurgatory.Key(topic: $0.replica.topicPartition.topic, partition: $0.replica.topicPartition.partition) }
                // Short slices: a wake-up that races the registration costs at most 50 ms.
                await purgatory.wait(for: keys, timeout: min(remaining, .milliseconds(50)), on: ctx.eventLoop)
            }
            var settled = response
            let live = metadataStore.liveBrokers() ?? [:]
            for w in waits {
                var r = settled.topics[w.topic].partitions[w.partition]
                let low = w.replica.lowWatermark(isAlive: { live[$0] != nil })
                if !w.replica.isLeader {
                    r.errorCode = ErrorCode.notLeaderOrFollower.rawValue
                    r.lowWatermark = -1
                } else if low < w.required {
                    r.errorCode = ErrorCode.requestTimedOut.rawValue
                    r.lowWatermark = -1
                } else {
                    r.lowWatermark = low
                }
                settled.topics[w.topic].partitions[w.partition] = r
            }
            return settled
        }
    }
}
