import NIOCore

// Writers matching ByteBuffer+KafkaRead.swift. Writes throw only when the value cannot be carried
// by the version: a null in a non-nullable field, a string longer than its int16 length prefix.
extension ByteBuffer {
    @inlinable
    public mutating func writeKafkaBool(_ value: Bool) {
        self.writeInteger(value ? UInt8(1) : UInt8(0))
    }

    @inlinable
    public mutating func writeKafkaFloat64(_ value: Double) {
        self.writeInteger(value.bitPattern)
    }

    @inlinable
    public mutating func writeKafkaUUID(_ value: KafkaUUID) {
        self.writeInteger(value.mostSignificantBits)
        self.writeInteger(value.leastSignificantBits)
    }

    /// Writes the length prefix of a string, bytes or array of `length` elements.
    @inlinable
    public mutating func writeKafkaLength(_ length: Int, compact: Bool, classicWidth: Int) {
        if compact {
            self.writeUnsignedVarint(UInt32(truncatingIfNeeded: length + 1))
        } else if classicWidth == 2 {
            self.writeInteger(Int16(truncatingIfNeeded: length))
        } else {
            self.writeInteger(Int32(truncatingIfNeeded: length))
        }
    }

    /// Writes the null marker of a string (classicWidth 2), bytes or array (4), if the version allows it.
    @inlinable
    public mutating func writeKafkaNull(
        compact: Bool, classicWidth: Int, nullable: Bool, field: StaticString, version: Int16
    ) throws {
        guard nullable else {
            throw KafkaProtocolError.field(field, version: version, "null is not allowed in this version")
        }
        self.writeKafkaLength(-1, compact: compact, classicWidth: classicWidth)
    }

    @inlinable
    public mutating func writeKafkaString(_ value: String, compact: Bool, field: StaticString, version: Int16) throws {
        let length = value.utf8.count
        if !compact && length > Int(Int16.max) {
            throw KafkaProtocolError.field(field, version: version, "string of \(length) bytes exceeds 32767")
        }
        self.writeKafkaLength(length, compact: compact, classicWidth: 2)
        self.writeString(value)
    }

    @inlinable
    public mutating func writeKafkaNullableString(
        _ value: String?, compact: Bool, nullable: Bool, field: StaticString, version: Int16
    ) throws {
        if let value {
            try self.writeKafkaString(value, compact: compact, field: field, version: version)
        } else {
            try self.writeKafkaNull(compact: compact, classicWidth: 2, nullable: nullable, field: field, version: version)
        }
    }

    @inlinable
    public mutating func writeKafkaBytes(_ value: ByteBuffer, compact: Bool) {
        self.writeKafkaLength(value.readableBytes, compact: compact, classicWidth: 4)
        self.writeImmutableBuffer(value)
    }

    @inlinable
    public mutating func writeKafkaNullableBytes(
        _ value: ByteBuffer?, compact: Bool, nullable: Bool, field: StaticString, version: Int16
    ) throws {
        if let value {
            self.writeKafkaBytes(value, compact: compact)
        } else {
            try self.writeKafkaNull(compact: compact, classicWidth: 4, nullable: nullable, field: field, version: version)
        }
    }

    @inlinable
    public mutating func writeKafkaArrayCount(_ count: Int, compact: Bool) {
        self.writeKafkaLength(count, compact: compact, classicWidth: 4)
    }

    /// The marker byte of a nullable struct field: -1 for null, 1 when a struct follows.
    @inlinable
    public mutating func writeKafkaStructPresence(_ present: Bool) {
        self.writeInteger(present ? Int8(1) : Int8(-1))
    }
}
