import Logging
import NIOCore
import TernBroker
import TernNetwork

// The seam between the network layer and the broker. The lead replaces these two functions with the real
// broker (TernBroker's request dispatch); until then the server accepts connections and closes each one on its
// first request with a log line, so clients fail fast instead of hanging.

/// Builds the object that answers every request.
func makeRequestHandler(config: BrokerConfig, meta: MetaProperties, logger: Logger) -> any KafkaRequestHandler {
    UnwiredRequestHandler()
}

/// Called after the network has drained on shutdown: flush logs, write checkpoints, stop coordinators.
func brokerDidStop(_ handler: any KafkaRequestHandler) async {}

/// Placeholder: no API is handled yet.
struct UnwiredRequestHandler: KafkaRequestHandler {
    struct NotWired: Error, CustomStringConvertible {
        var description: String { "request handling is not wired into the tern executable yet" }
    }

    func handle(_ request: KafkaRequestFrame, context: ConnectionContext) async throws -> ByteBuffer? {
        throw NotWired()
    }
}
