import NIOCore

/// Encodes records into one v2 batch, as a producer (or a coordinator writing its own records)
/// would: deltas from the first record, compression of the records section, CRC32C last.
public struct RecordBatchBuilder: Sendable {
    public enum TimestampType: Sendable { case createTime, logAppendTime }

    public var baseOffset: Int64
    public var partitionLeaderEpoch: Int32
    public var compression: CompressionCodec
    public var timestampType: TimestampType
    public var isTransactional: Bool
    public var isControl: Bool
    /// -1 when the producer is not idempotent.
    public var producerId: Int64
    public var producerEpoch: Int16
    /// -1 when the producer is not idempotent.
    public var baseSequence: Int32
    public private(set) var records: [Record] = []
    /// The first record's timestamp (-1 until a record is added), as Java's builder does.
    public private(set) var baseTimestamp: Int64 = -1
    public private(set) var maxTimestamp: Int64 = -1

    public init(
        baseOffset: Int64 = 0, partitionLeaderEpoch: Int32 = -1, compression: CompressionCodec = .none,
        timestampType: TimestampType = .createTime, isTransactional: Bool = false, isControl: Bool = false,
        producerId: Int64 = -1, producerEpoch: Int16 = -1, baseSequence: Int32 = -1
    ) {
        self.baseOffset = baseOffset
        self.partitionLeaderEpoch = partitionLeaderEpoch
        self.compression = compression
        self.timestampType = timestampType
        self.isTransactional = isTransactional
        self.isControl = isControl
        self.producerId = producerId
        self.producerEpoch = producerEpoch
        self.baseSequence = baseSequence
    }

    public var count: Int { records.count }
    public var isEmpty: Bool { records.isEmpty }

    /// Adds a record with the next offset delta; `timestamp` is absolute milliseconds.
    public mutating func append(
        key: ByteBuffer?, value: ByteBuffer?, headers: [(key: String, value: ByteBuffer?)] = [], timestamp: Int64
    ) {
        if records.isEmpty { baseTimestamp = timestamp }
        maxTimestamp = max(maxTimestamp, timestamp)
        records.append(Record(timestampDelta: timestamp - baseTimestamp, offsetDelta: Int32(records.count),
                              key: key, value: value, headers: headers))
    }

    /// Adds a record with its deltas as given (re-encoding a decoded batch keeps them).
    public mutating func append(_ record: Record, baseTimestamp: Int64) {
        if records.isEmpty { self.baseTimestamp = baseTimestamp }
        maxTimestamp = max(maxTimestamp, self.baseTimestamp + record.timestampDelta)
        records.append(record)
    }

    /// The attributes the header will carry.
    public var attributes: RecordBatchHeader.Attributes {
        var attributes = RecordBatchHeader.Attributes(rawValue: 0).withCompression(compression.rawValue)
        attributes.isLogAppendTime = timestampType == .logAppendTime
        attributes.isTransactional = isTransactional
        attributes.isControl = isControl
        return attributes
    }

    /// Encodes the batch. Only compression can fail.
    public func build(allocator: ByteBufferAllocator = ByteBufferAllocator()) throws(CompressionError) -> ByteBuffer {
        var body = allocator.buffer(capacity: records.reduce(0) { $0 + $1.bodySize + 5 })
        for record in records { record.write(to: &body) }
        if compression != .none {
            body = try compression.compress(body, allocator: allocator)
        }
        let totalSize = RecordBatchHeader.size + body.readableBytes
        let header = RecordBatchHeader(
            baseOffset: baseOffset, batchLength: Int32(totalSize - RecordBatchHeader.logOverhead),
            partitionLeaderEpoch: partitionLeaderEpoch, magic: 2, crc: 0, attributes: attributes,
            lastOffsetDelta: records.last?.offsetDelta ?? 0, baseTimestamp: baseTimestamp,
            maxTimestamp: maxTimestamp, producerId: producerId, producerEpoch: producerEpoch,
            baseSequence: baseSequence, recordCount: Int32(records.count))
        var batch = allocator.buffer(capacity: totalSize)
        header.write(to: &batch)
        batch.writeBuffer(&body)
        let crc = RecordBatchHeader.computeCRC(of: batch, batchAt: batch.readerIndex, totalSize: totalSize)
        batch.setInteger(crc, at: batch.readerIndex + RecordBatchHeader.crcOffset)
        return batch
    }
}
