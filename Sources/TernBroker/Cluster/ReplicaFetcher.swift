import FoundationEssentials
import KafkaProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore
import TernStorage

/// A follower's fetch loop towards one leader broker (Kafka's ReplicaFetcherThread): every partition this broker
/// follows on that leader, fetched from its log end offset with `replica_id` = this broker's id, appended as
/// the leader wrote it. Long-polls (max wait 500 ms) so an idle follower costs the leader almost nothing.
/// Connection failures back off 500 ms and reconnect to the leader's current registration.
final class ReplicaFetcher: Sendable {
    let leaderId: Int32
    private let task = NIOLockedValueBox<Task<Void, Never>?>(nil)
    /// The current connection, so `stop` can close it at once rather than when the loop next wakes.
    private let currentLink = NIOLockedValueBox<BrokerLink?>(nil)

    init(leaderId: Int32) { self.leaderId = leaderId }

    func start(broker: Broker) {
        let leaderId = self.leaderId
        let currentLink = self.currentLink
        let t = Task.detached { [weak broker] in
            var link: BrokerLink?
            while !Task.isCancelled {
                guard let broker else { return }
                let followed = broker.replicaManager.allPartitions.filter { !$0.isLeader && $0.leaderId == leaderId }
                if followed.isEmpty {
                    try? await Task.sleep(for: .milliseconds(200))
                    continue
                }
                do {
                    if link == nil {
                        link = try await broker.connectToBroker(leaderId)
                        currentLink.withLockedValue { $0 = link }
                    }
                    try await Self.fetchOnce(broker: broker, link: link!, partitions: followed)
                } catch {
                    if Task.isCancelled { return }  // stop() closed the connection
                    broker.logger.debug("replica fetcher for leader \(leaderId): \(error)")
                    link?.close()
                    link = nil
                    try? await Task.sleep(for: .milliseconds(500))
                }
            }
        }
        task.withLockedValue { $0 = t }
    }

    func stop() {
        task.withLockedValue { $0?.cancel() }
        currentLink.withLockedValue { $0?.close() }
    }

    /// KIP-101: before fetching, a follower asks the leader where its latest epoch ended and cuts its log there,
    /// so a former leader's unreplicated tail never stays under offsets the new leader assigns to other records.
    private static func truncateDiverged(broker: Broker, link: BrokerLink, partitions: [Partition]) async throws -> [Partition] {
        var asks: [(Partition, (currentLeaderEpoch: Int32, latestEpoch: Int32))] = []
        for p in partitions { if let r = p.truncationRequest { asks.append((p, r)) } }
        guard !asks.isEmpty else { return partitions }
        var request = OffsetForLeaderEpochRequest()
        request.replicaId = broker.brokerId
        var byTopic: [String: [OffsetForLeaderEpochRequest.OffsetForLeaderPartition]] = [:]
        for (p, r) in asks {
            var q = OffsetForLeaderEpochRequest.OffsetForLeaderPartition()
            q.partition = p.topicPartition.partition
            q.currentLeaderEpoch = r.currentLeaderEpoch
            q.leaderEpoch = r.latestEpoch
            byTopic[p.topicPartition.topic, default: []].append(q)
        }
        request.topics = byTopic.map { name, parts in
            var t = OffsetForLeaderEpochRequest.OffsetForLeaderTopic()
            t.topic = name
            t.partitions = parts
            return t
        }
        let response = try await link.send(request, version: 3, flexible: false)
        for t in response.topics {
            for r in t.partitions where r.errorCode == 0 {
                guard let (p, ask) = asks.first(where: { $0.0.topicPartition.topic == t.topic && $0.0.topicPartition.partition == r.partition })
                else { continue }
                let before = p.log.logEndOffset
                try p.truncateForLeader(endOffset: r.endOffset, expectedLeaderEpoch: ask.currentLeaderEpoch)
                if p.log.logEndOffset < before {
                    broker.logger.info("\(p.topicPartition): truncated \(before - p.log.logEndOffset) record offset(s) not on leader \(r.leaderEpoch >= 0 ? "epoch \(r.leaderEpoch)" : "")")
                }
            }
        }
        // Partitions still waiting (the leader had not caught up with the new epoch) are skipped this round.
        return partitions.filter { $0.truncationRequest == nil }
    }

    private static func fetchOnce(broker: Broker, link: BrokerLink, partitions all: [Partition]) async throws {
        let partitions = try await truncateDiverged(broker: broker, link: link, partitions: all)
        if partitions.isEmpty {
            try await Task.sleep(for: .milliseconds(100))
            return
        }
        var request = FetchRequest()
        request.replicaId = broker.brokerId
        request.maxWaitMs = 500
        request.minBytes = 1
        request.maxBytes = 10 << 20
        var byTopic: [String: [Partition]] = [:]
        for p in partitions { byTopic[p.topicPartition.topic, default: []].append(p) }
        for (topic, parts) in byTopic {
            var t = FetchRequest.FetchTopic()
            t.topic = topic
            t.partitions = parts.map { p in
                var fp = FetchRequest.FetchPartition()
                fp.partition = p.topicPartition.partition
                fp.fetchOffset = p.log.logEndOffset
                fp.currentLeaderEpoch = p.leaderEpoch
                fp.logStartOffset = p.log.logStartOffset
                fp.partitionMaxBytes = 1 << 20
                return fp
            }
            request.topics.append(t)
        }
        let response = try await link.send(request, version: 12, flexible: true)
        if response.errorCode != 0 { throw BrokerError.storage("fetch from leader failed with error \(response.errorCode)") }
        var backoff = false
        for t in response.responses {
            for pd in t.partitions {
                guard let partition = broker.replicaManager.partition(topic: t.topic, index: pd.partitionIndex) else { continue }
                if pd.errorCode == ErrorCode.offsetOutOfRange.rawValue && partition.log.logEndOffset < pd.logStartOffset {
                    // A new replica (reassignment) of a log the leader has trimmed: start where the leader's
                    // log starts, as Kafka's follower does (truncateFullyAndStartAt).
                    try partition.log.truncateFully(startingAt: pd.logStartOffset)
                    broker.logger.info("\(partition.topicPartition): follower log starts at the leader's log start offset \(pd.logStartOffset)")
                    continue
                }
                if pd.errorCode != 0 {
                    // Stale role (NOT_LEADER_OR_FOLLOWER) or a log that diverged: wait for the next state change.
                    backoff = true
                    broker.logger.debug("follower fetch of \(partition.topicPartition) from \(t.topic): error \(pd.errorCode)")
                    continue
                }
                let records = pd.records ?? ByteBuffer()
                let offsets = partition.log.offsets
                if offsets.logEndOffset == offsets.logStartOffset, let base = records.getInteger(at: records.readerIndex, as: Int64.self),
                   base < offsets.logEndOffset {
                    // An empty log started at the leader's log start offset, which falls inside a batch: start the
                    // log at that batch instead (Kafka's follower does the same on UnexpectedAppendOffsetException).
                    try partition.log.truncateFully(startingAt: base)
                }
                try partition.appendAsFollower(records, leaderHighWatermark: pd.highWatermark, leaderLogStartOffset: pd.logStartOffset)
                broker.purgatory.notify(.init(topic: t.topic, partition: pd.partitionIndex))
            }
        }
        if backoff { try await Task.sleep(for: .milliseconds(200)) }
    }
}

extension Broker {
    /// A connection to another broker's registered endpoint on this broker's inter-broker listener.
    func connectToBroker(_ id: Int32) async throws -> BrokerLink {
        guard let registration = metadataStore.liveBrokers()?[id] else {
            throw BrokerError.metadata("broker \(id) is not registered")
        }
        let listener = config.raw["inter.broker.listener.name"] ?? advertised.withLockedValue { $0.first?.name } ?? "PLAINTEXT"
        guard let endpoint = registration.endpoints[listener] ?? registration.endpoints.values.first else {
            throw BrokerError.metadata("broker \(id) has no endpoint for listener \(listener)")
        }
        return try await BrokerLink.connect(
            host: endpoint.host, port: endpoint.port, clientId: "tern-replica-fetcher-\(brokerId)", group: eventLoopGroup)
    }
}
