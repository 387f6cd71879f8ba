import NIOCore

/// Checks the records of one partition in a Produce request (v3+, magic 2), the way Kafka's
/// `ProduceRequest.validateRecords` and `LogValidator` do for a client's append, but per batch:
/// the header, the sizes and the CRC32C. Records are walked only when a rule needs them
/// (compacted topics need keys; `walkRecords` asks for the full structural check), and compressed
/// batches are decompressed only then. The broker then assigns offsets in place with
/// `assignOffsets`, keeping the client's bytes otherwise.
///
/// Error codes, as Kafka answers:
/// - CORRUPT_MESSAGE (2): truncated batch, batchLength below the header, magic above 2, CRC mismatch,
///   records that do not parse.
/// - MESSAGE_TOO_LARGE (10): a batch larger than `max.message.bytes`.
/// - INVALID_RECORD (87): magic 0/1 in a v2 produce request, more than one batch where one is
///   required, recordCount < 1 or not lastOffsetDelta + 1, control batches from clients, a producer
///   id without a sequence, a missing key on a compacted topic, offset deltas not 0, 1, 2...
/// - UNSUPPORTED_COMPRESSION_TYPE (76): compression id 5-7, or zstd before Produce v7.
///
/// Differs from Kafka: Kafka trims a partial trailing batch silently; Tern refuses it as corrupt,
/// since no client sends one.
public enum RecordBatchValidator {
    public struct Options: Sendable {
        /// `max.message.bytes` of the topic (Kafka's default 1048588).
        public var maxBatchSize: Int = 1_048_588
        /// Produce v3+ carries exactly one batch per partition.
        public var requireSingleBatch: Bool = false
        /// zstd needs Produce v7+.
        public var allowZstd: Bool = true
        /// Control batches may be appended by the broker itself, never by a client.
        public var allowControlBatches: Bool = false
        /// `cleanup.policy=compact`: every record needs a key (walks the records).
        public var requireKeys: Bool = false
        /// Walk every record: lengths parse, count and offset deltas match the header.
        public var walkRecords: Bool = false
        /// Bound on a batch's decompressed size when records are walked.
        public var maxDecompressedSize: Int = CompressionCodec.defaultMaxDecompressedSize

        public init() {}
    }

    /// Validates every batch of `buffer` (its readable bytes) and returns their headers in order.
    public static func validate(
        _ buffer: ByteBuffer, options: Options = Options()
    ) throws(RecordValidationError) -> [RecordBatchHeader] {
        var headers: [RecordBatchHeader] = []
        var index = buffer.readerIndex
        let end = buffer.writerIndex
        guard end > index else { throw .invalidRecord("produce payload holds no record batch") }
        while index < end {
            let batch = headers.count
            if options.requireSingleBatch && batch == 1 {
                throw .invalidRecord("produce requests of this version carry exactly one record batch", batch: batch)
            }
            headers.append(try validateBatch(buffer, at: index, end: end, batch: batch, options: options))
            index += headers[batch].totalSize
        }
        return headers
    }

    /// One batch at absolute `index`: header rules, then (when needed) its records.
    static func validateBatch(
        _ buffer: ByteBuffer, at index: Int, end: Int, batch: Int, options: Options
    ) throws(RecordValidationError) -> RecordBatchHeader {
        guard end - index >= RecordBatchHeader.logOverhead + 5,
              let batchLength = buffer.getInteger(at: index + 8, as: Int32.self),
              let magic = buffer.getInteger(at: index + 16, as: Int8.self)
        else { throw .corrupt("\(end - index) bytes cannot hold a batch header", batch: batch) }
        if magic < 2 {
            throw .invalidRecord("produce requests with magic 2 batches cannot carry magic \(magic)", batch: batch)
        }
        guard magic == 2 else { throw .corrupt("unknown magic \(magic)", batch: batch) }
        guard batchLength >= RecordBatchHeader.size - RecordBatchHeader.logOverhead else {
            throw .corrupt("batchLength \(batchLength) below the header size", batch: batch)
        }
        let totalSize = Int(batchLength) + RecordBatchHeader.logOverhead
        guard totalSize <= options.maxBatchSize else {
            throw .tooLarge("batch of \(totalSize) bytes exceeds max.message.bytes \(options.maxBatchSize)", batch: batch)
        }
        guard totalSize <= end - index, let header = RecordBatchHeader(peekingAt: index, of: buffer) else {
            throw .corrupt("batch of \(totalSize) bytes truncated at \(end - index)", batch: batch)
        }
        let crc = RecordBatchHeader.computeCRC(of: buffer, batchAt: index, totalSize: totalSize)
        guard crc == header.crc else {
            throw .corrupt("CRC32C \(String(crc, radix: 16)) does not match stored \(String(header.crc, radix: 16))",
                           batch: batch)
        }
        guard let codec = CompressionCodec(rawValue: header.attributes.compressionCodec) else {
            throw .unsupportedCompression("compression id \(header.attributes.compressionCodec)", batch: batch)
        }
        if codec == .zstd && !options.allowZstd {
            throw .unsupportedCompression("zstd needs Produce v7 or later", batch: batch)
        }
        guard header.recordCount >= 1 else {
            throw .invalidRecord("invalid reported count for record batch: \(header.recordCount)", batch: batch)
        }
        guard header.lastOffsetDelta >= 0, Int64(header.lastOffsetDelta) + 1 == Int64(header.recordCount) else {
            throw .invalidRecord("inconsistent lastOffsetDelta \(header.lastOffsetDelta) and count \(header.recordCount)",
                                 batch: batch)
        }
        if header.attributes.isControl && !options.allowControlBatches {
            throw .invalidRecord("clients are not allowed to write control records", batch: batch)
        }
        // Markers carry a producer id but no sequence; the rule is for a client's data batches.
        if header.producerId >= 0 && header.baseSequence < 0 && !header.attributes.isControl {
            throw .invalidRecord("producer id \(header.producerId) with sequence \(header.baseSequence)", batch: batch)
        }
        if options.walkRecords || options.requireKeys {
            try walkRecords(buffer, at: index, header: header, codec: codec, batch: batch, options: options)
        }
        return header
    }

    /// Skims each record without slicing key, value or headers.
    static func walkRecords(
        _ buffer: ByteBuffer, at index: Int, header: RecordBatchHeader, codec: CompressionCodec, batch: Int,
        options: Options
    ) throws(RecordValidationError) {
        var records = buffer.getSlice(at: index + RecordBatchHeader.size, length: header.totalSize - RecordBatchHeader.size)!
        if codec != .none {
            do {
                records = try codec.decompress(records, maxOutputSize: options.maxDecompressedSize)
            } catch {
                throw .from(error, batch: batch)
            }
        }
        do throws(RecordValidationError) {
            for expected in 0..<header.recordCount {
                guard records.readableBytes > 0 else {
                    throw RecordValidationError.corrupt("batch ends after \(expected) of \(header.recordCount) records")
                }
                let record = try Record.skim(from: &records)
                if record.offsetDelta != expected {
                    throw RecordValidationError.invalidRecord("record offsets must be sequential: delta \(record.offsetDelta) at \(expected)")
                }
                if options.requireKeys && !record.hasKey {
                    throw RecordValidationError.invalidRecord("compacted topic cannot accept a record without a key")
                }
            }
            guard records.readableBytes == 0 else {
                throw RecordValidationError.corrupt("\(records.readableBytes) bytes after the last record")
            }
        } catch {
            var error = error
            error.batchIndex = batch
            throw error
        }
    }

    /// Rewrites baseOffset (and the leader epoch, when given) of each validated batch in place,
    /// numbering from `firstOffset`; returns the offset after the last batch. Neither field is
    /// covered by the CRC, so the client's checksum stays valid.
    @discardableResult
    public static func assignOffsets(
        _ buffer: inout ByteBuffer, headers: [RecordBatchHeader], firstOffset: Int64,
        partitionLeaderEpoch: Int32? = nil
    ) -> Int64 {
        var index = buffer.readerIndex
        var next = firstOffset
        for header in headers {
            buffer.setInteger(next, at: index)
            if let partitionLeaderEpoch { buffer.setInteger(partitionLeaderEpoch, at: index + 12) }
            next += Int64(header.lastOffsetDelta) + 1
            index += header.totalSize
        }
        return next
    }

    /// For topics with `message.timestamp.type=LogAppendTime`: sets the timestamp type bit and
    /// maxTimestamp of the batch at absolute `index`, and recomputes the CRC they are covered by.
    public static func setLogAppendTime(_ timestamp: Int64, inBatchAt index: Int, of buffer: inout ByteBuffer) {
        guard let header = RecordBatchHeader(peekingAt: index, of: buffer) else { return }
        var attributes = header.attributes
        attributes.isLogAppendTime = true
        buffer.setInteger(attributes.rawValue, at: index + RecordBatchHeader.attributesOffset)
        buffer.setInteger(timestamp, at: index + 35)
        let crc = RecordBatchHeader.computeCRC(of: buffer, batchAt: index, totalSize: header.totalSize)
        buffer.setInteger(crc, at: index + RecordBatchHeader.crcOffset)
    }
}
