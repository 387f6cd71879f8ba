import KafkaProtocol
import NIOCore

/// AddOffsetsToTxn (key 25), versions 0-4.
/// Adds the group's `__consumer_offsets` partition to the producer's transaction (starting one if none is open),
/// so the TxnOffsetCommit that follows is committed or aborted with it. Errors as AddPartitionsToTxn;
/// PRODUCER_FENCED is INVALID_PRODUCER_EPOCH below v2 (KIP-588). `__consumer_offsets` is created if needed.
extension Broker {
    func addOffsetsToTxn(_ request: AddOffsetsToTxnRequest, _ ctx: RequestContext) -> EventLoopFuture<AddOffsetsToTxnResponse?> {
        let version = ctx.apiVersion
        let answer: @Sendable (Int16) -> AddOffsetsToTxnResponse = { code in
            var response = AddOffsetsToTxnResponse()
            response.errorCode = Broker.fencedCode(code, newCodeFrom: 2, requestVersion: version)
            return response
        }
        guard coordinator.ensureOffsetsTopic(broker: self) else {
            return ctx.eventLoop.makeSucceededFuture(answer(ErrorCode.coordinatorNotAvailable.rawValue))
        }
        return withTransactionCoordinator(ctx, failure: answer) { service in
            answer(await service.addOffsets(
                transactionalId: request.transactionalId, producerId: request.producerId, producerEpoch: request.producerEpoch,
                groupId: request.groupId))
        }
    }
}
