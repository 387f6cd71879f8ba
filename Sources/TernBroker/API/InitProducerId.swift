import KafkaProtocol
import NIOCore
import TernCoordinator

/// InitProducerId (key 22), versions 0-5.
/// Without a transactional id (idempotent producers): a fresh producer id with epoch 0; a producer that sends its
/// current id and epoch (v3+, KIP-360) gets the same id with the epoch bumped, so it can reset its sequences
/// without losing its identity.
/// With a transactional id: the transaction coordinator (Txn/) answers: the id's producer id with the epoch bumped,
/// which fences every older producer of the id; an open transaction is aborted first (CONCURRENT_TRANSACTIONS, the
/// client retries); a timeout above `transaction.max.timeout.ms` is INVALID_TRANSACTION_TIMEOUT. A KIP-360 id and
/// epoch that are not the current ones are PRODUCER_FENCED (v4+; INVALID_PRODUCER_EPOCH before, as Kafka maps it).
extension Broker {
    func initProducerId(_ request: InitProducerIdRequest, _ ctx: RequestContext) throws -> EventLoopFuture<InitProducerIdResponse?> {
        var response = InitProducerIdResponse()
        if let txn = request.transactionalId, !txn.isEmpty {
            let version = ctx.apiVersion
            let fail: @Sendable (Int16) -> InitProducerIdResponse = { code in
                var r = InitProducerIdResponse()
                r.errorCode = code
                r.producerId = -1
                r.producerEpoch = -1
                return r
            }
            return withTransactionCoordinator(ctx, failure: fail) { service in
                let result = await service.initProducerId(
                    transactionalId: txn, transactionTimeoutMs: request.transactionTimeoutMs,
                    expectedProducerId: version >= 3 ? request.producerId : -1, expectedEpoch: version >= 3 ? request.producerEpoch : -1)
                var r = fail(Broker.fencedCode(result.errorCode, newCodeFrom: 4, requestVersion: version))
                if result.errorCode == 0 {
                    r.producerId = result.producerId
                    r.producerEpoch = result.producerEpoch
                }
                return r
            }
        }
        if request.producerId >= 0 && request.producerEpoch >= 0 && request.producerEpoch < Int16.max - 1 {
            response.producerId = request.producerId
            response.producerEpoch = request.producerEpoch + 1
            return ctx.eventLoop.makeSucceededFuture(response)
        }
        do {
            response.producerId = try producerIds.nextProducerId()
            response.producerEpoch = 0
        } catch {
            logger.error("cannot reserve producer ids: \(error)")
            response.errorCode = ErrorCode.kafkaStorageError.rawValue
        }
        return ctx.eventLoop.makeSucceededFuture(response)
    }
}
