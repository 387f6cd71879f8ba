import KafkaProtocol

/// DescribeCluster (key 60), versions 0-1: this broker, the cluster id, the controller (this broker).
/// Endpoint type 2 (controllers, KIP-919) is answered like brokers: every broker here is also the controller.
extension Broker {
    func describeCluster(_ request: DescribeClusterRequest, _ ctx: RequestContext) throws -> DescribeClusterResponse {
        var response = DescribeClusterResponse()
        let endpoint = advertisedEndpoint(listenerName: ctx.connection.listenerName)
        response.clusterId = clusterId
        response.controllerId = brokerId
        response.endpointType = request.endpointType
        var b = DescribeClusterResponse.DescribeClusterBroker()
        b.brokerId = brokerId
        b.host = endpoint.host
        b.port = Int32(endpoint.port)
        b.rack = config.brokerRack
        response.brokers = [b]
        return response
    }
}
