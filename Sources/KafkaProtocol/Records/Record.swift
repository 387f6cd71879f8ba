import NIOCore

/// One record inside a v2 batch. Key and value are slices of the batch's (decompressed) bytes,
/// so decoding copies nothing.
///
/// Wire layout (varints are signed zigzag):
/// ```
/// length varint, attributes int8, timestampDelta varlong, offsetDelta varint,
/// keyLength varint (-1 = null), key, valueLength varint (-1 = null), value,
/// headerCount varint, then per header: keyLength varint, key (UTF-8), valueLength varint, value
/// ```
public struct Record: Sendable {
    /// Unused by Kafka today; kept as read.
    public var attributes: Int8
    public var timestampDelta: Int64
    public var offsetDelta: Int32
    public var key: ByteBuffer?
    public var value: ByteBuffer?
    public var headers: [(key: String, value: ByteBuffer?)]

    public init(
        attributes: Int8 = 0, timestampDelta: Int64 = 0, offsetDelta: Int32 = 0, key: ByteBuffer?,
        value: ByteBuffer?, headers: [(key: String, value: ByteBuffer?)] = []
    ) {
        self.attributes = attributes
        self.timestampDelta = timestampDelta
        self.offsetDelta = offsetDelta
        self.key = key
        self.value = value
        self.headers = headers
    }

    /// Bytes of the record body (everything after the length varint).
    public var bodySize: Int {
        var size = 1 + ByteBuffer.varlongSize(timestampDelta) + ByteBuffer.varintSize(offsetDelta)
        size += Self.bytesSize(key) + Self.bytesSize(value)
        size += ByteBuffer.varintSize(Int32(headers.count))
        for header in headers {
            let keyLength = header.key.utf8.count
            size += ByteBuffer.varintSize(Int32(keyLength)) + keyLength + Self.bytesSize(header.value)
        }
        return size
    }

    /// Appends the record, length prefix included.
    public func write(to buffer: inout ByteBuffer) {
        buffer.writeVarint(Int32(bodySize))
        buffer.writeInteger(attributes)
        buffer.writeVarlong(timestampDelta)
        buffer.writeVarint(offsetDelta)
        Self.writeBytes(key, to: &buffer)
        Self.writeBytes(value, to: &buffer)
        buffer.writeVarint(Int32(headers.count))
        for header in headers {
            buffer.writeVarint(Int32(header.key.utf8.count))
            buffer.writeString(header.key)
            Self.writeBytes(header.value, to: &buffer)
        }
    }

    /// Reads one record at the reader index. Every length is checked against the record's own
    /// length before anything is sliced or allocated.
    public static func read(from buffer: inout ByteBuffer) throws(RecordValidationError) -> Record {
        guard let length = buffer.readVarint() else { throw .corrupt("record length varint") }
        guard length >= 0, var body = buffer.readSlice(length: Int(length)) else {
            throw .corrupt("record length \(length) past the batch end")
        }
        guard let attributes = body.readInteger(as: Int8.self),
              let timestampDelta = body.readVarlong(),
              let offsetDelta = body.readVarint()
        else { throw .corrupt("record attributes, timestampDelta or offsetDelta") }
        let key = try readBytes(&body, field: "record key")
        let value = try readBytes(&body, field: "record value")
        guard let headerCount = body.readVarint(), headerCount >= 0 else { throw .corrupt("record header count") }
        // Each header takes at least two bytes, which bounds the array before it is reserved.
        guard Int(headerCount) <= body.readableBytes / 2 else {
            throw .corrupt("record header count \(headerCount) exceeds record size")
        }
        var headers: [(key: String, value: ByteBuffer?)] = []
        headers.reserveCapacity(Int(headerCount))
        for _ in 0..<headerCount {
            guard let keyLength = body.readVarint(), keyLength >= 0,
                  let headerKey = body.readString(length: Int(keyLength))
            else { throw .corrupt("record header key") }
            headers.append((headerKey, try readBytes(&body, field: "record header value")))
        }
        guard body.readableBytes == 0 else {
            throw .corrupt("record has \(body.readableBytes) bytes after its last header")
        }
        return Record(attributes: attributes, timestampDelta: timestampDelta, offsetDelta: offsetDelta,
                      key: key, value: value, headers: headers)
    }

    /// Skips one record, returning its offsetDelta and whether it has a key, without slicing its
    /// key, value or headers (the validator's walk).
    static func skim(from buffer: inout ByteBuffer) throws(RecordValidationError) -> (offsetDelta: Int32, timestampDelta: Int64, hasKey: Bool) {
        guard let length = buffer.readVarint() else { throw .corrupt("record length varint") }
        guard length >= 0, var body = buffer.readSlice(length: Int(length)) else {
            throw .corrupt("record length \(length) past the batch end")
        }
        guard body.readInteger(as: Int8.self) != nil, let timestampDelta = body.readVarlong(),
              let offsetDelta = body.readVarint(), let keyLength = body.readVarint()
        else { throw .corrupt("record attributes, timestampDelta, offsetDelta or key length") }
        guard keyLength >= -1, Int(keyLength) <= body.readableBytes else { throw .corrupt("record key length \(keyLength)") }
        return (offsetDelta, timestampDelta, keyLength >= 0)
    }

    static func bytesSize(_ bytes: ByteBuffer?) -> Int {
        guard let bytes else { return 1 }
        return ByteBuffer.varintSize(Int32(bytes.readableBytes)) + bytes.readableBytes
    }

    static func writeBytes(_ bytes: ByteBuffer?, to buffer: inout ByteBuffer) {
        guard let bytes else {
            buffer.writeVarint(-1)
            return
        }
        buffer.writeVarint(Int32(bytes.readableBytes))
        buffer.writeImmutableBuffer(bytes)
    }

    static func readBytes(_ body: inout ByteBuffer, field: String) throws(RecordValidationError) -> ByteBuffer? {
        guard let length = body.readVarint() else { throw .corrupt("\(field) length") }
        if length == -1 { return nil }
        guard length >= 0, let slice = body.readSlice(length: Int(length)) else {
            throw .corrupt("\(field) length \(length)")
        }
        return slice
    }
}

extension Record: Equatable {
    public static func == (lhs: Record, rhs: Record) -> Bool {
        lhs.attributes == rhs.attributes && lhs.timestampDelta == rhs.timestampDelta
            && lhs.offsetDelta == rhs.offsetDelta && lhs.key == rhs.key && lhs.value == rhs.value
            && lhs.headers.count == rhs.headers.count
            && zip(lhs.headers, rhs.headers).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}
