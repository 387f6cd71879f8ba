import FoundationEssentials
import KafkaProtocol
import NIOCore

/// A Kafka producer: records are gathered per partition into batches and sent to each partition's leader,
/// several requests in flight per broker, retried on retriable errors until `delivery.timeout.ms`.
///
/// `send` waits for the broker's acknowledgement; `send(_:callback:)` returns once the record is buffered
/// (waiting while `buffer.memory` is full), as Java's `send(record, callback)` does; `send(_:tag:listener:)` likewise,
/// with one report per batch instead of a closure per record. Records are encoded into their batch as they are sent.
public actor KafkaProducer {
    public let config: ProducerConfig
    public let cluster: KafkaClusterClient
    private let clock = ContinuousClock()

    private var open: [TopicPartition: ProducerBatch] = [:]
    /// The open batch appended to last, so a run of records to one partition hashes nothing.
    private var lastOpen: (tp: TopicPartition, batch: ProducerBatch)?
    private var queued: [TopicPartition: [ProducerBatch]] = [:]
    private var inFlightPerNode: [Int32: Int] = [:]
    private var inFlightBatches = 0
    private var bufferedBytes = 0
    private var memoryWaiters: [CheckedContinuation<Void, Never>] = []
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []
    private var flushing = 0
    private var closed = false

    /// Cached per topic: partition leaders, so the hot path makes no metadata calls.
    private var leaders: [String: [Int32]] = [:]
    private var stickyPartition: [String: Int32] = [:]
    /// The sticky partition last chosen, so null-key records to one topic skip the lookups; nil when it may be stale.
    private var hotSticky: (topic: String, partition: Int32)?
    private var refreshing: Set<String> = []
    /// Connections by broker, held here so requests are written synchronously, in order, from the actor.
    private var connections: [Int32: KafkaConnection] = [:]
    private var connectingNodes: Set<Int32> = []

    // Idempotence (KIP-98): one producer id and epoch, a sequence per partition.
    private var producerId: Int64 = -1
    private var producerEpoch: Int16 = -1
    private var producerIdTask: Task<Void, any Error>?
    private var nextSequence: [TopicPartition: Int32] = [:]

    public init(config: ProducerConfig) throws {
        self.config = config
        cluster = try KafkaClusterClient(config: config.cluster)
    }

    public init(properties: [String: String]) throws {
        try self.init(config: ProducerConfig(properties: properties))
    }

    /// Sends and waits for the acknowledgement.
    public func send(_ record: ProducerRecord) async throws -> RecordMetadata {
        let promise = MultiThreadedEventLoopGroupSingleton.next().makePromise(of: RecordMetadata.self)
        do {
            try await send(record) { promise.completeWith($0.mapError { $0 as any Error }) }
        } catch {
            promise.fail(error)
        }
        return try await promise.futureResult.get()
    }

    /// Buffers the record; `callback` runs (on an arbitrary thread) when the broker answers.
    public func send(_ record: ProducerRecord, callback: DeliveryCallback?) async throws {
        var admitted = try admitNow(record)
        if admitted == nil { admitted = try await admit(record) }
        let (tp, timestamp, size) = admitted!
        append(to: tp, size: size) { $0.append(record, timestamp: timestamp, estimate: size - 61, callback: callback) }
    }

    /// Buffers the record; `listener` gets `tag` back with the broker's answer, in one report for each run of
    /// records of a batch sent to it (see `DeliveryListener`), so nothing is allocated per record.
    public func send(_ record: ProducerRecord, tag: Int, listener: any DeliveryListener) async throws {
        var admitted = try admitNow(record)
        if admitted == nil { admitted = try await admit(record) }
        let (tp, timestamp, size) = admitted!
        append(to: tp, size: size) { $0.append(record, timestamp: timestamp, estimate: size - 61, tag: tag, listener: listener) }
    }

    /// `admit` without suspending, for the common case (memory free, producer id known, partition at hand);
    /// nil when the record needs the full path.
    private func admitNow(_ record: ProducerRecord) throws -> (TopicPartition, Int64, Int)? {
        guard !closed, record.partition == nil && record.key == nil, let hot = hotSticky, hot.topic == record.topic,
              !config.enableIdempotence || producerId >= 0 else { return nil }
        let size = ProducerBatch.estimate(record) + 61
        guard size <= config.maxRequestSize, bufferedBytes + size <= config.bufferMemory || bufferedBytes == 0 else { return nil }
        let timestamp = record.timestamp ?? Int64(Date().timeIntervalSince1970 * 1000)
        return (TopicPartition(record.topic, hot.partition), timestamp, size)
    }

    /// Checks the record's size, waits for buffer memory and picks its partition and timestamp.
    private func admit(_ record: ProducerRecord) async throws -> (TopicPartition, Int64, Int) {
        guard !closed else { throw KafkaClientError(.closed, "producer is closed") }
        let size = ProducerBatch.estimate(record) + 61
        if size > config.maxRequestSize {
            throw KafkaClientError(.broker(.messageTooLarge),
                "The message is \(size) bytes when serialized which is larger than \(config.maxRequestSize), the value of max.request.size")
        }
        while bufferedBytes + size > config.bufferMemory && bufferedBytes > 0 {
            await withCheckedContinuation { memoryWaiters.append($0) }
        }
        if config.enableIdempotence && producerId < 0 { try await initProducerId() }
        let partition: Int32
        if record.partition == nil && record.key == nil, let hot = hotSticky, hot.topic == record.topic {
            partition = hot.partition
        } else {
            partition = try await choosePartition(record)
        }
        let timestamp = record.timestamp ?? Int64(Date().timeIntervalSince1970 * 1000)
        return (TopicPartition(record.topic, partition), timestamp, size)
    }

    /// Appends to the open batch of `tp` (sealing it first when the record would overflow it), in place.
    private func append(to tp: TopicPartition, size: Int, _ write: (ProducerBatch) -> Void) {
        var sealed = false
        var current: ProducerBatch?
        if let last = lastOpen, last.tp == tp { current = last.batch } else { current = open[tp] }
        if let b = current, b.sizeEstimate + size > config.batchSize, b.count > 0 {
            seal(tp)
            sealed = true
            current = nil
        }
        let target: ProducerBatch
        if let current {
            target = current
        } else {
            target = ProducerBatch(tp: tp, compression: config.compression, capacity: min(config.batchSize, 1 << 20), now: clock.now)
            open[tp] = target
            if config.linger > .zero { scheduleDrain(after: config.linger) }
        }
        lastOpen = (tp, target)
        write(target)
        bufferedBytes += size
        if target.sizeEstimate >= config.batchSize {
            seal(tp)
            sealed = true
        }
        if sealed || config.linger == .zero { drain() }
    }

    /// Sends everything buffered and waits until the broker has answered all of it.
    public func flush() async {
        flushing += 1
        defer { flushing -= 1 }
        for tp in Array(open.keys) { seal(tp) }
        drain()
        while !isIdle {
            await withCheckedContinuation { idleWaiters.append($0) }
        }
    }

    /// Flushes, then closes the connections.
    public func close() async {
        guard !closed else { return }
        await flush()
        closed = true
        await cluster.close()
    }

    /// The partition count of `topic` (creating it if the broker auto-creates topics).
    public func partitionCount(_ topic: String) async throws -> Int32 {
        Int32(try await leadersFor(topic).count)
    }

    private var isIdle: Bool { open.isEmpty && queued.isEmpty && inFlightBatches == 0 }

    private func leadersFor(_ topic: String) async throws -> [Int32] {
        if let l = leaders[topic] { return l }
        let info = try await cluster.topic(topic, allowAutoCreate: true)
        let l = info.partitions.map(\.leader)
        leaders[topic] = l
        return l
    }

    /// Java's built-in partitioner: murmur2 of the key; for null keys a sticky partition that changes when its
    /// batch is sealed (KIP-480), so small records still fill batches.
    private func choosePartition(_ record: ProducerRecord) async throws -> Int32 {
        let count = Int32(try await leadersFor(record.topic).count)
        if let p = record.partition {
            guard p >= 0 && p < count else {
                throw KafkaClientError(.invalidArgument, "Invalid partition given with record: \(p) is not in the range [0...\(count)).")
            }
            return p
        }
        if let key = record.key { return defaultPartition(key: key, numPartitions: count) }
        if let p = stickyPartition[record.topic] {
            hotSticky = (record.topic, p)
            return p
        }
        let p = Int32.random(in: 0..<count)
        stickyPartition[record.topic] = p
        hotSticky = (record.topic, p)
        return p
    }

    private func initProducerId() async throws {
        if producerIdTask == nil {
            let cluster = self.cluster
            let timeout = config.deliveryTimeout
            producerIdTask = Task {
                var request = InitProducerIdRequest()
                request.transactionalId = nil
                request.transactionTimeoutMs = Int32(timeout.components.seconds * 1000)
                let response = try await cluster.sendAny(request)
                try check(response.errorCode, "InitProducerId")
                self.setProducerId(response.producerId, response.producerEpoch)
            }
        }
        do { try await producerIdTask!.value } catch {
            producerIdTask = nil
            throw error
        }
    }

    private func setProducerId(_ id: Int64, _ epoch: Int16) {
        producerId = id
        producerEpoch = epoch
    }

    /// Moves the open batch of `tp` to its send queue, encoded once for every attempt.
    private func seal(_ tp: TopicPartition) {
        guard let batch = open.removeValue(forKey: tp) else { return }
        if lastOpen?.batch === batch { lastOpen = nil }
        let seq = nextSequence[tp, default: 0]
        if config.enableIdempotence {
            batch.producerId = producerId
            batch.producerEpoch = producerEpoch
            batch.baseSequence = seq
            batch.sequenced = true
        }
        do {
            try batch.encode()
            if config.enableIdempotence { nextSequence[tp] = seq &+ Int32(batch.count) & Int32.max }
            queued[tp, default: []].append(batch)
        } catch {
            // Never sent, so it takes no sequence numbers: release its memory and fail it once, here.
            release(batch)
            batch.fail(KafkaClientError(.invalidArgument, "cannot compress batch for \(tp) with \(config.compression): \(error)"))
        }
        if stickyPartition[tp.topic] == tp.partition, let count = leaders[tp.topic]?.count, count > 1 {
            var next = Int32.random(in: 0..<Int32(count - 1))
            if next >= tp.partition { next += 1 }
            stickyPartition[tp.topic] = next
            hotSticky = nil
        }
    }

    private func scheduleDrain(after delay: Duration) {
        Task {
            try? await Task.sleep(for: delay)
            self.lingerExpired()
        }
    }

    private func lingerExpired() {
        let now = clock.now
        for (tp, batch) in open where now - batch.createdAt >= config.linger { seal(tp) }
        drain()
    }

    /// Sends queued batches to their leaders while each broker has room for another request in flight.
    private func drain() {
        if config.linger == .zero || flushing > 0 { for tp in Array(open.keys) { seal(tp) } }
        guard !queued.isEmpty else { return }
        var byNode: [Int32: [TopicPartition]] = [:]
        for tp in queued.keys {
            guard let leader = leaders[tp.topic].flatMap({ Int(tp.partition) < $0.count ? $0[Int(tp.partition)] : nil }),
                  leader >= 0 else {
                refreshLeaders(tp.topic)
                continue
            }
            byNode[leader, default: []].append(tp)
        }
        for (node, tps) in byNode {
            guard let connection = connections[node], connection.isActive else {
                connect(node)
                continue
            }
            while inFlightPerNode[node, default: 0] < config.maxInFlightRequestsPerConnection {
                var batches: [ProducerBatch] = []
                var size = 0
                for tp in tps {
                    guard var list = queued[tp], !list.isEmpty else { continue }
                    if size > 0 && size + list[0].sizeEstimate > config.maxRequestSize { continue }
                    size += list[0].sizeEstimate
                    batches.append(list.removeFirst())
                    queued[tp] = list.isEmpty ? nil : list
                }
                if batches.isEmpty { break }
                inFlightPerNode[node, default: 0] += 1
                inFlightBatches += batches.count
                sendRequest(node: node, connection: connection, batches: batches)
            }
        }
    }

    private func sendRequest(node: Int32, connection: KafkaConnection, batches: [ProducerBatch]) {
        var request = ProduceRequest()
        request.acks = config.acks
        request.timeoutMs = Int32(config.cluster.requestTimeout.components.seconds * 1000)
        var byTopic: [String: [ProduceRequest.PartitionProduceData]] = [:]
        for batch in batches {
            var p = ProduceRequest.PartitionProduceData()
            p.index = batch.tp.partition
            p.records = batch.encoded
            byTopic[batch.tp.topic, default: []].append(p)
        }
        request.topicData = byTopic.map { topic, partitions in
            var t = ProduceRequest.TopicProduceData()
            t.name = topic
            t.partitionData = partitions
            return t
        }
        let sent = batches
        // Written in drain order, synchronously, so sequence numbers reach the broker in order.
        connection.sendOrdered(request, expectResponse: config.acks != 0).whenComplete { result in
            Task {
                switch result {
                case .success(let response):
                    await self.completed(node: node, batches: sent, response: response, error: nil, acksZero: response == nil)
                case .failure(let error):
                    let e = error as? KafkaClientError ?? KafkaClientError(.connectionClosed, "\(error)")
                    await self.completed(node: node, batches: sent, response: nil, error: e, acksZero: false)
                }
            }
        }
    }

    /// Opens the connection to `node` (once at a time), then drains; a failure fails or retries what waits for it.
    private func connect(_ node: Int32) {
        guard !connectingNodes.contains(node) else { return }
        connectingNodes.insert(node)
        let cluster = self.cluster
        Task {
            do {
                let c = try await cluster.connection(to: node)
                self.connected(node, c, nil)
            } catch {
                self.connected(node, nil, error as? KafkaClientError ?? KafkaClientError(.connectionFailed, "\(error)"))
            }
        }
    }

    private func connected(_ node: Int32, _ connection: KafkaConnection?, _ error: KafkaClientError?) {
        connectingNodes.remove(node)
        if let connection {
            connections[node] = connection
            drain()
            return
        }
        // Fail (or retry after a metadata refresh) the batches waiting for this broker.
        var waiting: [ProducerBatch] = []
        for (tp, list) in queued {
            guard let leader = leaders[tp.topic], Int(tp.partition) < leader.count, leader[Int(tp.partition)] == node else { continue }
            waiting += list
            queued[tp] = nil
        }
        inFlightPerNode[node, default: 0] += 1
        inFlightBatches += waiting.count
        completed(node: node, batches: waiting, response: nil, error: error, acksZero: false)
    }

    private func completed(node: Int32, batches: [ProducerBatch], response: ProduceResponse?, error: KafkaClientError?, acksZero: Bool) {
        inFlightPerNode[node, default: 1] -= 1
        inFlightBatches -= batches.count
        var answers: [TopicPartition: ProduceResponse.PartitionProduceResponse] = [:]
        for t in response?.responses ?? [] {
            for p in t.partitionResponses { answers[TopicPartition(t.name, p.index)] = p }
        }
        var retry: [ProducerBatch] = []
        for batch in batches {
            if let error {
                retryOrFail(batch, error, into: &retry)
                continue
            }
            if acksZero {
                release(batch)
                batch.complete(baseOffset: -1, logAppendTime: -1)
                continue
            }
            guard let answer = answers[batch.tp] else {
                release(batch)
                batch.fail(KafkaClientError(.protocolViolation, "no Produce answer for \(batch.tp)"))
                continue
            }
            let code = ErrorCode(answer.errorCode)
            if code == .none || code == .duplicateSequenceNumber {
                release(batch)
                batch.complete(baseOffset: answer.baseOffset, logAppendTime: answer.logAppendTimeMs)
            } else {
                let e = KafkaClientError.broker(code, "Produce to \(batch.tp)", message: answer.errorMessage)
                retryOrFail(batch, e, into: &retry)
            }
        }
        if !retry.isEmpty {
            for batch in retry.reversed() { queued[batch.tp, default: []].insert(batch, at: 0) }
            hotSticky = nil
            for topic in Set(retry.map(\.tp.topic)) { leaders[topic] = nil; refreshLeaders(topic) }
            for tp in Set(retry.map(\.tp)) {
                queued[tp]!.sort { $0.baseSequence < $1.baseSequence }
            }
        } else {
            drain()
        }
        if isIdle {
            let waiters = idleWaiters
            idleWaiters = []
            for w in waiters { w.resume() }
        }
    }

    private func retryOrFail(_ batch: ProducerBatch, _ error: KafkaClientError, into retry: inout [ProducerBatch]) {
        batch.attempts += 1
        // OUT_OF_ORDER_SEQUENCE after an earlier batch of the same partition failed is that failure's echo.
        let retriable = error.isRetriable || (error.errorCode == .outOfOrderSequenceNumber && batch.attempts < 5)
        if retriable && batch.attempts <= config.retries && clock.now - batch.createdAt < config.deliveryTimeout {
            retry.append(batch)
        } else {
            release(batch)
            batch.fail(error)
        }
    }

    private func release(_ batch: ProducerBatch) {
        bufferedBytes -= batch.sizeEstimate - RecordBatchHeader.size + 61 * batch.count
        if bufferedBytes < config.bufferMemory && !memoryWaiters.isEmpty {
            let waiters = memoryWaiters
            memoryWaiters = []
            for w in waiters { w.resume() }
        }
    }

    /// Refreshes a topic's leaders after a backoff, then drains again.
    private func refreshLeaders(_ topic: String) {
        guard !refreshing.contains(topic) else { return }
        refreshing.insert(topic)
        let cluster = self.cluster
        let backoff = config.cluster.retryBackoff
        Task {
            try? await Task.sleep(for: backoff)
            let info = try? await cluster.topic(topic, allowAutoCreate: true, refresh: true)
            self.leadersRefreshed(topic, info)
        }
    }

    private func leadersRefreshed(_ topic: String, _ info: TopicInfo?) {
        refreshing.remove(topic)
        if let info { leaders[topic] = info.partitions.map(\.leader) }
        drain()
    }
}

import NIOPosix
enum MultiThreadedEventLoopGroupSingleton {
    static func next() -> any EventLoop { MultiThreadedEventLoopGroup.singleton.next() }
}
