/// Why a record batch (or legacy message set) was refused, with the Kafka error code the broker
/// answers for its partition. Kafka's CorruptRecordException maps to CORRUPT_MESSAGE and its
/// InvalidRecordException to INVALID_RECORD; both are decided here so every path answers alike.
public struct RecordValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The Kafka error code (CORRUPT_MESSAGE = 2, INVALID_RECORD = 87, ...).
    public var errorCode: Int16
    /// What was wrong, naming the field.
    public var message: String
    /// Which batch (0-based) of the payload, when known.
    public var batchIndex: Int?

    public init(errorCode: Int16, message: String, batchIndex: Int? = nil) {
        self.errorCode = errorCode
        self.message = message
        self.batchIndex = batchIndex
    }

    public static let corruptMessageCode: Int16 = 2
    public static let messageTooLargeCode: Int16 = 10
    public static let invalidTimestampCode: Int16 = 32
    public static let unsupportedForMessageFormatCode: Int16 = 43
    public static let unsupportedCompressionTypeCode: Int16 = 76
    public static let invalidRecordCode: Int16 = 87

    /// Bytes that cannot be parsed or whose checksum fails (CORRUPT_MESSAGE).
    public static func corrupt(_ message: String, batch: Int? = nil) -> Self {
        Self(errorCode: corruptMessageCode, message: message, batchIndex: batch)
    }

    /// A well-formed batch that breaks a rule (INVALID_RECORD).
    public static func invalidRecord(_ message: String, batch: Int? = nil) -> Self {
        Self(errorCode: invalidRecordCode, message: message, batchIndex: batch)
    }

    /// A batch larger than `max.message.bytes` (MESSAGE_TOO_LARGE).
    public static func tooLarge(_ message: String, batch: Int? = nil) -> Self {
        Self(errorCode: messageTooLargeCode, message: message, batchIndex: batch)
    }

    /// A compression id that is unknown or not allowed for the request version (UNSUPPORTED_COMPRESSION_TYPE).
    public static func unsupportedCompression(_ message: String, batch: Int? = nil) -> Self {
        Self(errorCode: unsupportedCompressionTypeCode, message: message, batchIndex: batch)
    }

    /// A feature the message format cannot carry (UNSUPPORTED_FOR_MESSAGE_FORMAT).
    public static func unsupportedForFormat(_ message: String, batch: Int? = nil) -> Self {
        Self(errorCode: unsupportedForMessageFormatCode, message: message, batchIndex: batch)
    }

    /// Decompression failures: undecodable data is corrupt, but too much output is the
    /// sender's fault in a way Kafka reports as INVALID_RECORD.
    static func from(_ error: CompressionError, batch: Int? = nil) -> Self {
        switch error.kind {
        case .outputTooLarge: .invalidRecord("decompressed size over limit: \(error)", batch: batch)
        case .corrupt, .failed: .corrupt("cannot decompress: \(error)", batch: batch)
        }
    }

    public var description: String {
        "error \(errorCode)\(batchIndex.map { " in batch \($0)" } ?? ""): \(message)"
    }
}
