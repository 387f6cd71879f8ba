import FoundationEssentials
import KafkaProtocol
import NIOCore
import TernStorage

/// Fetch in a cluster.
///
/// Only the leader serves a partition: a replica that is not the leader (or a broker that does not host the
/// partition of a known topic) answers NOT_LEADER_OR_FOLLOWER so the client refreshes its metadata.
///
/// Follower fetches (replica_id >= 0, from a `ReplicaFetcher`) take this path instead of the consumer one: no
/// fetch sessions, reads up to the log end (not the high watermark), and each fetch offset is the follower's log
/// end offset, which moves the high watermark (waking acks=all produces and consumers parked on the partition).
/// The follower's `current_leader_epoch` is fenced like a client's (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH), so
/// a follower that missed a leader change never appends a deposed leader's records. A parked follower fetch also
/// answers when the high watermark moved past what that follower was last told: followers serving consumers
/// (KIP-392) read up to the high watermark they learn here.
extension Broker {
    func fetchErrorForMissingLeader(topic: String, partition: Int32) -> ErrorCode {
        if replicaManager.partition(topic: topic, index: partition) != nil { return .notLeaderOrFollower }
        if let t = metadataStore.topic(named: topic), Int(partition) < t.partitionCount { return .notLeaderOrFollower }
        return .unknownTopicOrPartition
    }

    /// True when this request is a follower's and this broker is in a cluster.
    func isReplicaFetch(_ request: FetchRequest) -> Bool {
        request.replicaId >= 0 && zooKeeperStore != nil
    }

    func replicaFetch(_ request: FetchRequest, _ ctx: RequestContext) -> EventLoopFuture<FetchResponse?> {
        let first = readForFollower(request)
        if first.bytes > 0 || first.highWatermarkNews || request.maxWaitMs <= 0 || first.keys.isEmpty {
            return ctx.eventLoop.makeSucceededFuture(first.response)
        }
        let deadline = NIODeadline.now() + .milliseconds(Int64(min(request.maxWaitMs, 5000)))
        return ctx.eventLoop.makeFutureWithTask { [self] in
            while true {
                let remaining = deadline - NIODeadline.now()
                if remaining > .zero { await purgatory.wait(for: first.keys, timeout: remaining, on: ctx.eventLoop) }
                let again = readForFollower(request)
                if again.bytes > 0 || again.highWatermarkNews || NIODeadline.now() >= deadline { return again.response }
            }
        }
    }

    private func readForFollower(
        _ request: FetchRequest
    ) -> (response: FetchResponse, bytes: Int, keys: [FetchPurgatory.Key], highWatermarkNews: Bool) {
        var response = FetchResponse()
        var total = 0
        var news = false
        var keys: [FetchPurgatory.Key] = []
        let now = Broker.nowMs()
        for topic in request.topics {
            let name = topic.topic.isEmpty ? (metadataStore.topic(id: topic.topicId)?.name ?? "") : topic.topic
            var t = FetchResponse.FetchableTopicResponse()
            t.topic = topic.topic
            t.topicId = topic.topicId
            for fp in topic.partitions {
                var p = FetchResponse.PartitionData()
                p.partitionIndex = fp.partition
                p.records = ByteBuffer()
                defer { t.partitions.append(p) }
                guard let partition = replicaManager.partition(topic: name, index: fp.partition) else {
                    p.errorCode = fetchErrorForMissingLeader(topic: name, partition: fp.partition).rawValue
                    p.highWatermark = -1
                    continue
                }
                let access = partition.checkAccess(currentLeaderEpoch: fp.currentLeaderEpoch, requireLeader: true)
                if access != .none {
                    p.errorCode = access.rawValue
                    p.highWatermark = -1
                    continue
                }
                let key = FetchPurgatory.Key(topic: name, partition: fp.partition)
                keys.append(key)
                if partition.recordFollowerFetch(
                    replicaId: request.replicaId, fetchOffset: fp.fetchOffset, logStartOffset: fp.logStartOffset, nowMs: now) {
                    purgatory.notify(key)
                }
                expandIsrIfCaughtUp(partition, replicaId: request.replicaId)
                let offsets = partition.log.offsets
                let sent = partition.highWatermarkForFollower(request.replicaId)
                if sent.isNews { news = true }
                p.highWatermark = sent.highWatermark
                p.lastStableOffset = offsets.highWatermark
                p.logStartOffset = offsets.logStartOffset
                if fp.fetchOffset < offsets.logStartOffset || fp.fetchOffset > offsets.logEndOffset {
                    p.errorCode = ErrorCode.offsetOutOfRange.rawValue
                    continue
                }
                guard fp.fetchOffset < offsets.logEndOffset else { continue }
                do {
                    let data = try partition.log.read(
                        from: fp.fetchOffset, maxBytes: Int(max(fp.partitionMaxBytes, 0)), maxOffset: offsets.logEndOffset,
                        minOneBatch: true)
                    if !data.isEmpty {
                        p.records = data.records
                        total += data.length
                    }
                } catch let error as StorageError {
                    p.errorCode = error.kind.errorCode.rawValue
                } catch {
                    p.errorCode = ErrorCode.unknownServerError.rawValue
                }
            }
            response.responses.append(t)
        }
        return (response, total, keys, news)
    }
}
