import KafkaProtocol
import NIOCore
import TernStorage

/// Fetch (key 1), versions 4-17.
/// Consumers read up to the high watermark (read_committed: the last stable offset, which equals the high
/// watermark until transactions arrive). Whole batches only, starting with the batch that holds the fetch
/// offset; the first partition with data returns at least one whole batch even past `max_bytes`, so a large
/// record never blocks a consumer. `min_bytes`/`max_wait_ms` make it a long poll: the fetch parks in the
/// purgatory and is woken by an append to one of its partitions or by the deadline. Incremental fetch sessions
/// (KIP-227) from v7: only partitions whose data or watermarks changed are returned. Topic ids from v13.
/// Follower fetches (replica id >= 0) from brokers of a cluster are served by Fetch+Replica.swift.
extension Broker {
    typealias FetchPartitionKey = FetchSessionCache.PartitionKey

    private struct FetchPlan {
        var sessionId: Int32
        var incremental: Bool
        /// Partitions to read, in response order, with the client's position.
        var partitions: [(key: FetchPartitionKey, state: FetchSessionCache.PartitionState, topicId: KafkaUUID)]
        var unknownTopicIds: [KafkaUUID: [Int32]]
    }

    func fetch(_ request: FetchRequest, _ ctx: RequestContext) throws -> EventLoopFuture<FetchResponse?> {
        if isReplicaFetch(request) { return replicaFetch(request, ctx) }  // Fetch+Replica.swift
        let version = ctx.apiVersion
        let byId = version >= 13
        var requested: [(FetchPartitionKey, FetchSessionCache.PartitionState)] = []
        var topicIds: [String: KafkaUUID] = [:]
        var unknownIds: [KafkaUUID: [Int32]] = [:]
        for topic in request.topics {
            let name: String
            if byId {
                guard let meta = metadataStore.topic(id: topic.topicId) else {
                    unknownIds[topic.topicId, default: []].append(contentsOf: topic.partitions.map(\.partition))
                    continue
                }
                name = meta.name
                topicIds[name] = topic.topicId
            } else {
                name = topic.topic
            }
            for p in topic.partitions {
                requested.append((FetchPartitionKey(topic: name, partition: p.partition),
                    FetchSessionCache.PartitionState(fetchOffset: p.fetchOffset, maxBytes: p.partitionMaxBytes, logStartOffset: p.logStartOffset)))
            }
        }
        var forgotten: [FetchPartitionKey] = []
        for f in request.forgottenTopicsData {
            let name = byId ? (metadataStore.topic(id: f.topicId)?.name ?? "") : f.topic
            forgotten.append(contentsOf: f.partitions.map { FetchPartitionKey(topic: name, partition: $0) })
        }
        var plan: FetchPlan
        if version >= 7 {
            switch fetchSessions.context(sessionId: request.sessionId, epoch: request.sessionEpoch, requested: requested, forgotten: forgotten) {
            case .error(let code):
                var response = FetchResponse()
                response.errorCode = code.rawValue
                response.sessionId = 0
                return ctx.eventLoop.makeSucceededFuture(response)
            case .full(let sessionId):
                plan = FetchPlan(sessionId: sessionId, incremental: false, partitions: [], unknownTopicIds: unknownIds)
                plan.partitions = requested.map { ($0.0, $0.1, topicIds[$0.0.topic] ?? .zero) }
            case .incremental(let session):
                plan = FetchPlan(sessionId: session.id, incremental: true, partitions: [], unknownTopicIds: unknownIds)
                plan.partitions = session.order.compactMap { key in
                    guard let state = session.partitions[key] else { return nil }
                    let id = topicIds[key.topic] ?? metadataStore.topic(named: key.topic)?.id ?? .zero
                    return (key, state, id)
                }
            }
        } else {
            plan = FetchPlan(sessionId: 0, incremental: false, partitions: requested.map { ($0.0, $0.1, .zero) }, unknownTopicIds: [:])
        }

        let maxBytes = version >= 3 ? Int(max(request.maxBytes, 0)) : Int(Int32.max)
        let readCommitted = request.isolationLevel == 1
        let first = readPartitions(plan, maxBytes: maxBytes, readCommitted: readCommitted, version: version)
        if first.bytes >= Int(request.minBytes) || request.maxWaitMs <= 0 || first.hasError || plan.partitions.isEmpty {
            return ctx.eventLoop.makeSucceededFuture(finish(first.response, plan))
        }
        let deadline = NIODeadline.now() + .milliseconds(Int64(request.maxWaitMs))
        let keys = plan.partitions.map { FetchPurgatory.Key(topic: $0.key.topic, partition: $0.key.partition) }
        let minBytes = Int(request.minBytes)
        return ctx.eventLoop.makeFutureWithTask { [self] in
            while true {
                let remaining = deadline - NIODeadline.now()
                if remaining > .zero { await purgatory.wait(for: keys, timeout: remaining, on: ctx.eventLoop) }
                let again = readPartitions(plan, maxBytes: maxBytes, readCommitted: readCommitted, version: version)
                if again.bytes >= minBytes || again.hasError || NIODeadline.now() >= deadline {
                    return finish(again.response, plan)
                }
            }
        }
    }

    private func finish(_ response: FetchResponse, _ plan: FetchPlan) -> FetchResponse {
        var response = response
        response.sessionId = plan.sessionId
        if plan.sessionId != 0 {
            for topic in response.responses {
                for p in topic.partitions {
                    let name = topic.topic.isEmpty ? (metadataStore.topic(id: topic.topicId)?.name ?? "") : topic.topic
                    fetchSessions.update(
                        sessionId: plan.sessionId, FetchPartitionKey(topic: name, partition: p.partitionIndex),
                        highWatermark: p.highWatermark, logStartOffset: p.logStartOffset, lastStableOffset: p.lastStableOffset)
                }
            }
        }
        return response
    }

    private func readPartitions(
        _ plan: FetchPlan, maxBytes: Int, readCommitted: Bool, version: Int16
    ) -> (response: FetchResponse, bytes: Int, hasError: Bool) {
        var response = FetchResponse()
        var remaining = maxBytes
        var total = 0
        var hasError = false
        var topicIndex: [String: Int] = [:]
        for (key, state, topicId) in plan.partitions {
            var p = FetchResponse.PartitionData()
            p.partitionIndex = key.partition
            p.records = ByteBuffer()
            var changed = !plan.incremental
            if let partition = replicaManager.partition(topic: key.topic, index: key.partition), partition.isLeader {
                let log = partition.log
                let offsets = log.offsets
                p.highWatermark = offsets.highWatermark
                p.lastStableOffset = offsets.highWatermark
                p.logStartOffset = offsets.logStartOffset
                p.abortedTransactions = readCommitted ? [] : nil
                if state.fetchOffset < offsets.logStartOffset || state.fetchOffset > offsets.logEndOffset {
                    p.errorCode = ErrorCode.offsetOutOfRange.rawValue
                    hasError = true
                    changed = true
                } else if remaining > 0 || total == 0 {
                    let limit = min(Int(max(state.maxBytes, 0)), max(remaining, 0))
                    do {
                        let data = try log.read(
                            from: state.fetchOffset, maxBytes: limit, maxOffset: offsets.highWatermark,
                            minOneBatch: total == 0)
                        if !data.isEmpty {
                            p.records = data.records
                            total += data.length
                            remaining -= data.length
                            changed = true
                        }
                    } catch let error as StorageError {
                        p.errorCode = error.kind.errorCode.rawValue
                        hasError = true
                        changed = true
                    } catch {
                        p.errorCode = ErrorCode.unknownServerError.rawValue
                        hasError = true
                        changed = true
                    }
                }
                if plan.incremental && (p.highWatermark != state.lastHighWatermark
                    || p.logStartOffset != state.lastLogStartOffset) {
                    changed = true
                }
            } else {
                p.errorCode = fetchErrorForMissingLeader(topic: key.topic, partition: key.partition).rawValue
                p.highWatermark = -1
                hasError = true
                changed = true
            }
            guard changed else { continue }
            if let i = topicIndex[key.topic] {
                response.responses[i].partitions.append(p)
            } else {
                var t = FetchResponse.FetchableTopicResponse()
                if version >= 13 { t.topicId = topicId } else { t.topic = key.topic }
                t.partitions = [p]
                topicIndex[key.topic] = response.responses.count
                response.responses.append(t)
            }
        }
        for (id, partitions) in plan.unknownTopicIds {
            var t = FetchResponse.FetchableTopicResponse()
            t.topicId = id
            t.partitions = partitions.map { index in
                var p = FetchResponse.PartitionData()
                p.partitionIndex = index
                p.errorCode = ErrorCode.unknownTopicId.rawValue
                p.highWatermark = -1
                p.records = ByteBuffer()
                return p
            }
            response.responses.append(t)
            hasError = true
        }
        return (response, total, hasError)
    }
}
