import KafkaProtocol
import TernStorage

/// ControlledShutdown (key 7), versions 0-3: a broker about to stop asks the controller to move away the
/// leadership it holds (and take it out of ISRs); the answer lists the partitions it still leads.
extension Broker {
    func controlledShutdown(_ request: ControlledShutdownRequest, _ ctx: RequestContext) throws -> ControlledShutdownResponse {
        var response = ControlledShutdownResponse()
        guard let controller, controller.isActive else {
            response.errorCode = ErrorCode.notController.rawValue
            return response
        }
        let (code, remaining) = controller.controlledShutdown(brokerId: request.brokerId)
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
