import NIOCore

/// One request as it came off the wire, with only the fixed prefix of the request header parsed.
///
/// Every request header version (0, 1 and 2) starts with `request_api_key: int16`, `request_api_version: int16`,
/// `correlation_id: int32`; the rest (client id, tagged fields, body) is left to the broker's codecs, which read
/// `frame` from its start.
public struct KafkaRequestFrame: Sendable, Hashable {
    /// The size of the fixed header prefix every request has.
    public static let fixedPrefixBytes = 8

    public var apiKey: Int16
    public var apiVersion: Int16
    public var correlationId: Int32
    /// The whole frame payload, header included (without the 4-byte size prefix).
    public var frame: ByteBuffer

    public init(apiKey: Int16, apiVersion: Int16, correlationId: Int32, frame: ByteBuffer) {
        self.apiKey = apiKey
        self.apiVersion = apiVersion
        self.correlationId = correlationId
        self.frame = frame
    }

    /// Reads the fixed prefix without moving `frame`'s reader index; nil when the frame is shorter than 8 bytes.
    public init?(frame: ByteBuffer) {
        let start = frame.readerIndex
        guard frame.readableBytes >= Self.fixedPrefixBytes,
              let apiKey = frame.getInteger(at: start, as: Int16.self),
              let apiVersion = frame.getInteger(at: start + 2, as: Int16.self),
              let correlationId = frame.getInteger(at: start + 4, as: Int32.self)
        else { return nil }
        self.init(apiKey: apiKey, apiVersion: apiVersion, correlationId: correlationId, frame: frame)
    }
}
