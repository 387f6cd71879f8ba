import NIOCore

/// A decoded record batch (magic v2): its header and records, decompressed if needed.
///
/// This is the consumer-side and tooling view; the broker's produce path uses
/// `RecordBatchValidator`, which checks batches without decoding their records.
public struct RecordBatch: Sendable, Equatable {
    public var header: RecordBatchHeader
    public var records: [Record]

    public init(header: RecordBatchHeader, records: [Record]) {
        self.header = header
        self.records = records
    }

    public var compression: CompressionCodec? { CompressionCodec(rawValue: header.attributes.compressionCodec) }

    /// Absolute offset of `record` in this batch.
    public func offset(of record: Record) -> Int64 { header.baseOffset + Int64(record.offsetDelta) }

    /// The record's timestamp as a consumer sees it: the batch's maxTimestamp under LogAppendTime.
    public func timestamp(of record: Record) -> Int64 {
        header.attributes.isLogAppendTime ? header.maxTimestamp : header.baseTimestamp + record.timestampDelta
    }

    /// Reads one batch at the reader index and moves past it. The reader index stays put when it throws.
    public static func read(
        from buffer: inout ByteBuffer, verifyCRC: Bool = true,
        maxDecompressedSize: Int = CompressionCodec.defaultMaxDecompressedSize
    ) throws(RecordValidationError) -> RecordBatch {
        let start = buffer.readerIndex
        guard let batchLength = buffer.getInteger(at: start + 8, as: Int32.self) else {
            throw .corrupt("batch shorter than its log overhead")
        }
        guard batchLength >= RecordBatchHeader.size - RecordBatchHeader.logOverhead else {
            throw .corrupt("batchLength \(batchLength) below the v2 header size")
        }
        let totalSize = Int(batchLength) + RecordBatchHeader.logOverhead
        guard totalSize <= buffer.readableBytes else {
            throw .corrupt("batch of \(totalSize) bytes truncated at \(buffer.readableBytes)")
        }
        guard let header = RecordBatchHeader(peekingAt: start, of: buffer) else {
            throw .corrupt("magic \(buffer.getInteger(at: start + 16, as: Int8.self) ?? -1) is not 2")
        }
        if verifyCRC {
            let crc = RecordBatchHeader.computeCRC(of: buffer, batchAt: start, totalSize: totalSize)
            guard crc == header.crc else {
                throw .corrupt("CRC \(String(crc, radix: 16)) does not match stored \(String(header.crc, radix: 16))")
            }
        }
        let records = try decodeRecords(
            header: header, body: buffer.getSlice(at: start + RecordBatchHeader.size, length: totalSize - RecordBatchHeader.size)!,
            maxDecompressedSize: maxDecompressedSize)
        buffer.moveReaderIndex(forwardBy: totalSize)
        return RecordBatch(header: header, records: records)
    }

    /// Reads every batch of `buffer`. A trailing partial batch, which a fetch response may end
    /// with, is ignored when `allowPartialTrailingBatch` (the consumer's view), an error otherwise.
    public static func readAll(
        _ buffer: ByteBuffer, verifyCRC: Bool = true, allowPartialTrailingBatch: Bool = false,
        maxDecompressedSize: Int = CompressionCodec.defaultMaxDecompressedSize
    ) throws(RecordValidationError) -> [RecordBatch] {
        var buffer = buffer
        var batches: [RecordBatch] = []
        while buffer.readableBytes > 0 {
            if allowPartialTrailingBatch {
                guard let length = buffer.getInteger(at: buffer.readerIndex + 8, as: Int32.self),
                      Int(length) + RecordBatchHeader.logOverhead <= buffer.readableBytes
                else { break }
            }
            do {
                batches.append(try read(from: &buffer, verifyCRC: verifyCRC, maxDecompressedSize: maxDecompressedSize))
            } catch {
                var error = error
                error.batchIndex = batches.count
                throw error
            }
        }
        return batches
    }

    /// Decompresses if needed and decodes `recordCount` records, which must fill the body exactly.
    static func decodeRecords(
        header: RecordBatchHeader, body: ByteBuffer, maxDecompressedSize: Int
    ) throws(RecordValidationError) -> [Record] {
        guard let codec = CompressionCodec(rawValue: header.attributes.compressionCodec) else {
            throw .unsupportedCompression("compression id \(header.attributes.compressionCodec)")
        }
        var records = body
        if codec != .none {
            do {
                records = try codec.decompress(body, maxOutputSize: maxDecompressedSize)
            } catch {
                throw .from(error)
            }
        }
        guard header.recordCount >= 0 else { throw .corrupt("recordCount \(header.recordCount)") }
        // The smallest record takes 7 bytes, which bounds the count a forged header can make us reserve.
        guard Int(header.recordCount) <= records.readableBytes / 7 + 1 else {
            throw .corrupt("recordCount \(header.recordCount) exceeds what \(records.readableBytes) bytes can hold")
        }
        var decoded: [Record] = []
        decoded.reserveCapacity(Int(header.recordCount))
        for _ in 0..<header.recordCount {
            decoded.append(try Record.read(from: &records))
        }
        guard records.readableBytes == 0 else {
            throw .corrupt("\(records.readableBytes) bytes after record \(header.recordCount)")
        }
        return decoded
    }
}
