import NIOCore

/// One message of a legacy message set (magic 0 or 1), after any compressed wrapper was opened.
///
/// ```
/// offset int64, messageSize int32, crc uint32 (CRC32 of magic..end), magic int8, attributes int8,
/// [timestamp int64, magic 1 only], key bytes (int32 length, -1 = null), value bytes (same)
/// ```
/// A compressed wrapper message carries, as its value, a whole inner message set compressed with
/// the codec of attributes bits 0-2. In magic 1 the inner offsets are relative (0, 1, ...) and the
/// wrapper's offset is that of the last inner message; in magic 0 inner offsets are absolute.
public struct LegacyMessage: Sendable, Equatable {
    public var offset: Int64
    public var magic: Int8
    public var attributes: Int8
    /// -1 (no timestamp) in magic 0. Under LogAppendTime, the wrapper's timestamp.
    public var timestamp: Int64
    public var key: ByteBuffer?
    public var value: ByteBuffer?

    public init(offset: Int64, magic: Int8, attributes: Int8 = 0, timestamp: Int64 = -1, key: ByteBuffer?, value: ByteBuffer?) {
        self.offset = offset
        self.magic = magic
        self.attributes = attributes
        self.timestamp = timestamp
        self.key = key
        self.value = value
    }

    public var compressionId: Int { Int(attributes & 0x07) }
    public var isLogAppendTime: Bool { magic >= 1 && attributes & 0x08 != 0 }

    /// Bytes before the key: crc, magic, attributes and (magic 1) timestamp.
    static func fixedSize(magic: Int8) -> Int { magic == 0 ? 6 : 14 }
    static let logOverhead = 12
}

/// Decoding and writing of legacy message sets, for Produce v0-v2 and Fetch v0-v3 clients.
///
/// Not supported: lz4 inside magic 0 wrappers, which Kafka 0.8-0.9 clients wrote with a wrong
/// frame header checksum (KAFKA-3160); such wrappers fail as CORRUPT_MESSAGE. zstd never existed
/// in legacy formats and is refused as UNSUPPORTED_COMPRESSION_TYPE.
public enum LegacyMessageSet {
    /// Decodes every message of `buffer`, opening compressed wrappers (one level: Kafka refuses
    /// nested compression). Each message's CRC32 is checked. A partial trailing message is an error
    /// unless `allowPartialTrailingMessage` (a fetch response may end with one).
    public static func decode(
        _ buffer: ByteBuffer, allowPartialTrailingMessage: Bool = false,
        maxDecompressedSize: Int = CompressionCodec.defaultMaxDecompressedSize
    ) throws(RecordValidationError) -> [LegacyMessage] {
        var messages: [LegacyMessage] = []
        var buffer = buffer
        var decompressedTotal = 0
        while buffer.readableBytes > 0 {
            if allowPartialTrailingMessage {
                guard let size = buffer.getInteger(at: buffer.readerIndex + 8, as: Int32.self),
                      Int(size) + LegacyMessage.logOverhead <= buffer.readableBytes
                else { break }
            }
            let message = try readMessage(from: &buffer)
            guard message.compressionId != 0 else {
                messages.append(message)
                continue
            }
            let inner = try openWrapper(message, budget: maxDecompressedSize - decompressedTotal)
            decompressedTotal += inner.bytes
            messages.append(contentsOf: inner.messages)
        }
        return messages
    }

    /// Reads one message (wrapper or plain) and checks its size and CRC.
    static func readMessage(from buffer: inout ByteBuffer) throws(RecordValidationError) -> LegacyMessage {
        guard let offset = buffer.readInteger(as: Int64.self), let size = buffer.readInteger(as: Int32.self) else {
            throw .corrupt("legacy message set truncated in the log overhead")
        }
        guard size >= 14 else { throw .corrupt("legacy messageSize \(size) below the v0 minimum") }
        guard var body = buffer.readSlice(length: Int(size)) else {
            throw .corrupt("legacy message of \(size) bytes truncated at \(buffer.readableBytes)")
        }
        let crc = body.readInteger(as: UInt32.self)!
        let computed = CRC32.checksum(body, at: body.readerIndex, length: body.readableBytes)
        let magic = body.readInteger(as: Int8.self)!
        let attributes = body.readInteger(as: Int8.self)!
        guard magic == 0 || magic == 1 else { throw .corrupt("legacy message magic \(magic)") }
        guard crc == computed else {
            throw .corrupt("legacy message CRC32 \(String(computed, radix: 16)) does not match \(String(crc, radix: 16))")
        }
        var timestamp: Int64 = -1
        if magic == 1 {
            guard let value = body.readInteger(as: Int64.self) else { throw .corrupt("legacy message timestamp") }
            timestamp = value
        }
        let key = try readBytes(&body, field: "key")
        let value = try readBytes(&body, field: "value")
        guard body.readableBytes == 0 else { throw .corrupt("legacy message has \(body.readableBytes) extra bytes") }
        return LegacyMessage(offset: offset, magic: magic, attributes: attributes, timestamp: timestamp, key: key, value: value)
    }

    /// Decompresses a wrapper's value and reads its inner messages, giving them absolute offsets
    /// and (under LogAppendTime) the wrapper's timestamp.
    static func openWrapper(_ wrapper: LegacyMessage, budget: Int) throws(RecordValidationError) -> (messages: [LegacyMessage], bytes: Int) {
        guard let codec = CompressionCodec(rawValue: wrapper.compressionId), codec != .zstd else {
            throw .unsupportedCompression("legacy compression id \(wrapper.compressionId)")
        }
        guard let value = wrapper.value else { throw .invalidRecord("compressed wrapper message with null value") }
        var inner: ByteBuffer
        do {
            inner = try codec.decompress(value, maxOutputSize: max(0, budget))
        } catch {
            throw .from(error)
        }
        let bytes = inner.readableBytes
        var messages: [LegacyMessage] = []
        while inner.readableBytes > 0 {
            var message = try readMessage(from: &inner)
            guard message.compressionId == 0 else { throw .invalidRecord("inner messages must not be compressed") }
            if wrapper.isLogAppendTime {
                message.timestamp = wrapper.timestamp
                message.attributes |= 0x08
            }
            messages.append(message)
        }
        if wrapper.magic >= 1, let last = messages.last {
            // Relative inner offsets: the wrapper holds the absolute offset of the last one.
            let base = wrapper.offset - last.offset
            for index in messages.indices { messages[index].offset += base }
        }
        return (messages, bytes)
    }

    static func readBytes(_ body: inout ByteBuffer, field: String) throws(RecordValidationError) -> ByteBuffer? {
        guard let length = body.readInteger(as: Int32.self) else { throw .corrupt("legacy message \(field) length") }
        if length == -1 { return nil }
        guard length >= 0, let slice = body.readSlice(length: Int(length)) else {
            throw .corrupt("legacy message \(field) length \(length)")
        }
        return slice
    }
}
