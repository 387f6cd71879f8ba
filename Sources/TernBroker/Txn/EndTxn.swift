import KafkaProtocol
import NIOCore

/// EndTxn (key 26), versions 0-4.
/// Commits or aborts the producer's open transaction: PrepareCommit/PrepareAbort is stored, COMMIT/ABORT markers
/// are written to every partition of the transaction (staged TxnOffsetCommit offsets become visible on commit),
/// then CompleteCommit/CompleteAbort; the answer comes after all of that (Kafka answers after the Prepare record
/// and writes markers in the background, so its clients may see CONCURRENT_TRANSACTIONS on the next transaction;
/// here they do only while another request is completing it). A retry of an already completed EndTxn answers
/// NONE; no open transaction is INVALID_TXN_STATE; an old epoch PRODUCER_FENCED (INVALID_PRODUCER_EPOCH below v2).
/// v5 (transaction version 2, KIP-890 epoch bump per transaction) is not offered.
extension Broker {
    func endTxn(_ request: EndTxnRequest, _ ctx: RequestContext) -> EventLoopFuture<EndTxnResponse?> {
        let version = ctx.apiVersion
        let answer: @Sendable (Int16) -> EndTxnResponse = { code in
            var response = EndTxnResponse()
            response.errorCode = Broker.fencedCode(code, newCodeFrom: 2, requestVersion: version)
            return response
        }
        return withTransactionCoordinator(ctx, failure: answer) { service in
            answer(await service.endTransaction(
                transactionalId: request.transactionalId, producerId: request.producerId, producerEpoch: request.producerEpoch,
                commit: request.committed))
        }
    }
}
