import KafkaProtocol
import NIOCore
import TernCoordinator

/// AddPartitionsToTxn (key 24), versions 0-5.
/// v0-3 (producers): one transactional id and its partitions; answered per partition with one code for all (the
/// coordinator adds them together or not at all). v4+ (KIP-890, sent by brokers): a batch of transactions, each
/// answered on its own; `verify_only` checks that the partitions are already in the open transaction
/// (INVALID_TXN_STATE otherwise) without adding them.
/// Partitions of unknown topics answer UNKNOWN_TOPIC_OR_PARTITION and the others OPERATION_NOT_ATTEMPTED, as Kafka.
/// PRODUCER_FENCED is INVALID_PRODUCER_EPOCH below v2 (KIP-588).
/// Differs from Kafka: no ACLs (TRANSACTIONAL_ID_AUTHORIZATION_FAILED never appears).
extension Broker {
    func addPartitionsToTxn(_ request: AddPartitionsToTxnRequest, _ ctx: RequestContext) -> EventLoopFuture<AddPartitionsToTxnResponse?> {
        let version = ctx.apiVersion
        let transactions: [AddPartitionsToTxnRequest.AddPartitionsToTxnTransaction]
        if version >= 4 {
            transactions = request.transactions
        } else {
            var t = AddPartitionsToTxnRequest.AddPartitionsToTxnTransaction()
            t.transactionalId = request.v3AndBelowTransactionalId
            t.producerId = request.v3AndBelowProducerId
            t.producerEpoch = request.v3AndBelowProducerEpoch
            t.topics = request.v3AndBelowTopics
            transactions = [t]
        }
        // Unknown partitions are found before the coordinator is asked: a transaction with any is not attempted.
        let unknown: [Set<PartitionKey>] = transactions.map { txn in
            var missing: Set<PartitionKey> = []
            for topic in txn.topics {
                for p in topic.partitions where replicaManager.partition(topic: topic.name, index: p) == nil {
                    missing.insert(PartitionKey(topic.name, p))
                }
            }
            return missing
        }
        let results: @Sendable ([Int16]) -> AddPartitionsToTxnResponse = { codes in
            var response = AddPartitionsToTxnResponse()
            let answered = zip(transactions, zip(unknown, codes)).map { txn, pair in
                var r = AddPartitionsToTxnResponse.AddPartitionsToTxnResult()
                r.transactionalId = txn.transactionalId
                r.topicResults = txn.topics.map { topic in
                    var t = AddPartitionsToTxnResponse.AddPartitionsToTxnTopicResult()
                    t.name = topic.name
                    t.resultsByPartition = topic.partitions.map { p in
                        var pr = AddPartitionsToTxnResponse.AddPartitionsToTxnPartitionResult()
                        pr.partitionIndex = p
                        if pair.0.isEmpty {
                            pr.partitionErrorCode = Broker.fencedCode(pair.1, newCodeFrom: 2, requestVersion: version)
                        } else {
                            pr.partitionErrorCode = pair.0.contains(PartitionKey(topic.name, p))
                                ? ErrorCode.unknownTopicOrPartition.rawValue : ErrorCode.operationNotAttempted.rawValue
                        }
                        return pr
                    }
                    return t
                }
                return r
            }
            if version >= 4 {
                response.resultsByTransaction = answered
            } else {
                response.resultsByTopicV3AndBelow = answered.first?.topicResults ?? []
            }
            return response
        }
        let failure: (Int16) -> AddPartitionsToTxnResponse = { code in
            var response = results(Array(repeating: code, count: transactions.count))
            if version >= 4 { response.errorCode = code }
            return response
        }
        let unknownPartitions = unknown
        return withTransactionCoordinator(ctx, failure: failure) { service in
            var codes: [Int16] = []
            for (i, txn) in transactions.enumerated() {
                guard unknownPartitions[i].isEmpty else {
                    codes.append(0)
                    continue
                }
                let partitions = txn.topics.flatMap { topic in topic.partitions.map { TernCoordinator.TopicPartition(topic: topic.name, partition: $0) } }
                if version >= 4 && txn.verifyOnly {
                    codes.append(await service.verifyPartitions(
                        transactionalId: txn.transactionalId, producerId: txn.producerId, producerEpoch: txn.producerEpoch, partitions: partitions))
                } else {
                    codes.append(await service.addPartitions(
                        transactionalId: txn.transactionalId, producerId: txn.producerId, producerEpoch: txn.producerEpoch, partitions: partitions))
                }
            }
            return results(codes)
        }
    }
}
