import KafkaProtocol
import TernStorage

/// UpdateMetadata (key 6), versions 0-8: the controller tells every live broker the partition states and the
/// live brokers (ZooKeeper mode; Kafka's ReplicaManager.maybeUpdateMetadataCache). The Metadata API answers from
/// what the last ones said (MetadataCache).
/// - A broker epoch (v5+) older than this broker's registration is refused with STALE_BROKER_EPOCH (KIP-380).
/// - A controller epoch below the highest seen is refused with STALE_CONTROLLER_EPOCH and changes nothing.
/// - Partition states replace the cached ones; a leader of -2 (the topic is being deleted) removes the partition.
/// - The live broker list replaces the cached one whole (endpoints per listener from v3; v0-v2 a PLAINTEXT one).
extension Broker {
    func updateMetadata(_ request: UpdateMetadataRequest, _ ctx: RequestContext) throws -> UpdateMetadataResponse {
        guard zooKeeperStore != nil else {
            throw RequestRejection(description: "UpdateMetadata is only served in a ZooKeeper cluster")
        }
        var response = UpdateMetadataResponse()
        let refusal = admitControllerRequest(
            "UpdateMetadata", controllerId: request.controllerId, controllerEpoch: request.controllerEpoch, brokerEpoch: request.brokerEpoch)
        guard refusal == .none else {
            response.errorCode = refusal.rawValue
            return response
        }
        let states = ctx.apiVersion <= 4
            ? request.ungroupedPartitionStates
            : request.topicStates.flatMap { t in t.partitionStates.map { s in var s = s; s.topicName = t.topicName; return s } }
        let partitions = states.map { s in
            (TopicPartition(topic: s.topicName, partition: s.partitionIndex),
             PartitionLeadership(leader: s.leader, leaderEpoch: s.leaderEpoch, isr: s.isr,
                                 controllerEpoch: s.controllerEpoch, zkVersion: s.zkVersion))
        }
        var live: [Int32: ClusterBroker] = [:]
        for b in request.liveBrokers {
            var endpoints: [String: (host: String, port: Int)] = [:]
            if ctx.apiVersion == 0 {
                endpoints["PLAINTEXT"] = (b.v0Host, Int(b.v0Port))
            }
            for e in b.endpoints {
                // v1-v2 endpoints carry only the security protocol, which names the listener.
                let name = ctx.apiVersion >= 3 ? e.listener : ControllerRequests.securityProtocolName(e.securityProtocol)
                endpoints[name] = (e.host, Int(e.port))
            }
            live[b.id] = ClusterBroker(id: b.id, rack: b.rack, endpoints: endpoints)
        }
        metadataCache.update(partitions: partitions, liveBrokers: live)
        for (tp, _) in partitions { purgatory.notify(.init(topic: tp.topic, partition: tp.partition)) }
        return response
    }
}
