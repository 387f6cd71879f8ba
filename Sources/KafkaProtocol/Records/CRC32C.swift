import CTernSupport
import NIOCore

/// CRC32C (Castagnoli), the checksum of record batch v2. Hardware-accelerated where the CPU allows.
public enum CRC32C {
    /// Checksum of `bytes`, continuing from `crc` (0 to start).
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        tern_crc32c(crc, bytes.baseAddress, bytes.count)
    }

    /// Checksum of the readable bytes of `buffer` in `range` (indices relative to the buffer's storage).
    public static func checksum(_ buffer: ByteBuffer, at index: Int, length: Int) -> UInt32 {
        buffer.withVeryUnsafeBytes { raw in
            tern_crc32c(0, raw.baseAddress! + index, length)
        }
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { tern_crc32c(0, $0.baseAddress, $0.count) }
    }

    /// Portable slicing-by-8 path, for tests and benchmarks.
    public static func softwareChecksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        tern_crc32c_sw(0, bytes.baseAddress, bytes.count)
    }

    public static var isHardwareAccelerated: Bool { tern_crc32c_is_hardware() != 0 }
}

/// CRC32 (IEEE) of legacy message sets, magic 0 and 1.
public enum CRC32 {
    public static func checksum(_ buffer: ByteBuffer, at index: Int, length: Int) -> UInt32 {
        buffer.withVeryUnsafeBytes { raw in
            tern_crc32(0, raw.baseAddress! + index, length)
        }
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { tern_crc32(0, $0.baseAddress, $0.count) }
    }
}
