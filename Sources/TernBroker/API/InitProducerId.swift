import KafkaProtocol

/// InitProducerId (key 22), versions 0-5, for idempotent producers (no transactional id).
/// Hands out a fresh producer id with epoch 0. A producer that sends its current id and epoch (v3+, KIP-360)
/// gets the same id with the epoch bumped, so it can reset its sequences without losing its identity.
/// Transactional ids need the transaction coordinator (a later issue): they answer COORDINATOR_NOT_AVAILABLE
/// rather than pretend.
extension Broker {
    func initProducerId(_ request: InitProducerIdRequest, _ ctx: RequestContext) throws -> InitProducerIdResponse {
        var response = InitProducerIdResponse()
        if let txn = request.transactionalId, !txn.isEmpty {
            response.errorCode = ErrorCode.coordinatorNotAvailable.rawValue
            return response
        }
        if request.producerId >= 0 && request.producerEpoch >= 0 && request.producerEpoch < Int16.max - 1 {
            response.producerId = request.producerId
            response.producerEpoch = request.producerEpoch + 1
            return response
        }
        do {
            response.producerId = try producerIds.nextProducerId()
            response.producerEpoch = 0
        } catch {
            logger.error("cannot reserve producer ids: \(error)")
            response.errorCode = ErrorCode.kafkaStorageError.rawValue
        }
        return response
    }
}
