import KafkaProtocol
import Logging
import NIOCore
import TernStorage

/// Produce (key 0), versions 0-11. v3+ carry magic v2 record batches, stored as received; v0-2 carry legacy
/// message sets (magic 0/1), converted to one v2 batch before validation (Kafka 4.0 dropped v0-2; Tern keeps them
/// for old clients).
/// Per partition: validate the batch (header, sizes, CRC; records walked only when compaction needs keys),
/// check timestamps, check the idempotent producer's sequence, assign offsets in place and append the bytes as
/// received. Errors are per partition, one bad partition never fails the others. acks=0 gets no response (an
/// error closes the connection instead, as in Kafka);
/// acks must be 0, 1 or -1 (INVALID_REQUIRED_ACKS otherwise). On a single broker acks=-1 is satisfied once the
/// leader has appended (the ISR is the leader alone); `min.insync.replicas` > 1 answers NOT_ENOUGH_REPLICAS.
/// In a cluster acks=-1 waits until the high watermark covers the batch (Produce+Replica.swift).
/// From v10, NOT_LEADER_OR_FOLLOWER carries the current leader and its endpoint (KIP-951, Fetch+Leadership.swift).
/// Differs from Kafka: an unknown topic is auto-created here when auto creation is on (librdkafka relies on it).
extension Broker {
    func produce(_ request: ProduceRequest, _ ctx: RequestContext) throws -> EventLoopFuture<ProduceResponse?> {
        let acks = request.acks
        var response = ProduceResponse()
        let validAcks = acks == 0 || acks == 1 || acks == -1
        let now = Broker.nowMs()
        var replicationWaits: [ReplicationWait] = []
        for topicData in request.topicData {
            var topicResponse = ProduceResponse.TopicProduceResponse()
            topicResponse.name = topicData.name
            let topic = metadataStore.topic(named: topicData.name) ?? autoCreateTopic(topicData.name)
            for partitionData in topicData.partitionData {
                var p = ProduceResponse.PartitionProduceResponse()
                p.index = partitionData.index
                p.baseOffset = -1
                if !validAcks {
                    p.errorCode = ErrorCode.invalidRequiredAcks.rawValue
                } else if let topic, let partition = replicaManager.partition(topic: topic.name, index: partitionData.index),
                          !partition.isLeader {
                    p.errorCode = ErrorCode.notLeaderOrFollower.rawValue
                } else if let topic, let partition = replicaManager.partition(topic: topic.name, index: partitionData.index) {
                    appendPartition(partition, records: partitionData.records, acks: acks, version: ctx.apiVersion, now: now, into: &p)
                    if acks == -1 && p.errorCode == 0 && zooKeeperStore != nil {
                        replicationWaits.append(.init(
                            topicIndex: response.responses.count, partitionIndex: topicResponse.partitionResponses.count,
                            partition: partition, requiredOffset: partition.log.logEndOffset))
                    }
                } else {
                    p.errorCode = ErrorCode.unknownTopicOrPartition.rawValue
                }
                topicResponse.partitionResponses.append(p)
            }
            response.responses.append(topicResponse)
        }
        if acks == 0 {
            // No response for acks=0; like Kafka, an error closes the connection so the client notices and
            // refreshes its metadata.
            if let failed = response.responses.lazy.flatMap({ t in t.partitionResponses.map { (t.name, $0) } })
                .first(where: { $0.1.errorCode != 0 }) {
                throw RequestRejection(
                    description: "acks=0 produce to \(failed.0)-\(failed.1.index) failed with error \(failed.1.errorCode)")
            }
            return ctx.eventLoop.makeSucceededFuture(nil)
        }
        let version = ctx.apiVersion
        let listenerName = ctx.connection.listenerName
        if !replicationWaits.isEmpty {
            return awaitReplication(response, replicationWaits, timeoutMs: request.timeoutMs, ctx)  // Produce+Replica.swift
                .map { [self] settled in
                    guard var settled else { return nil }
                    addCurrentLeaders(&settled, version: version, listenerName: listenerName)
                    return settled
                }
        }
        addCurrentLeaders(&response, version: version, listenerName: listenerName)
        return ctx.eventLoop.makeSucceededFuture(response)
    }

    private func appendPartition(
        _ partition: Partition, records: ByteBuffer?, acks: Int16, version: Int16, now: Int64,
        into p: inout ProduceResponse.PartitionProduceResponse
    ) {
        let tp = partition.topicPartition
        guard var records, records.readableBytes > 0 else {
            p.errorCode = ErrorCode.corruptMessage.rawValue
            p.errorMessage = "produce request for \(tp) carries no records"
            return
        }
        let logConfig = partition.log.config
        let isrSize = partition.inSyncReplicaCount
        if acks == -1 && logConfig.minInsyncReplicas > isrSize {
            p.errorCode = ErrorCode.notEnoughReplicas.rawValue
            p.errorMessage = "min.insync.replicas=\(logConfig.minInsyncReplicas) but the ISR has \(isrSize) replica(s)"
            return
        }
        if version < 3 {
            // Produce v0-2 carry legacy message sets (magic 0/1); Tern stores magic 2 only, as Kafka 4 does.
            do {
                let codec = CompressionCodec(name: logConfig.compressionType) ?? .none
                records = try LegacyMessageSet.convertToRecordBatch(records, compression: codec)
            } catch {
                p.errorCode = error.errorCode
                p.errorMessage = error.message
                return
            }
        }
        var options = RecordBatchValidator.Options()
        options.maxBatchSize = logConfig.maxMessageBytes
        options.requireSingleBatch = true
        options.allowZstd = version >= 7
        options.requireKeys = logConfig.isCompacted
        let headers: [RecordBatchHeader]
        do {
            headers = try RecordBatchValidator.validate(records, options: options)
        } catch {
            p.errorCode = error.errorCode
            p.errorMessage = error.message
            if let index = error.batchIndex {
                var e = ProduceResponse.BatchIndexAndErrorMessage()
                e.batchIndex = Int32(index)
                e.batchIndexErrorMessage = error.message
                p.recordErrors = [e]
            }
            metrics.produceRejected.increment()
            logger.debug("produce to \(tp) rejected: \(error)")
            return
        }
        if logConfig.messageTimestampType == .createTime {
            for h in headers {
                let tooOld = logConfig.messageTimestampBeforeMaxMs < Int64.max && h.baseTimestamp >= 0
                    && now - h.baseTimestamp > logConfig.messageTimestampBeforeMaxMs
                let tooNew = logConfig.messageTimestampAfterMaxMs < Int64.max
                    && h.maxTimestamp - now > logConfig.messageTimestampAfterMaxMs
                if tooOld || tooNew {
                    p.errorCode = ErrorCode.invalidTimestamp.rawValue
                    p.errorMessage = "Timestamp \(tooOld ? h.baseTimestamp : h.maxTimestamp) of a batch to \(tp) is out of range"
                    return
                }
            }
        }
        do {
            let result = try partition.appendAsLeader(records, headers: headers)
            metrics.messagesIn.increment(by: headers.reduce(0) { $0 + Int($1.recordCount) })
            metrics.bytesIn.increment(by: records.readableBytes)
            p.baseOffset = result.baseOffset
            p.logAppendTimeMs = result.logAppendTime
            p.logStartOffset = result.logStartOffset
            purgatory.notify(.init(topic: tp.topic, partition: tp.partition))
        } catch let failure as Partition.AppendFailure {
            if case .rejected(let code, let message) = failure {
                p.errorCode = code.rawValue
                p.errorMessage = message
            }
        } catch let error as StorageError {
            p.errorCode = error.kind.errorCode.rawValue
            p.errorMessage = error.message
            if error.kind == .io { logger.error("append to \(tp) failed: \(error)") }
        } catch {
            p.errorCode = ErrorCode.unknownServerError.rawValue
            logger.error("append to \(tp) failed: \(error)")
        }
    }
}

extension StorageError.Kind {
    /// The wire code a storage failure becomes at the broker boundary.
    var errorCode: ErrorCode {
        switch self {
        case .io: return .kafkaStorageError
        case .corruptRecord: return .corruptMessage
        case .recordListTooLarge: return .recordListTooLarge
        case .messageTooLarge: return .messageTooLarge
        case .offsetOutOfRange, .invalidOffset: return .offsetOutOfRange
        case .invalidConfig: return .invalidConfig
        case .logClosed: return .notLeaderOrFollower
        }
    }
}
