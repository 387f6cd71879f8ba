import NIOCore

/// Signed zigzag varints as record batch v2 uses them inside records (Protocol Buffers' encoding:
/// 7 bits a byte, low group first, high bit set on every byte but the last).
///
/// The readers return nil and leave the reader index alone when the bytes run out or the encoding
/// is longer than the type allows (5 bytes for a varint, 10 for a varlong), since both mean the
/// record is corrupt. Unsigned varints of flexible message versions live elsewhere under other names.
extension ByteBuffer {
    /// Reads a zigzag-encoded Int32.
    public mutating func readVarint() -> Int32? {
        guard let (raw, length) = getUnsignedVarint(at: readerIndex, maxBytes: 5), raw <= UInt64(UInt32.max)
        else { return nil }
        moveReaderIndex(forwardBy: length)
        let value = UInt32(truncatingIfNeeded: raw)
        return Int32(bitPattern: (value >> 1) ^ (0 &- (value & 1)))
    }

    /// Reads a zigzag-encoded Int64.
    public mutating func readVarlong() -> Int64? {
        guard let (raw, length) = getUnsignedVarint(at: readerIndex, maxBytes: 10) else { return nil }
        moveReaderIndex(forwardBy: length)
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// Writes `value` zigzag-encoded; returns the number of bytes written (1-5).
    @discardableResult
    public mutating func writeVarint(_ value: Int32) -> Int {
        let zigzag = UInt32(bitPattern: (value << 1) ^ (value >> 31))
        return writeUnsignedVarint64(UInt64(zigzag))
    }

    /// Writes `value` zigzag-encoded; returns the number of bytes written (1-10).
    @discardableResult
    public mutating func writeVarlong(_ value: Int64) -> Int {
        let zigzag = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        return writeUnsignedVarint64(zigzag)
    }

    /// Size in bytes of `value` as a zigzag varint, for computing record lengths before writing.
    public static func varintSize(_ value: Int32) -> Int {
        unsignedSize(UInt64(UInt32(bitPattern: (value << 1) ^ (value >> 31))))
    }

    /// Size in bytes of `value` as a zigzag varlong.
    public static func varlongSize(_ value: Int64) -> Int {
        unsignedSize(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    private static func unsignedSize(_ value: UInt64) -> Int {
        // One byte per started group of 7 bits; zero still takes a byte.
        max(1, (64 - value.leadingZeroBitCount + 6) / 7)
    }

    private mutating func writeUnsignedVarint64(_ value: UInt64) -> Int {
        var value = value
        var count = 0
        while value >= 0x80 {
            writeInteger(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
            count += 1
        }
        writeInteger(UInt8(value))
        return count + 1
    }

    private func getUnsignedVarint(at index: Int, maxBytes: Int) -> (UInt64, Int)? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var position = index
        while position - index < maxBytes {
            guard let byte = getInteger(at: position, as: UInt8.self) else { return nil }
            position += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return (result, position - index) }
            shift += 7
        }
        return nil
    }
}
