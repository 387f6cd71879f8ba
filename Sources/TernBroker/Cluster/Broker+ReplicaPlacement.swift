/// What replica placement (ReplicaAssignment.swift) is given for new topics and partitions.
extension Broker {
    /// The live brokers with their racks (`broker.rack` in each registration); this broker alone without
    /// ZooKeeper.
    func placementBrokers() -> [ReplicaAssignment.Broker] {
        guard let live = metadataStore.liveBrokers() else { return [.init(id: brokerId, rack: config.brokerRack)] }
        return live.values.map { ReplicaAssignment.Broker(id: $0.id, rack: $0.rack) }.sorted { $0.id < $1.id }
    }
}
