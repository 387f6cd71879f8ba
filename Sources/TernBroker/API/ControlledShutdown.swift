import KafkaProtocol
import TernStorage

/// ControlledShutdown (key 7), versions 0-3: a broker about to stop asks the controller to move away the
/// leadership it holds (and take it out of ISRs); the answer lists the partitions it still leads. From v2 the
/// request carries the broker's epoch: an older one than its registration is refused with STALE_BROKER_EPOCH.
extension Broker {
    func controlledShutdown(_ request: ControlledShutdownRequest, _ ctx: RequestContext) throws -> ControlledShutdownResponse {
        var response = ControlledShutdownResponse()
        guard let controller, controller.isActive else {
            response.errorCode = ErrorCode.notController.rawValue
            return response
        }
        let (code, remaining) = controller.controlledShutdown(brokerId: request.brokerId, brokerEpoch: request.brokerEpoch)
        response.errorCode = code.rawValue
        response.remainingPartitions = remaining.map { tp in
            var r = ControlledShutdownResponse.RemainingPartition()
            r.topicName = tp.topic
            r.partitionIndex = tp.partition
            return r
        }
        return response
    }
}
