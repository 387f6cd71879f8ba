import NIOCore

// The tagged-field section that ends every struct in a flexible version:
//   count: uvarint, then count x (tag: uvarint, size: uvarint, size bytes)
// Tags are written in ascending order. Unknown tags are skipped on read (Kafka keeps them as raw
// fields; a broker has no use for them).
extension ByteBuffer {
    /// Number of tagged fields that follow, bounded by the remaining bytes (each takes at least 2).
    @inlinable
    public mutating func readKafkaTaggedFieldCount(field: StaticString, version: Int16) throws -> Int {
        guard let raw = self._readUnsignedVarint() else {
            throw KafkaProtocolError.field(field, version: version, "truncated or malformed tagged field count")
        }
        let count = Int(raw)
        if count > self.readableBytes {
            throw KafkaProtocolError.truncated(field, version: version, needed: count, remaining: self.readableBytes)
        }
        return count
    }

    /// One tagged field: its tag and its bytes as a slice of this buffer.
    @inlinable
    public mutating func readKafkaTaggedField(field: StaticString, version: Int16) throws -> (tag: UInt32, data: ByteBuffer) {
        guard let tag = self._readUnsignedVarint(), let rawSize = self._readUnsignedVarint() else {
            throw KafkaProtocolError.field(field, version: version, "truncated or malformed tagged field header")
        }
        let size = Int(rawSize)
        guard let data = self.readSlice(length: size) else {
            throw KafkaProtocolError.truncated(field, version: version, needed: size, remaining: self.readableBytes)
        }
        return (tag, data)
    }

    /// Skips a whole tagged-field section of a struct that declares no tagged fields in this version.
    @inlinable
    public mutating func skipKafkaTaggedFields(field: StaticString, version: Int16) throws {
        let count = try self.readKafkaTaggedFieldCount(field: field, version: version)
        for _ in 0..<count {
            _ = try self.readKafkaTaggedField(field: field, version: version)
        }
    }

    @inlinable
    public mutating func writeKafkaTaggedField(tag: UInt32, data: ByteBuffer) {
        self.writeUnsignedVarint(tag)
        self.writeUnsignedVarint(UInt32(truncatingIfNeeded: data.readableBytes))
        self.writeImmutableBuffer(data)
    }
}
