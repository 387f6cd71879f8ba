import KafkaProtocol
import NIOCore

/// A minimal reader of the records inside an uncompressed magic v2 batch, for the log cleaner only (the produce
/// and fetch paths never look inside batches).
///
/// Record layout (Kafka's DefaultRecord): length varint, attributes int8, timestampDelta varlong, offsetDelta
/// varint, keyLength varint (-1 = null), key, valueLength varint (-1 = null, a tombstone), value,
/// headerCount varint, headers. Varints are zigzag-encoded. Every length is checked against the batch end, so a
/// corrupt record makes `next()` return nil instead of reading out of bounds.
struct RecordReader {
    struct Record {
        /// Byte range of the whole record (length prefix included) within the batch buffer.
        var start: Int
        var end: Int
        var offsetDelta: Int32
        var timestampDelta: Int64
        /// nil for a null key.
        var key: [UInt8]?
        var isTombstone: Bool
    }

    private let buffer: ByteBuffer
    private var index: Int
    private let end: Int
    private var remaining: Int
    private(set) var failed = false

    /// `batch` holds exactly one uncompressed batch starting at its reader index.
    init?(batch: ByteBuffer) {
        guard let header = RecordBatchHeader(peekingAt: batch.readerIndex, of: batch),
              header.attributes.compressionCodec == 0,
              batch.readerIndex + header.totalSize <= batch.writerIndex
        else { return nil }
        self.buffer = batch
        self.index = batch.readerIndex + RecordBatchHeader.size
        self.end = batch.readerIndex + header.totalSize
        self.remaining = Int(max(header.recordCount, 0))
    }

    mutating func next() -> Record? {
        guard remaining > 0, !failed else { return nil }
        remaining -= 1
        let start = index
        guard let length = readVarint(), length >= 0, index + Int(length) <= end else { return fail() }
        let recordEnd = index + Int(length)
        guard index < recordEnd else { return fail() }
        index += 1  // attributes
        guard let timestampDelta = readVarint(limit: recordEnd), let offsetDelta = readVarint(limit: recordEnd),
              let keyLength = readVarint(limit: recordEnd), keyLength >= -1, index + Int(max(keyLength, 0)) <= recordEnd
        else { return fail() }
        var key: [UInt8]?
        if keyLength >= 0 {
            key = buffer.getBytes(at: index, length: Int(keyLength))
            index += Int(keyLength)
        }
        guard let valueLength = readVarint(limit: recordEnd), valueLength >= -1 else { return fail() }
        index = recordEnd  // headers are not needed
        return Record(
            start: start, end: recordEnd, offsetDelta: Int32(truncatingIfNeeded: offsetDelta),
            timestampDelta: timestampDelta, key: key, isTombstone: valueLength == -1)
    }

    private mutating func fail() -> Record? {
        failed = true
        return nil
    }

    /// A zigzag varint of at most 10 bytes, not reading past `limit`.
    private mutating func readVarint(limit: Int? = nil) -> Int64? {
        let limit = limit ?? end
        var raw: UInt64 = 0
        var shift: UInt64 = 0
        while index < limit, shift < 70 {
            let byte = buffer.getInteger(at: index, as: UInt8.self)!
            index += 1
            raw |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 {
                return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
            }
            shift += 7
        }
        return nil
    }
}
