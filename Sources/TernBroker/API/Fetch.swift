import KafkaProtocol
import NIOCore
import TernNetwork
import TernStorage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Fetch (key 1), versions 4-17.
/// Consumers read up to the high watermark (read_committed: up to the last stable offset, with the aborted
/// transactions overlapping the range so the client drops their batches). Whole batches only, starting with the batch that holds the fetch
/// offset; the first partition with data returns at least one whole batch even past `max_bytes`, so a large
/// record never blocks a consumer. `min_bytes`/`max_wait_ms` make it a long poll: the fetch parks in the
/// purgatory and is woken by an append to one of its partitions or by the deadline. Incremental fetch sessions
/// (KIP-227) from v7: only partitions whose data or watermarks changed are returned. Topic ids from v13.
/// Zero copy: on connections that allow it (PLAINTEXT) records stay in their segment files and go to the socket
/// with sendfile (`FetchResponseEncoder` emits them as file parts); like Kafka's, such a range may end in a
/// partial batch, which clients skip. Elsewhere they are read into the response and cut to whole batches.
/// Follower fetches (replica id >= 0) from brokers of a cluster are served by Fetch+Replica.swift; leader-epoch
/// fencing, fetch from follower (KIP-392) and the current leader on errors (KIP-951) by Fetch+Leadership.swift.
extension Broker {
    typealias FetchPartitionKey = FetchSessionCache.PartitionKey

    private struct FetchPlan {
        var sessionId: Int32
        var incremental: Bool
        /// Partitions to read, in response order, with the client's position.
        var partitions: [(key: FetchPartitionKey, state: FetchSessionCache.PartitionState, topicId: KafkaUUID)]
        var unknownTopicIds: [KafkaUUID: [Int32]]
        /// The consumer's `client.rack` (v11+), for the preferred read replica.
        var rackId = ""
    }

    /// The generated message with every record read into memory (the `ByteBuffer` response path).
    func fetch(_ request: FetchRequest, _ ctx: RequestContext) throws -> EventLoopFuture<FetchResponse?> {
        try fetch(request, ctx, zeroCopy: false).map { $0.response }
    }

    /// Fetch as response parts: decodes the request, serves it, encodes the answer with records as file parts
    /// when the connection supports sendfile.
    func serveFetch(_ ctx: RequestContext, body: inout ByteBuffer) throws -> EventLoopFuture<KafkaResponse?> {
        let request = try decode(FetchRequest.self, ctx, body: &body)
        let zeroCopy = ctx.connection.supportsFileRegion
        return try fetch(request, ctx, zeroCopy: zeroCopy).flatMapThrowing { result in
            if !zeroCopy { return KafkaResponse(try self.encode(result.response, ctx)) }
            return try FetchResponseEncoder.encode(
                result, correlationId: ctx.header.correlationId,
                headerVersion: ctx.apiKey.responseHeaderVersion(ctx.apiVersion), version: ctx.apiVersion,
                allocator: ctx.connection.allocator)
        }
    }

    private func fetch(_ request: FetchRequest, _ ctx: RequestContext, zeroCopy: Bool) throws -> EventLoopFuture<FetchResult> {
        if isReplicaFetch(request) {  // Fetch+Replica.swift
            return replicaFetch(request, ctx).map { FetchResult(response: $0 ?? FetchResponse()) }
        }
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
                    FetchSessionCache.PartitionState(
                        fetchOffset: p.fetchOffset, maxBytes: p.partitionMaxBytes, logStartOffset: p.logStartOffset,
                        currentLeaderEpoch: version >= 9 ? p.currentLeaderEpoch : -1)))
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
                var result = FetchResult()
                result.response.errorCode = code.rawValue
                result.response.sessionId = 0
                return ctx.eventLoop.makeSucceededFuture(result)
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

        if version >= 11 { plan.rackId = request.rackId }
        let maxBytes = version >= 3 ? Int(max(request.maxBytes, 0)) : Int(Int32.max)
        let readCommitted = request.isolationLevel == 1
        let first = readPartitions(plan, maxBytes: maxBytes, readCommitted: readCommitted, version: version, zeroCopy: zeroCopy)
        if first.bytes >= Int(request.minBytes) || request.maxWaitMs <= 0 || first.answerNow || plan.partitions.isEmpty {
            return ctx.eventLoop.makeSucceededFuture(finish(first.result, plan, bytes: first.bytes, ctx))
        }
        let deadline = NIODeadline.now() + .milliseconds(Int64(request.maxWaitMs))
        let keys = plan.partitions.map { FetchPurgatory.Key(topic: $0.key.topic, partition: $0.key.partition) }
        let minBytes = Int(request.minBytes)
        return ctx.eventLoop.makeFutureWithTask { [self, plan] in
            while true {
                let remaining = deadline - NIODeadline.now()
                if remaining > .zero { await purgatory.wait(for: keys, timeout: remaining, on: ctx.eventLoop) }
                let again = readPartitions(plan, maxBytes: maxBytes, readCommitted: readCommitted, version: version, zeroCopy: zeroCopy)
                if again.bytes >= minBytes || again.answerNow || NIODeadline.now() >= deadline {
                    return finish(again.result, plan, bytes: again.bytes, ctx)
                }
            }
        }
    }

    /// The response that is sent: counted here once (a long poll may read several times before it answers).
    private func finish(_ result: FetchResult, _ plan: FetchPlan, bytes: Int, _ ctx: RequestContext) -> FetchResult {
        metrics.fetchBytesOut.increment(by: bytes)
        var result = result
        result.response.sessionId = plan.sessionId
        addCurrentLeaders(&result.response, version: ctx.apiVersion, listenerName: ctx.connection.listenerName)
        if plan.sessionId != 0 {
            for topic in result.response.responses {
                for p in topic.partitions {
                    let name = topic.topic.isEmpty ? (metadataStore.topic(id: topic.topicId)?.name ?? "") : topic.topic
                    fetchSessions.update(
                        sessionId: plan.sessionId, FetchPartitionKey(topic: name, partition: p.partitionIndex),
                        highWatermark: p.highWatermark, logStartOffset: p.logStartOffset, lastStableOffset: p.lastStableOffset)
                }
            }
        }
        return result
    }

    private func readPartitions(
        _ plan: FetchPlan, maxBytes: Int, readCommitted: Bool, version: Int16, zeroCopy: Bool
    ) -> (result: FetchResult, bytes: Int, answerNow: Bool) {  // answerNow: an error or a redirect, no long poll
        var result = FetchResult()
        var remaining = maxBytes
        var total = 0
        var answerNow = false
        var topicIndex: [String: Int] = [:]
        for (key, state, topicId) in plan.partitions {
            var p = FetchResponse.PartitionData()
            p.partitionIndex = key.partition
            p.records = ByteBuffer()
            var fileRecords: FetchFileRecords?
            var changed = !plan.incremental
            let partition = replicaManager.partition(topic: key.topic, index: key.partition)
            let access = partition.map { consumerFetchAccess($0, currentLeaderEpoch: state.currentLeaderEpoch, version: version) }
            if let partition, access == ErrorCode.none,
               let preferred = preferredReadReplica(partition, clientRack: plan.rackId, fetchOffset: state.fetchOffset, version: version) {
                // KIP-392: no records, the client goes to the preferred replica; answered at once, as Kafka does.
                let offsets = partition.log.offsets
                p.highWatermark = offsets.highWatermark
                p.lastStableOffset = partition.lastStableOffset
                p.logStartOffset = offsets.logStartOffset
                p.preferredReadReplica = preferred
                answerNow = true
                changed = true
            } else if let access, access != .none {
                p.errorCode = access.rawValue
                p.highWatermark = -1
                answerNow = true
                changed = true
            } else if let partition {
                let log = partition.log
                let offsets = log.offsets
                p.highWatermark = offsets.highWatermark
                // read_committed reads up to the last stable offset; aborted transactions are filled after the read.
                let lastStableOffset = partition.lastStableOffset
                let readLimit = readCommitted ? lastStableOffset : offsets.highWatermark
                p.lastStableOffset = lastStableOffset
                p.logStartOffset = offsets.logStartOffset
                p.abortedTransactions = readCommitted ? [] : nil
                if state.fetchOffset < offsets.logStartOffset || state.fetchOffset > offsets.logEndOffset {
                    p.errorCode = ErrorCode.offsetOutOfRange.rawValue
                    answerNow = true
                    changed = true
                } else if remaining > 0 || total == 0 {
                    let limit = min(Int(max(state.maxBytes, 0)), max(remaining, 0))
                    do {
                        let minOneBatch = total == 0
                        var data = try log.read(
                            from: state.fetchOffset, maxBytes: limit, maxOffset: readLimit,
                            minOneBatch: minOneBatch, materialize: !zeroCopy)
                        if zeroCopy, !data.isEmpty, let file = data.file {
                            // Without minOneBatch the range may stop inside its first batch; Kafka (v3+) then
                            // returns nothing for the partition rather than a batch the client cannot use.
                            if !minOneBatch, try !Self.startsWithWholeBatch(file, at: data.position, length: data.length) {
                                data.length = 0
                            } else {
                                fileRecords = FetchFileRecords(file: file, position: data.position, length: data.length)
                            }
                        }
                        if !data.isEmpty {
                            if !zeroCopy { p.records = data.records }
                            if readCommitted {
                                p.abortedTransactions = partition.abortedTransactions(from: state.fetchOffset, to: readLimit).map {
                                    var a = FetchResponse.AbortedTransaction()
                                    a.producerId = $0.producerId
                                    a.firstOffset = $0.firstOffset
                                    return a
                                }
                            }
                            total += data.length
                            remaining -= data.length
                            changed = true
                        }
                    } catch let error as StorageError {
                        p.errorCode = error.kind.errorCode.rawValue
                        answerNow = true
                        changed = true
                    } catch {
                        p.errorCode = ErrorCode.unknownServerError.rawValue
                        answerNow = true
                        changed = true
                    }
                }
                if plan.incremental && (p.highWatermark != state.lastHighWatermark
                    || p.logStartOffset != state.lastLogStartOffset || p.lastStableOffset != state.lastStableOffset) {
                    changed = true
                }
            } else {
                p.errorCode = fetchErrorForMissingLeader(topic: key.topic, partition: key.partition).rawValue
                p.highWatermark = -1
                answerNow = true
                changed = true
            }
            guard changed else { continue }
            if let i = topicIndex[key.topic] {
                result.response.responses[i].partitions.append(p)
                result.fileRecords[i].append(fileRecords)
            } else {
                var t = FetchResponse.FetchableTopicResponse()
                if version >= 13 { t.topicId = topicId } else { t.topic = key.topic }
                t.partitions = [p]
                topicIndex[key.topic] = result.response.responses.count
                result.response.responses.append(t)
                result.fileRecords.append([fileRecords])
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
            result.response.responses.append(t)
            result.fileRecords.append(Array(repeating: nil, count: t.partitions.count))
            answerNow = true
        }
        return (result, total, answerNow)
    }

    /// Whether `length` bytes at `position` hold at least the first batch whole: reads its 12-byte log overhead
    /// (base offset, batch length) from the page cache.
    static func startsWithWholeBatch(_ file: SegmentFile, at position: Int64, length: Int) throws -> Bool {
        let overhead = RecordBatchHeader.logOverhead
        guard length >= overhead else { return false }
        let batchLength = try withUnsafeTemporaryAllocation(byteCount: overhead, alignment: 8) { raw -> Int in
            let got = pread(file.fileDescriptor, raw.baseAddress, overhead, off_t(position))
            guard got == overhead else {
                throw StorageError(.io, "cannot read the batch header at \(position)", path: file.path, errno: errno)
            }
            return Int(Int32(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: Int32.self)))
        }
        return batchLength >= 0 && overhead + batchLength <= length
    }
}
