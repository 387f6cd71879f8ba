import KafkaProtocol
import NIOCore

/// Connects the group coordinator (TernCoordinator) to the wire: FindCoordinator, the group APIs and the
/// `__consumer_offsets` log. Filled in as the coordinator lands.
final class CoordinatorWiring: Sendable {
    init() {}
    func start(broker: Broker) throws {}
    func shutdown() {}
}

extension Broker {
    func routeCoordinatorApis(_ ctx: RequestContext, body b: inout ByteBuffer) throws -> EventLoopFuture<ByteBuffer?> {
        throw RequestRejection(description: "no handler for \(ctx.apiKey.name)")
    }
}
