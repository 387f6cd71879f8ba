import KafkaProtocol
import NIOCore

/// A Kafka consumer. Manual assignment (`assign`) with `seek`, `seekToBeginning` and `seekToEnd`, or group
/// membership (`subscribe` to topics or a pattern: KafkaConsumer+Group.swift for the classic protocol,
/// KafkaConsumer+ConsumerProtocol.swift for KIP-848). `pause`/`resume`, `offsetsForTimes` and `commitAsync` are in
/// KafkaConsumer+Control.swift. `poll` fetches from every unpaused assigned partition's leader at once;
/// `records()` turns polling into an AsyncSequence.
public actor KafkaConsumer {
    public let config: ConsumerConfig
    public let cluster: KafkaClusterClient

    /// Assigned partitions and their next offsets (nil: reset by auto.offset.reset on the next poll).
    var positions: [TopicPartition: Int64?] = [:]
    /// Records fetched and not yet returned, a batch at a time, in fetch order.
    var buffered: [FetchedRecords] = []
    var closed = false
    var group: GroupMembership?
    /// Partitions `pause`d by the application: still assigned, not fetched.
    var paused: Set<TopicPartition> = []
    var rebalanceListener: (any ConsumerRebalanceListener)?
    /// The last `commitAsync`, so the next one waits for it: async commits complete in call order, as in Java.
    var commitChain: Task<Void, Never>?
    /// Sends heartbeats while the application is busy between polls (see KafkaConsumer+Heartbeat.swift).
    var heartbeatTask: Task<Void, Never>?
    /// One incremental fetch session per broker fetched from (KIP-227).
    var fetchSessions: [Int32: FetchSession] = [:]
    /// Per broker, how many partitions the last Fetch carried and how many its answer listed (for tests and logs).
    var lastFetchPartitionCounts: [Int32: (sent: Int, answered: Int)] = [:]

    public init(config: ConsumerConfig) throws {
        self.config = config
        cluster = try KafkaClusterClient(config: config.cluster)
    }

    public init(properties: [String: String]) throws {
        try self.init(config: ConsumerConfig(properties: properties))
    }

    // MARK: Assignment and positions

    /// Replaces the assignment. Partitions kept from the old assignment keep their positions.
    public func assign(_ partitions: [TopicPartition]) {
        var next: [TopicPartition: Int64?] = [:]
        for tp in partitions { next.updateValue(positions[tp] ?? nil, forKey: tp) }  // a nil value must stay a key
        positions = next
        paused.formIntersection(partitions)
        let kept = Set(partitions)
        buffered.removeAll { !kept.contains(TopicPartition($0.topic, $0.partition)) }
    }

    /// Assigns every partition of `topic`.
    public func assign(topic: String) async throws {
        let info = try await cluster.topic(topic)
        assign(info.partitions.map { TopicPartition(topic, $0.partition) })
    }

    public var assignment: [TopicPartition] { positions.keys.sorted() }

    public func seek(_ tp: TopicPartition, to offset: Int64) {
        positions[tp] = offset
        buffered.removeAll { $0.topic == tp.topic && $0.partition == tp.partition }
    }

    public func seekToBeginning(_ tps: [TopicPartition]? = nil) async throws {
        try await seek(tps ?? assignment, timestamp: -2)
    }

    public func seekToEnd(_ tps: [TopicPartition]? = nil) async throws {
        try await seek(tps ?? assignment, timestamp: -1)
    }

    /// The next offset to be returned for `tp`, resolving a reset if needed.
    public func position(_ tp: TopicPartition) async throws -> Int64 {
        if case .some(.some(let p)) = positions[tp] { return p }
        try await resetPositions()
        guard case .some(.some(let p)) = positions[tp] else {
            throw KafkaClientError(.invalidArgument, "\(tp) is not assigned")
        }
        return p
    }

    private func seek(_ tps: [TopicPartition], timestamp: Int64) async throws {
        let offsets = try await listOffsets(tps, timestamp: timestamp)
        for (tp, offset) in offsets where positions[tp] != nil { seek(tp, to: offset) }
    }

    /// ListOffsets for `tps` at `timestamp` (-1 latest, -2 earliest), one request per leader.
    public func listOffsets(_ tps: [TopicPartition], timestamp: Int64) async throws -> [TopicPartition: Int64] {
        try await KafkaAdmin.listOffsets(cluster: cluster, tps.map { ($0, timestamp) }, readCommitted: config.readCommitted)
            .mapValues(\.offset)
    }

    func resetPositions() async throws {
        let missing = positions.filter { $0.value == nil }.map(\.key)
        guard !missing.isEmpty else { return }
        if let group { try await fetchCommittedPositions(group, missing) }
        let still = positions.filter { $0.value == nil }.map(\.key)
        guard !still.isEmpty else { return }
        switch config.autoOffsetReset {
        case .earliest: try await seek(still, timestamp: -2)
        case .latest: try await seek(still, timestamp: -1)
        case .none:
            throw KafkaClientError(.broker(.offsetOutOfRange), "Undefined offset with no reset policy for partitions: \(still)")
        }
    }

    // MARK: Polling

    /// Returns the records available now, waiting up to `timeout` when there are none.
    public func poll(timeout: Duration = .milliseconds(500), maxRecords: Int = 500) async throws -> [ConsumerRecord] {
        var out: [ConsumerRecord] = []
        let fetched = try await pollFetched(timeout: timeout, maxRecords: maxRecords)
        out.reserveCapacity(fetched.reduce(0) { $0 + $1.count })
        for f in fetched { f.consumerRecords(into: &out) }
        return out
    }

    /// `poll` without copying: the records available now (waiting up to `timeout` when there are none), at most
    /// `maxRecords`, as runs of one batch each whose keys and values are still slices of the fetch response.
    public func pollFetched(timeout: Duration = .milliseconds(500), maxRecords: Int = 500) async throws -> [FetchedRecords] {
        guard !closed else { throw KafkaClientError(.closed, "consumer is closed") }
        if group != nil { try await groupPoll() }
        if buffered.isEmpty {
            let deadline = ContinuousClock.now + timeout
            repeat {
                try await resetPositions()
                guard !positions.isEmpty else {
                    try await Task.sleep(for: min(timeout, .milliseconds(100)))
                    break
                }
                let remaining = deadline - ContinuousClock.now
                guard positions.keys.contains(where: { !paused.contains($0) }) else {
                    try await Task.sleep(for: min(timeout, .milliseconds(100)))
                    break
                }
                try await fetchOnce(maxWait: max(.zero, min(config.fetchMaxWait, remaining)))
            } while buffered.isEmpty && ContinuousClock.now < deadline
        }
        var out: [FetchedRecords] = []
        var left = maxRecords
        var used = 0
        while left > 0 && used < buffered.count {
            let taken = buffered[used].removeFirst(upTo: left)
            left -= taken.count
            out.append(taken)
            if buffered[used].isEmpty { used += 1 }
        }
        buffered.removeFirst(used)
        return out
    }

    /// Polls forever; ends when the consumer is closed or the task cancelled.
    public nonisolated func records() -> AsyncThrowingStream<ConsumerRecord, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    while !Task.isCancelled {
                        let batch = try await self.poll()
                        for r in batch { continuation.yield(r) }
                    }
                    continuation.finish()
                } catch {
                    if let e = error as? KafkaClientError, e.kind == .closed { continuation.finish() } else {
                        continuation.finish(throwing: error)
                    }
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// One Fetch per leader, concurrently, each in that broker's incremental fetch session (FetchSession.swift);
    /// appends what came back to `buffered` and advances positions.
    private func fetchOnce(maxWait: Duration) async throws {
        var byLeader: [Int32: [TopicPartition: FetchSession.Entry]] = [:]
        for (tp, position) in positions where !paused.contains(tp) {
            guard let position else { continue }
            let leader = try await cluster.leader(for: tp)
            byLeader[leader, default: [:]][tp] = .init(fetchOffset: position, maxBytes: config.maxPartitionFetchBytes)
        }
        // A broker not fetched from now keeps its session as it was; the next request to it forgets what moved.
        var plans: [Int32: FetchSession.Plan] = [:]
        for (node, wanted) in byLeader { plans[node] = fetchSessions[node, default: FetchSession()].next(wanted) }
        let template = fetchRequestTemplate(maxWait: maxWait)
        let cluster = self.cluster
        let responses = await withTaskGroup(of: (Int32, Result<FetchResponse, any Error>).self) { tasks in
            for (node, plan) in plans {
                tasks.addTask {
                    do {
                        return (node, .success(try await cluster.send(Self.fetchRequest(template, plan), to: node)))
                    } catch {
                        return (node, .failure(error))
                    }
                }
            }
            var all: [(Int32, Result<FetchResponse, any Error>)] = []
            for await r in tasks { all.append(r) }
            return all
        }
        // Every session moves on before any record is handled, so a throw below leaves no session out of step.
        var firstError: (any Error)?
        var answered: [(FetchResponse, [TopicPartition: FetchSession.Entry])] = []
        for (node, result) in responses {
            guard let plan = plans[node], let requested = byLeader[node] else { continue }
            switch result {
            case .success(let response):
                // false: the session was lost; the next poll opens a new one with a full fetch.
                lastFetchPartitionCounts[node] = (plan.partitions.count, response.responses.reduce(0) { $0 + $1.partitions.count })
                if fetchSessions[node, default: FetchSession()].received(errorCode: response.errorCode, sessionId: response.sessionId, for: plan) {
                    answered.append((response, requested))
                }
            case .failure(let error):
                fetchSessions[node]?.failed()
                firstError = firstError ?? error
            }
        }
        for (response, requested) in answered {
            try check(response.errorCode, "Fetch")
            for topic in response.responses {
                for p in topic.partitions {
                    let tp = TopicPartition(topic.topic, p.partitionIndex)
                    guard let from = requested[tp]?.fetchOffset, case .some(.some(let current)) = positions[tp], current == from else {
                        continue  // seeked or unassigned while the fetch was in flight
                    }
                    try await handle(tp, from: from, p)
                }
            }
        }
        if let firstError { throw firstError }
    }

    private func fetchRequestTemplate(maxWait: Duration) -> FetchRequest {
        var request = FetchRequest()
        request.replicaId = -1
        request.maxWaitMs = Int32(maxWait.components.seconds * 1000 + maxWait.components.attoseconds / 1_000_000_000_000_000)
        request.minBytes = config.fetchMinBytes
        request.maxBytes = config.fetchMaxBytes
        request.isolationLevel = config.readCommitted ? 1 : 0
        return request
    }

    /// `template` with the session fields, partitions and forgotten partitions of `plan`, grouped by topic.
    static func fetchRequest(_ template: FetchRequest, _ plan: FetchSession.Plan) -> FetchRequest {
        var request = template
        request.sessionId = plan.sessionId
        request.sessionEpoch = plan.epoch
        var order: [String] = []
        var topics: [String: [FetchRequest.FetchPartition]] = [:]
        for (tp, entry) in plan.partitions {
            var p = FetchRequest.FetchPartition()
            p.partition = tp.partition
            p.fetchOffset = entry.fetchOffset
            p.partitionMaxBytes = entry.maxBytes
            if topics[tp.topic] == nil { order.append(tp.topic) }
            topics[tp.topic, default: []].append(p)
        }
        request.topics = order.map { name in
            var t = FetchRequest.FetchTopic()
            t.topic = name
            t.partitions = topics[name] ?? []
            return t
        }
        var forgotten: [String: [Int32]] = [:]
        var forgottenOrder: [String] = []
        for tp in plan.forgotten {
            if forgotten[tp.topic] == nil { forgottenOrder.append(tp.topic) }
            forgotten[tp.topic, default: []].append(tp.partition)
        }
        request.forgottenTopicsData = forgottenOrder.map { name in
            var f = FetchRequest.ForgottenTopic()
            f.topic = name
            f.partitions = forgotten[name] ?? []
            return f
        }
        return request
    }

    /// Ends every fetch session (epoch -1), so brokers free the slots now rather than on eviction.
    private func closeFetchSessions() async {
        let closing = fetchSessions.compactMap { node, s in s.closeRequest.map { (node, $0) } }
        fetchSessions = [:]
        let template = fetchRequestTemplate(maxWait: .zero)
        for (node, plan) in closing {
            _ = try? await cluster.send(Self.fetchRequest(template, plan), to: node)
        }
    }

    private func handle(_ tp: TopicPartition, from: Int64, _ p: FetchResponse.PartitionData) async throws {
        let code = ErrorCode(p.errorCode)
        switch code {
        case .none: break
        case .offsetOutOfRange:
            if config.autoOffsetReset == .none {
                throw KafkaClientError.broker(code, "Fetch position \(from) is out of range for partition \(tp)")
            }
            positions[tp] = .some(nil)
            return
        case _ where code.isRetriable:
            await cluster.invalidate(topic: tp.topic)
            return
        default:
            throw KafkaClientError.broker(code, "Fetch from \(tp)")
        }
        guard let records = p.records, records.readableBytes > 0 else { return }
        let batches: [RecordBatch]
        do {
            batches = try RecordBatch.readAll(records, verifyCRC: config.checkCRCs, allowPartialTrailingBatch: true)
        } catch {
            throw KafkaClientError(.protocolViolation, "corrupt record batch from \(tp) at offset \(from): \(error)")
        }
        var next = from
        // read_committed: the broker sends records up to the last stable offset and lists the aborted
        // transactions among them; their records are skipped here (Java's Fetcher does the same).
        var pendingAborts = config.readCommitted ? (p.abortedTransactions ?? []).sorted { $0.firstOffset < $1.firstOffset } : []
        var abortedProducers = Set<Int64>()
        for batch in batches {
            let lastOffset = batch.header.baseOffset + Int64(batch.header.lastOffsetDelta)
            defer { next = max(next, lastOffset + 1) }
            while let first = pendingAborts.first, first.firstOffset <= lastOffset {
                abortedProducers.insert(first.producerId)
                pendingAborts.removeFirst()
            }
            if batch.header.attributes.isControl {
                // The marker ends the producer's transaction: its later batches are not part of the aborted one.
                if batch.records.first.flatMap({ try? ControlRecord(key: $0.key, value: $0.value) })?.type == .abort {
                    abortedProducers.remove(batch.header.producerId)
                }
                continue
            }
            if batch.header.attributes.isTransactional && abortedProducers.contains(batch.header.producerId) { continue }
            let fetched = FetchedRecords(topic: tp.topic, partition: tp.partition, batch: batch, from: from)
            if !fetched.isEmpty { buffered.append(fetched) }
        }
        positions[tp] = next
    }

    /// The next offset the application will see per partition: records fetched but not yet returned by `poll`
    /// are not consumed, so a commit must not skip them.
    func consumedPositions() -> [TopicPartition: Int64] {
        var out: [TopicPartition: Int64] = [:]
        for (tp, p) in positions { if let p { out[tp] = p } }
        for f in buffered.reversed() { if let first = f.firstOffset { out[TopicPartition(f.topic, f.partition)] = first } }
        return out
    }

    public func close() async {
        guard !closed else { return }
        heartbeatTask?.cancel()
        heartbeatTask = nil
        await commitChain?.value
        if group != nil { await leaveGroup() }
        closed = true
        await closeFetchSessions()
        await cluster.close()
    }
}
