import KafkaProtocol
import NIOConcurrencyHelpers
import NIOCore
import TernCoordinator

/// The transaction coordinator's marker channel (Kafka's `TransactionMarkerChannelManager`): the COMMIT/ABORT
/// markers of a transaction go to the leader of each of its partitions. Partitions this broker leads are written
/// in-process; the others are grouped by leader into one WriteTxnMarkers request each. A marker is written with
/// acks=all semantics (min.insync.replicas checked, then the high watermark awaited): a marker that a failover
/// could lose would leave the transaction open on the new leader. Partitions whose marker could not be written
/// (no leader, leader moved, connection failed) are reported in `TransactionMarkersIncomplete` and retried by the
/// coordinator; markers for deleted topics are dropped, as Kafka drops them.
extension Broker {
    /// How long a marker write waits for the in-sync replicas (Kafka uses `request.timeout.ms`).
    var markerTimeoutMs: Int64 { config.raw["request.timeout.ms"].flatMap { Int64($0) } ?? 30000 }

    func writeTransactionMarkers(_ markers: TransactionMarkers) async throws {
        var remaining: [TernCoordinator.TopicPartition] = []
        var remote: [Int32: [TernCoordinator.TopicPartition]] = [:]
        for tp in markers.partitions {
            if let partition = replicaManager.partition(topic: tp.topic, index: tp.partition), partition.isLeader {
                do {
                    try await writeMarkerLocally(markers, to: partition)
                } catch where error.code == .transactionCoordinatorFenced {
                    // A newer coordinator already wrote this producer's marker here: this one is a zombie's, dropped
                    // as Kafka's TransactionMarkerRequestCompletionHandler drops it.
                    logger.info("marker for producer \(markers.producerId) on \(tp.topic)-\(tp.partition) fenced: \(error.message)")
                } catch {
                    logger.warning("marker for producer \(markers.producerId) on \(tp.topic)-\(tp.partition) not written: \(error)")
                    remaining.append(tp)
                }
            } else if metadataStore.topic(named: tp.topic) == nil {
                continue  // deleted: nothing left to end
            } else if let leader = metadataCache.leadership(of: .init(topic: tp.topic, partition: tp.partition))?.leader,
                      leader >= 0, leader != brokerId {
                remote[leader, default: []].append(tp)
            } else {
                remaining.append(tp)  // offline, or this broker's role is not applied yet
            }
        }
        for (leader, partitions) in remote.sorted(by: { $0.key < $1.key }) {
            remaining += await sendMarkers(markers, partitions: partitions, to: leader)
        }
        if !remaining.isEmpty { throw TransactionMarkersIncomplete(remaining: remaining.sorted()) }
    }

    /// One WriteTxnMarkers request to `leader`; returns the partitions whose marker is not written.
    private func sendMarkers(_ markers: TransactionMarkers, partitions: [TernCoordinator.TopicPartition], to leader: Int32) async -> [TernCoordinator.TopicPartition] {
        var marker = WriteTxnMarkersRequest.WritableTxnMarker()
        marker.producerId = markers.producerId
        marker.producerEpoch = markers.producerEpoch
        marker.transactionResult = markers.commit
        marker.coordinatorEpoch = markers.coordinatorEpoch
        let byTopic = Dictionary(grouping: partitions, by: \.topic)
        marker.topics = byTopic.keys.sorted().map { topic in
            var t = WriteTxnMarkersRequest.WritableTxnMarkerTopic()
            t.name = topic
            t.partitionIndexes = byTopic[topic]!.map(\.partition).sorted()
            return t
        }
        var request = WriteTxnMarkersRequest()
        request.markers = [marker]
        let response: WriteTxnMarkersResponse
        do {
            let link = try await transactions.markerLinks.link(to: leader, broker: self)
            do {
                response = try await link.send(request, version: 1, flexible: true)
            } catch {
                transactions.markerLinks.drop(leader, link)
                throw error
            }
        } catch {
            logger.warning("WriteTxnMarkers to broker \(leader) failed: \(error)")
            return partitions
        }
        var failed: [TernCoordinator.TopicPartition] = []
        var answered: Set<TernCoordinator.TopicPartition> = []
        for result in response.markers where result.producerId == markers.producerId {
            for t in result.topics {
                for p in t.partitions {
                    let tp = TernCoordinator.TopicPartition(topic: t.name, partition: p.partitionIndex)
                    answered.insert(tp)
                    // TRANSACTION_COORDINATOR_FENCED: a newer coordinator took over, nothing to retry (as Kafka).
                    if p.errorCode != 0 && p.errorCode != ErrorCode.transactionCoordinatorFenced.rawValue
                        && !(p.errorCode == ErrorCode.unknownTopicOrPartition.rawValue && metadataStore.topic(named: t.name) == nil) {
                        logger.info("WriteTxnMarkers to broker \(leader): \(t.name)-\(p.partitionIndex) answered \(ErrorCode(p.errorCode).name)")
                        failed.append(tp)
                    }
                }
            }
        }
        return failed + partitions.filter { !answered.contains($0) }
    }

    /// Writes the marker on a partition this broker leads and waits for the in-sync replicas. A marker whose
    /// producer epoch is older than the partition's is skipped: a newer epoch already ended that transaction.
    func writeMarkerLocally(_ markers: TransactionMarkers, to partition: Partition) async throws(CommittedAppendFailure) {
        try checkCanAppend(partition)
        let offset: Int64
        do {
            offset = try partition.writeTransactionMarker(
                producerId: markers.producerId, producerEpoch: markers.producerEpoch, commit: markers.commit,
                coordinatorEpoch: markers.coordinatorEpoch, timestamp: Broker.nowMs())
        } catch Partition.AppendFailure.rejected(let code, let message) {
            if code == .invalidProducerEpoch {
                logger.debug("marker skipped: \(message)")
                return
            }
            throw CommittedAppendFailure(code: code, message: message)
        } catch {
            throw CommittedAppendFailure(code: .kafkaStorageError, message: "\(error)")
        }
        let tp = partition.topicPartition
        purgatory.notify(.init(topic: tp.topic, partition: tp.partition))
        try await awaitCommitted(partition, through: offset, timeoutMs: markerTimeoutMs)
        // Staged TxnOffsetCommit offsets of the producer count (commit) or vanish (abort) with the marker.
        if tp.topic == ConsumerOffsetsLog.topicName, case .ready(let groups) = coordinator.availability() {
            await groups.completeTransaction(producerId: markers.producerId, offsetsPartition: tp.partition, commit: markers.commit)
        }
    }
}

/// Connections to the other brokers for WriteTxnMarkers, one per broker, reopened after a failure.
final class MarkerLinks: Sendable {
    private let links = NIOLockedValueBox<[Int32: BrokerLink]>([:])

    func link(to id: Int32, broker: Broker) async throws -> BrokerLink {
        if let link = links.withLockedValue({ $0[id] }) { return link }
        let link = try await broker.connectToBroker(id)
        let kept = links.withLockedValue { l -> BrokerLink in
            if let existing = l[id] { return existing }
            l[id] = link
            return link
        }
        if kept !== link { link.close() }
        return kept
    }

    func drop(_ id: Int32, _ link: BrokerLink) {
        links.withLockedValue { l in if l[id] === link { l[id] = nil } }
        link.close()
    }

    func closeAll() {
        for link in links.withLockedValue({ l in defer { l = [:] }; return Array(l.values) }) { link.close() }
    }
}
