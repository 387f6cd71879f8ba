import NIOCore

/// A message of Kafka's protocol, generated from its JSON schema: a request, a response, a header or a
/// data schema (consumer protocol, `__consumer_offsets` and transaction log records).
public protocol KafkaMessage: Sendable {
    /// Every field at its spec default.
    init()
    static var lowestSupportedVersion: Int16 { get }
    static var highestSupportedVersion: Int16 { get }
    /// Decodes the message body at `version`. Throws `KafkaProtocolError`; never traps on bad input.
    init(from buffer: inout ByteBuffer, version: Int16) throws
    /// Encodes the message body at `version`. Throws `KafkaProtocolError` when a field holds a value the
    /// version cannot carry (a null where not nullable, a string too long for its length prefix).
    func write(to buffer: inout ByteBuffer, version: Int16) throws
}

public protocol KafkaRequestMessage: KafkaMessage {
    associatedtype Response: KafkaResponseMessage
    static var apiKey: ApiKey { get }
}

public protocol KafkaResponseMessage: KafkaMessage {
    static var apiKey: ApiKey { get }
}

extension KafkaMessage {
    /// The valid version range of the schema.
    public static var supportedVersions: ClosedRange<Int16> { lowestSupportedVersion...highestSupportedVersion }
}
