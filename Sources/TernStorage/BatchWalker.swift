import KafkaProtocol
import NIOCore

/// Walks the record batches of a segment file from a position, reading the file in chunks rather than one
/// system call per batch. Used by offset lookups (headers only) and by recovery and cleaning (whole batches,
/// optionally CRC-checked).
///
/// Allocation is bounded: a batch is only ever read whole when its declared size fits in the file, so a forged
/// length can make the walker allocate at most the file's remaining size.
struct BatchWalker {
    enum Step {
        /// A batch at `position`; in whole-batch mode `bytes` holds exactly its bytes.
        case batch(position: Int64, header: RecordBatchHeader, bytes: ByteBuffer?)
        /// Clean end of the data.
        case end
        /// Torn or corrupt data starts at `position`.
        case invalid(position: Int64, reason: String)
    }

    static let chunkSize = 64 * 1024
    /// A batch can never be smaller than its header, nor is `batchLength` allowed to describe one.
    static let minimumBatchLength = Int32(RecordBatchHeader.size - RecordBatchHeader.logOverhead)

    let file: SegmentFile
    let end: Int64
    let wholeBatches: Bool
    let verifyCRC: Bool
    private(set) var position: Int64
    private var buffer: ByteBuffer
    private var bufferStart: Int64
    /// The size of the batch just walked, to size the next read in headers-only mode.
    private var lastBatchSize = 0

    init(file: SegmentFile, from position: Int64, end: Int64, wholeBatches: Bool = false, verifyCRC: Bool = false) {
        self.file = file
        self.position = position
        self.end = end
        self.wholeBatches = wholeBatches
        self.verifyCRC = verifyCRC
        self.buffer = ByteBuffer()
        self.bufferStart = position
    }

    /// Makes [position, position + length) resident in `buffer`; false when the file has fewer bytes.
    private mutating func ensure(_ length: Int) throws -> Bool {
        let have = bufferStart + Int64(buffer.writerIndex)
        if position >= bufferStart && position + Int64(length) <= have { return true }
        let available = end - position
        guard Int64(length) <= available else { return false }
        // Headers only and large batches: a chunk would mostly hold the body of the batch, so read the header alone.
        let chunk = wholeBatches || lastBatchSize < Self.chunkSize / 4 ? Self.chunkSize : length
        let toRead = Int(min(available, Int64(max(length, chunk))))
        buffer = try file.read(at: position, length: toRead)
        bufferStart = position
        return buffer.writerIndex >= length
    }

    mutating func next() throws -> Step {
        if position >= end { return .end }
        guard try ensure(RecordBatchHeader.size) else {
            return .invalid(position: position, reason: "\(end - position) trailing bytes, shorter than a batch header")
        }
        let offsetInBuffer = Int(position - bufferStart)
        guard let header = RecordBatchHeader(peekingAt: offsetInBuffer, of: buffer) else {
            let magic = buffer.getInteger(at: offsetInBuffer + 16, as: Int8.self) ?? -1
            return .invalid(position: position, reason: "unsupported magic \(magic)")
        }
        guard header.batchLength >= Self.minimumBatchLength, header.lastOffsetDelta >= 0 else {
            return .invalid(position: position, reason: "batch length \(header.batchLength) is invalid")
        }
        let size = header.totalSize
        guard position + Int64(size) <= end else {
            return .invalid(position: position, reason: "batch of \(size) bytes, only \(end - position) left in file")
        }
        var bytes: ByteBuffer?
        if wholeBatches {
            guard try ensure(size) else {
                return .invalid(position: position, reason: "batch of \(size) bytes is cut short")
            }
            let at = Int(position - bufferStart)
            if verifyCRC {
                let crc = RecordBatchHeader.computeCRC(of: buffer, batchAt: at, totalSize: size)
                guard crc == header.crc else {
                    return .invalid(position: position, reason: "CRC mismatch (stored \(header.crc), computed \(crc))")
                }
            }
            bytes = buffer.getSlice(at: at, length: size)
        }
        let at = position
        position += Int64(size)
        lastBatchSize = size
        return .batch(position: at, header: header, bytes: bytes)
    }
}
