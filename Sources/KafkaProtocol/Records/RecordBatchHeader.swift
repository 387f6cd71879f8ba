import NIOCore

/// The fixed 61-byte header of a record batch, magic v2, read in place without touching the records.
///
/// Layout (big-endian), as Kafka defines it:
/// ```
///  0 baseOffset int64        8 batchLength int32     12 partitionLeaderEpoch int32
/// 16 magic int8             17 crc uint32            21 attributes int16
/// 23 lastOffsetDelta int32  27 baseTimestamp int64   35 maxTimestamp int64
/// 43 producerId int64       51 producerEpoch int16   53 baseSequence int32
/// 57 recordCount int32      61 records...
/// ```
/// `batchLength` counts the bytes after itself (total size = batchLength + 12). The CRC covers
/// `attributes` to the end of the batch, so the broker can rewrite baseOffset and leader epoch freely.
public struct RecordBatchHeader: Sendable, Equatable {
    public static let size = 61
    /// Bytes before `batchLength`'s payload starts: baseOffset + batchLength.
    public static let logOverhead = 12
    public static let crcOffset = 17
    public static let attributesOffset = 21

    public var baseOffset: Int64
    public var batchLength: Int32
    public var partitionLeaderEpoch: Int32
    public var magic: Int8
    public var crc: UInt32
    public var attributes: Attributes
    public var lastOffsetDelta: Int32
    public var baseTimestamp: Int64
    public var maxTimestamp: Int64
    public var producerId: Int64
    public var producerEpoch: Int16
    public var baseSequence: Int32
    public var recordCount: Int32

    public var totalSize: Int { Int(batchLength) + Self.logOverhead }
    public var lastOffset: Int64 { baseOffset + Int64(lastOffsetDelta) }
    public var nextOffset: Int64 { lastOffset + 1 }
    public var lastSequence: Int32 {
        baseSequence == -1 ? -1 : Int32(truncatingIfNeeded: (Int64(baseSequence) + Int64(lastOffsetDelta)) & 0x7fff_ffff)
    }

    public init(
        baseOffset: Int64 = 0, batchLength: Int32 = 0, partitionLeaderEpoch: Int32 = -1, magic: Int8 = 2,
        crc: UInt32 = 0, attributes: Attributes = Attributes(rawValue: 0), lastOffsetDelta: Int32 = 0,
        baseTimestamp: Int64 = 0, maxTimestamp: Int64 = 0, producerId: Int64 = -1, producerEpoch: Int16 = -1,
        baseSequence: Int32 = -1, recordCount: Int32 = 0
    ) {
        self.baseOffset = baseOffset
        self.batchLength = batchLength
        self.partitionLeaderEpoch = partitionLeaderEpoch
        self.magic = magic
        self.crc = crc
        self.attributes = attributes
        self.lastOffsetDelta = lastOffsetDelta
        self.baseTimestamp = baseTimestamp
        self.maxTimestamp = maxTimestamp
        self.producerId = producerId
        self.producerEpoch = producerEpoch
        self.baseSequence = baseSequence
        self.recordCount = recordCount
    }

    /// Reads the header at absolute `index` of `buffer` without moving its reader index.
    /// Returns nil when fewer than `size` bytes are there or the magic is not 2.
    public init?(peekingAt index: Int, of buffer: ByteBuffer) {
        guard index >= buffer.readerIndex, index + Self.size <= buffer.writerIndex,
              let magic = buffer.getInteger(at: index + 16, as: Int8.self), magic == 2
        else { return nil }
        self.baseOffset = buffer.getInteger(at: index, as: Int64.self)!
        self.batchLength = buffer.getInteger(at: index + 8, as: Int32.self)!
        self.partitionLeaderEpoch = buffer.getInteger(at: index + 12, as: Int32.self)!
        self.magic = magic
        self.crc = buffer.getInteger(at: index + 17, as: UInt32.self)!
        self.attributes = Attributes(rawValue: buffer.getInteger(at: index + 21, as: Int16.self)!)
        self.lastOffsetDelta = buffer.getInteger(at: index + 23, as: Int32.self)!
        self.baseTimestamp = buffer.getInteger(at: index + 27, as: Int64.self)!
        self.maxTimestamp = buffer.getInteger(at: index + 35, as: Int64.self)!
        self.producerId = buffer.getInteger(at: index + 43, as: Int64.self)!
        self.producerEpoch = buffer.getInteger(at: index + 51, as: Int16.self)!
        self.baseSequence = buffer.getInteger(at: index + 53, as: Int32.self)!
        self.recordCount = buffer.getInteger(at: index + 57, as: Int32.self)!
    }

    /// Writes the 61 header bytes at the buffer's writer index (the CRC as stored in `crc`).
    public func write(to buffer: inout ByteBuffer) {
        buffer.writeInteger(baseOffset)
        buffer.writeInteger(batchLength)
        buffer.writeInteger(partitionLeaderEpoch)
        buffer.writeInteger(magic)
        buffer.writeInteger(crc)
        buffer.writeInteger(attributes.rawValue)
        buffer.writeInteger(lastOffsetDelta)
        buffer.writeInteger(baseTimestamp)
        buffer.writeInteger(maxTimestamp)
        buffer.writeInteger(producerId)
        buffer.writeInteger(producerEpoch)
        buffer.writeInteger(baseSequence)
        buffer.writeInteger(recordCount)
    }

    /// CRC32C of the batch at `index` (attributes to end), for comparison with the stored `crc`.
    public static func computeCRC(of buffer: ByteBuffer, batchAt index: Int, totalSize: Int) -> UInt32 {
        CRC32C.checksum(buffer, at: index + attributesOffset, length: totalSize - attributesOffset)
    }

    /// Batch attributes: bits 0-2 compression, 3 timestamp type, 4 transactional, 5 control,
    /// 6 delete horizon set (compaction).
    public struct Attributes: Sendable, Equatable, Hashable {
        public var rawValue: Int16
        public init(rawValue: Int16) { self.rawValue = rawValue }

        public var compressionCodec: Int { Int(rawValue & 0x07) }
        public var isLogAppendTime: Bool {
            get { rawValue & 0x08 != 0 }
            set { if newValue { rawValue |= 0x08 } else { rawValue &= ~0x08 } }
        }
        public var isTransactional: Bool {
            get { rawValue & 0x10 != 0 }
            set { if newValue { rawValue |= 0x10 } else { rawValue &= ~0x10 } }
        }
        public var isControl: Bool {
            get { rawValue & 0x20 != 0 }
            set { if newValue { rawValue |= 0x20 } else { rawValue &= ~0x20 } }
        }
        public var hasDeleteHorizon: Bool { rawValue & 0x40 != 0 }

        public func withCompression(_ codec: Int) -> Attributes {
            Attributes(rawValue: (rawValue & ~0x07) | Int16(codec & 0x07))
        }
    }
}
