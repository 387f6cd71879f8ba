import Logging
import NIOCore
import TernBroker
import TernNetwork

// The seam between the network layer and the broker.

/// Builds the broker that answers every request (opens and recovers the logs).
func makeBroker(config: BrokerConfig, group: any EventLoopGroup) throws -> Broker {
    try Broker(config: config, eventLoopGroup: group, logger: Logger(label: "tern.broker"))
}
