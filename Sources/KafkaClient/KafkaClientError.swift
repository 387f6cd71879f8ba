import KafkaProtocol

/// An error of the Kafka client, with the context a person needs to act on it: which broker, which API,
/// which topic or partition, and the wire error code when the broker answered one.
public struct KafkaClientError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// TCP connect failed (refused, unreachable, DNS).
        case connectionFailed
        /// The connection closed or failed while requests were in flight.
        case connectionClosed
        /// No response within `request.timeout.ms`.
        case timedOut
        /// The broker and the client share no version of an API.
        case unsupportedVersion
        /// A response could not be decoded.
        case protocolViolation
        /// The broker answered an error code.
        case broker(ErrorCode)
        /// The topic does not exist.
        case unknownTopic
        /// Invalid configuration or argument.
        case invalidArgument
        /// The client was closed.
        case closed
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The wire error code, if the broker answered one.
    public var errorCode: ErrorCode? {
        if case .broker(let code) = kind { return code }
        return nil
    }

    /// Whether retrying the operation may succeed (Kafka's RetriableException, or a lost connection).
    public var isRetriable: Bool {
        switch kind {
        case .connectionClosed, .timedOut: true
        case .broker(let code): code.isRetriable
        default: false
        }
    }

    public var description: String { message }

    static func broker(_ code: ErrorCode, _ context: String, message: String? = nil) -> KafkaClientError {
        var text = "\(context): \(code.name)"
        if let message, !message.isEmpty { text += " (\(message))" }
        return KafkaClientError(.broker(code), text)
    }
}

/// Throws when `raw` is an error code.
func check(_ raw: Int16, _ context: @autoclosure () -> String, message: String? = nil) throws(KafkaClientError) {
    guard raw != 0 else { return }
    throw KafkaClientError.broker(ErrorCode(raw), context(), message: message)
}
