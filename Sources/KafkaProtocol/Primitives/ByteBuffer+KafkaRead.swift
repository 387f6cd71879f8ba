import NIOCore

// Readers for the field types of Kafka's message schemas, as the generated codecs call them.
// `compact` selects the flexible-version encoding (unsigned varint of length + 1, 0 meaning null)
// over the classic one (int16 for strings, int32 for bytes and arrays, -1 meaning null).
// Every length is checked against the bytes that remain before anything is read or allocated.
extension ByteBuffer {
    @inlinable
    public mutating func readKafkaInteger<T: FixedWidthInteger>(
        _: T.Type, field: StaticString, version: Int16
    ) throws -> T {
        guard let value = self.readInteger(as: T.self) else {
            throw KafkaProtocolError.truncated(field, version: version, needed: T.bitWidth / 8, remaining: self.readableBytes)
        }
        return value
    }

    @inlinable
    public mutating func readKafkaBool(field: StaticString, version: Int16) throws -> Bool {
        try self.readKafkaInteger(UInt8.self, field: field, version: version) != 0
    }

    @inlinable
    public mutating func readKafkaFloat64(field: StaticString, version: Int16) throws -> Double {
        Double(bitPattern: try self.readKafkaInteger(UInt64.self, field: field, version: version))
    }

    @inlinable
    public mutating func readKafkaUUID(field: StaticString, version: Int16) throws -> KafkaUUID {
        guard self.readableBytes >= 16 else {
            throw KafkaProtocolError.truncated(field, version: version, needed: 16, remaining: self.readableBytes)
        }
        let high = self.readInteger(as: UInt64.self)!
        let low = self.readInteger(as: UInt64.self)!
        return KafkaUUID(mostSignificantBits: high, leastSignificantBits: low)
    }

    /// A string, bytes or array length: -1 for null. Not yet checked against the remaining bytes.
    @inlinable
    mutating func _readKafkaLength(compact: Bool, classicWidth: Int, field: StaticString, version: Int16) throws -> Int {
        if compact {
            guard let raw = self._readUnsignedVarint() else {
                throw KafkaProtocolError.field(field, version: version, "truncated or malformed length varint")
            }
            return Int(raw) - 1
        }
        if classicWidth == 2 {
            return Int(try self.readKafkaInteger(Int16.self, field: field, version: version))
        }
        return Int(try self.readKafkaInteger(Int32.self, field: field, version: version))
    }

    /// Checks a decoded length: null only where the version allows it, never more than what remains.
    @inlinable
    func _checkKafkaLength(_ length: Int, nullable: Bool, field: StaticString, version: Int16) throws {
        if length < 0 {
            if length == -1 && nullable { return }
            throw KafkaProtocolError.field(field, version: version, "invalid length \(length) for a non-nullable field")
        }
        if length > self.readableBytes {
            throw KafkaProtocolError.truncated(field, version: version, needed: length, remaining: self.readableBytes)
        }
    }

    @inlinable
    public mutating func readKafkaString(compact: Bool, field: StaticString, version: Int16) throws -> String {
        let length = try self._readKafkaLength(compact: compact, classicWidth: 2, field: field, version: version)
        try self._checkKafkaLength(length, nullable: false, field: field, version: version)
        return self.readString(length: length)!
    }

    @inlinable
    public mutating func readKafkaNullableString(
        compact: Bool, nullable: Bool, field: StaticString, version: Int16
    ) throws -> String? {
        let length = try self._readKafkaLength(compact: compact, classicWidth: 2, field: field, version: version)
        try self._checkKafkaLength(length, nullable: nullable, field: field, version: version)
        if length < 0 { return nil }
        return self.readString(length: length)!
    }

    /// Bytes (and records) are returned as a slice sharing this buffer's storage: never copied.
    @inlinable
    public mutating func readKafkaBytes(compact: Bool, field: StaticString, version: Int16) throws -> ByteBuffer {
        let length = try self._readKafkaLength(compact: compact, classicWidth: 4, field: field, version: version)
        try self._checkKafkaLength(length, nullable: false, field: field, version: version)
        return self.readSlice(length: length)!
    }

    @inlinable
    public mutating func readKafkaNullableBytes(
        compact: Bool, nullable: Bool, field: StaticString, version: Int16
    ) throws -> ByteBuffer? {
        let length = try self._readKafkaLength(compact: compact, classicWidth: 4, field: field, version: version)
        try self._checkKafkaLength(length, nullable: nullable, field: field, version: version)
        if length < 0 { return nil }
        return self.readSlice(length: length)!
    }

    /// An array's element count, -1 for a null array. A count larger than the remaining bytes throws,
    /// so a forged count cannot make the decoder reserve memory the frame does not back.
    @inlinable
    public mutating func readKafkaArrayCount(
        compact: Bool, nullable: Bool, field: StaticString, version: Int16
    ) throws -> Int {
        let count = try self._readKafkaLength(compact: compact, classicWidth: 4, field: field, version: version)
        try self._checkKafkaLength(count, nullable: nullable, field: field, version: version)
        return count
    }

    /// The marker byte of a nullable struct field: false when the struct is null.
    @inlinable
    public mutating func readKafkaStructPresence(field: StaticString, version: Int16) throws -> Bool {
        try self.readKafkaInteger(Int8.self, field: field, version: version) >= 0
    }
}
