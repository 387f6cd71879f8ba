import KafkaProtocol

extension Broker {
    /// Whether a request from the controller may act on this broker, checked in Kafka's order: a broker epoch older
    /// than this registration's (the request was meant for an earlier incarnation) is STALE_BROKER_EPOCH and changes
    /// nothing, then a controller epoch below the highest seen is STALE_CONTROLLER_EPOCH. `.none` admits it.
    func admitControllerRequest(_ api: String, controllerId: Int32, controllerEpoch: Int32, brokerEpoch: Int64) -> ErrorCode {
        if metadataCache.isStale(brokerEpoch: brokerEpoch) {
            logger.info("ignoring \(api) with broker epoch \(brokerEpoch): this broker's epoch is \(metadataCache.brokerEpoch)")
            return .staleBrokerEpoch
        }
        if !metadataCache.admitController(controllerId, epoch: controllerEpoch) {
            logger.warning("ignoring \(api) from controller \(controllerId) epoch \(controllerEpoch): the highest controller epoch seen is \(metadataCache.controllerEpoch)")
            return .staleControllerEpoch
        }
        return .none
    }
}
