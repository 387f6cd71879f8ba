import NIOCore

// Kafka's unsigned varint (protobuf base-128, little-endian groups of 7 bits), used by flexible versions
// for compact lengths, array counts and tagged fields. At most 5 bytes for a 32-bit value.
// The signed zigzag varint used inside records lives in Records/.
extension ByteBuffer {
    /// Reads an unsigned varint. Throws on truncated input or on more than 5 bytes, leaving the
    /// reader index where it was.
    @inlinable
    public mutating func readUnsignedVarint() throws -> UInt32 {
        guard let value = self._readUnsignedVarint() else {
            throw KafkaProtocolError("truncated or malformed unsigned varint")
        }
        return value
    }

    /// nil when the input is truncated or the varint is longer than 5 bytes; the reader index only moves
    /// on success.
    @inlinable
    mutating func _readUnsignedVarint() -> UInt32? {
        var value: UInt32 = 0
        var shift: UInt32 = 0
        var index = self.readerIndex
        let end = self.writerIndex
        while index < end {
            guard let byte = self.getInteger(at: index, as: UInt8.self) else { return nil }
            index += 1
            if shift == 28 && byte > 0x0F { return nil }  // beyond 32 bits
            value |= UInt32(byte & 0x7F) << shift
            if byte & 0x80 == 0 {
                self.moveReaderIndex(to: index)
                return value
            }
            shift += 7
            if shift > 28 { return nil }
        }
        return nil
    }

    @inlinable
    public mutating func writeUnsignedVarint(_ value: UInt32) {
        var v = value
        while v >= 0x80 {
            self.writeInteger(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        self.writeInteger(UInt8(truncatingIfNeeded: v))
    }

    /// Bytes `writeUnsignedVarint(value)` writes.
    @inlinable
    public static func unsignedVarintSize(_ value: UInt32) -> Int {
        var size = 1
        var v = value
        while v >= 0x80 {
            v >>= 7
            size += 1
        }
        return size
    }
}
