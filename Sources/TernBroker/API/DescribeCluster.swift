import KafkaProtocol

/// DescribeCluster (key 60), versions 0-1: the cluster id, the controller and the live brokers on the client's
/// listener — in a cluster from the controller's UpdateMetadata, as Metadata answers; alone, this broker.
/// Endpoint type 2 (controllers, KIP-919) is answered like brokers.
extension Broker {
    func describeCluster(_ request: DescribeClusterRequest, _ ctx: RequestContext) throws -> DescribeClusterResponse {
        var response = DescribeClusterResponse()
        let endpoint = advertisedEndpoint(listenerName: ctx.connection.listenerName)
        response.clusterId = clusterId
        response.controllerId = zooKeeperStore == nil ? brokerId : (metadataCache.controllerId ?? metadataStore.controllerId() ?? -1)
        response.endpointType = request.endpointType
        if let live = clusterBrokerEntries(ctx) {
            response.brokers = live.map { m in
                var b = DescribeClusterResponse.DescribeClusterBroker()
                b.brokerId = m.nodeId
                b.host = m.host
                b.port = m.port
                b.rack = m.rack
                return b
            }
            return response
        }
        var b = DescribeClusterResponse.DescribeClusterBroker()
        b.brokerId = brokerId
        b.host = endpoint.host
        b.port = Int32(endpoint.port)
        b.rack = config.brokerRack
        response.brokers = [b]
        return response
    }
}
