import KafkaProtocol
import NIOCore

/// The records of one partition gathered into one RecordBatch, with whoever waits for the broker's answer.
/// Sealed once it is full, its linger has passed, or a flush asks for it; a sealed batch keeps its sequence
/// number across retries so the broker can drop duplicates.
///
/// Records are encoded as they are appended, straight into the batch's buffer after room for the 61-byte
/// header, so sealing fills in the header and computes the CRC once, copying nothing (compression aside).
///
/// A class, so the hot path appends through a reference rather than copying the batch in and out of dictionaries;
/// only the producer's actor touches it.
final class ProducerBatch: @unchecked Sendable {
    let tp: TopicPartition
    let compression: CompressionCodec
    /// Header room, then the records section, written in place.
    private var buffer: ByteBuffer
    private(set) var count = 0
    private var baseTimestamp: Int64 = -1
    private var maxTimestamp: Int64 = -1
    var producerId: Int64 = -1
    var producerEpoch: Int16 = -1
    /// -1 until sealed by an idempotent producer.
    var baseSequence: Int32 = -1
    /// Records sent with a callback: their index in the batch and timestamp, for their RecordMetadata.
    private var callbacks: [(index: Int32, timestamp: Int64, callback: DeliveryCallback)] = []
    /// Records sent with a listener, as runs of consecutive records sharing one: one report per run.
    private var listeners: [(first: Int32, listener: any DeliveryListener, tags: [Int])] = []
    /// Java's estimate of the encoded size, used for batch.size and buffer.memory accounting.
    private(set) var sizeEstimate = RecordBatchHeader.size
    let createdAt: ContinuousClock.Instant
    var attempts = 0
    var sequenced = false
    var encoded: ByteBuffer?

    init(tp: TopicPartition, compression: CompressionCodec, capacity: Int, now: ContinuousClock.Instant) {
        self.tp = tp
        self.compression = compression
        buffer = ByteBufferAllocator().buffer(capacity: RecordBatchHeader.size + capacity)
        buffer.moveWriterIndex(forwardBy: RecordBatchHeader.size)
        createdAt = now
    }

    static func estimate(_ record: ProducerRecord) -> Int {
        var size = 21 + (record.key?.count ?? 0) + (record.value?.count ?? 0)
        for h in record.headers { size += 10 + h.key.utf8.count + (h.value?.count ?? 0) }
        return size
    }

    /// Appends a record for which the broker's answer goes to `callback`.
    func append(_ record: ProducerRecord, timestamp: Int64, estimate: Int, callback: DeliveryCallback?) {
        if let callback { callbacks.append((Int32(count), timestamp, callback)) }
        write(record, timestamp: timestamp, estimate: estimate)
    }

    /// Appends a record whose `tag` is reported to `listener`, with the tags of its neighbours sent to the same one.
    func append(_ record: ProducerRecord, timestamp: Int64, estimate: Int, tag: Int, listener: any DeliveryListener) {
        let index = Int32(count)
        if let last = listeners.indices.last, listeners[last].listener === listener,
           listeners[last].first + Int32(listeners[last].tags.count) == index {
            listeners[last].tags.append(tag)
        } else {
            listeners.append((index, listener, [tag]))
        }
        write(record, timestamp: timestamp, estimate: estimate)
    }

    /// Encodes the record at the end of the records section: length, attributes, deltas, key, value, headers.
    private func write(_ record: ProducerRecord, timestamp: Int64, estimate: Int) {
        if count == 0 { baseTimestamp = timestamp }
        if timestamp > maxTimestamp { maxTimestamp = timestamp }
        let timestampDelta = timestamp - baseTimestamp
        let offsetDelta = Int32(count)
        var bodySize = 1 + ByteBuffer.varlongSize(timestampDelta) + ByteBuffer.varintSize(offsetDelta)
        bodySize += Self.bytesSize(record.key) + Self.bytesSize(record.value)
        bodySize += ByteBuffer.varintSize(Int32(record.headers.count))
        for h in record.headers {
            let n = h.key.utf8.count
            bodySize += ByteBuffer.varintSize(Int32(n)) + n + Self.bytesSize(h.value)
        }
        let total = ByteBuffer.varintSize(Int32(bodySize)) + bodySize
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: total) { raw in
            var w = VarintWriter(base: raw.baseAddress!)
            w.varlong(Int64(bodySize))
            w.byte(0)  // attributes
            w.varlong(timestampDelta)
            w.varlong(Int64(offsetDelta))
            w.bytes(record.key)
            w.bytes(record.value)
            w.varlong(Int64(record.headers.count))
            for h in record.headers {
                var key = h.key
                key.withUTF8 { utf8 in
                    w.varlong(Int64(utf8.count))
                    w.raw(UnsafeRawBufferPointer(utf8))
                }
                w.bytes(h.value)
            }
            return w.offset
        }
        count += 1
        sizeEstimate += estimate
    }

    private static func bytesSize(_ bytes: [UInt8]?) -> Int {
        guard let bytes else { return 1 }
        return ByteBuffer.varintSize(Int32(bytes.count)) + bytes.count
    }

    /// Seals the batch: fills in the header (sequence fields as set by then), compresses if configured and
    /// computes the CRC, once; retries resend `encoded` as it is. The header is written in place, so this
    /// must run while the batch's buffer is still its own (straight after it leaves the open batches).
    func encode() throws(CompressionError) {
        var batch: ByteBuffer
        if compression == .none {
            batch = buffer
            buffer = ByteBuffer()  // `batch` now holds the only reference: the header below is written in place
        } else {
            let records = buffer.getSlice(at: RecordBatchHeader.size, length: buffer.writerIndex - RecordBatchHeader.size)!
            let compressed = try compression.compress(records)
            buffer = ByteBuffer()
            batch = ByteBufferAllocator().buffer(capacity: RecordBatchHeader.size + compressed.readableBytes)
            batch.moveWriterIndex(forwardBy: RecordBatchHeader.size)
            batch.writeImmutableBuffer(compressed)
        }
        let totalSize = batch.readableBytes
        let attributes = RecordBatchHeader.Attributes(rawValue: 0).withCompression(compression.rawValue)
        let header = RecordBatchHeader(
            baseOffset: 0, batchLength: Int32(totalSize - RecordBatchHeader.logOverhead), partitionLeaderEpoch: -1,
            magic: 2, crc: 0, attributes: attributes, lastOffsetDelta: Int32(max(count - 1, 0)),
            baseTimestamp: baseTimestamp, maxTimestamp: maxTimestamp, producerId: producerId,
            producerEpoch: producerEpoch, baseSequence: baseSequence, recordCount: Int32(count))
        let end = batch.writerIndex
        batch.moveWriterIndex(to: batch.readerIndex)
        header.write(to: &batch)
        batch.moveWriterIndex(to: end)
        let crc = RecordBatchHeader.computeCRC(of: batch, batchAt: batch.readerIndex, totalSize: totalSize)
        batch.setInteger(crc, at: batch.readerIndex + RecordBatchHeader.crcOffset)
        encoded = batch
    }

    func complete(baseOffset: Int64, logAppendTime: Int64) {
        for (index, timestamp, callback) in callbacks {
            callback(.success(RecordMetadata(
                topic: tp.topic, partition: tp.partition, offset: baseOffset < 0 ? -1 : baseOffset + Int64(index),
                timestamp: logAppendTime >= 0 ? logAppendTime : timestamp)))
        }
        for (first, listener, tags) in listeners {
            listener.delivered(topic: tp.topic, partition: tp.partition, tags: tags,
                               result: .success(baseOffset < 0 ? -1 : baseOffset + Int64(first)))
        }
    }

    func fail(_ error: KafkaClientError) {
        for entry in callbacks { entry.callback(.failure(error)) }
        for (_, listener, tags) in listeners {
            listener.delivered(topic: tp.topic, partition: tp.partition, tags: tags, result: .failure(error))
        }
    }
}

/// Writes a record's zigzag varints and bytes at a raw pointer whose room was sized beforehand with
/// `ByteBuffer.varintSize` / `varlongSize` (KafkaProtocol's encoding): the producer's per-record path, without
/// ByteBuffer's per-byte bounds checks. A value that fits an Int32 has the same zigzag bytes as an Int32 or an
/// Int64, so one writer serves both.
private struct VarintWriter {
    let base: UnsafeMutableRawPointer
    var offset = 0

    @inline(__always) mutating func byte(_ b: UInt8) {
        base.storeBytes(of: b, toByteOffset: offset, as: UInt8.self)
        offset += 1
    }

    @inline(__always) mutating func varlong(_ value: Int64) {
        var v = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        while v >= 0x80 {
            byte(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        byte(UInt8(v))
    }

    @inline(__always) mutating func raw(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        (base + offset).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        offset += bytes.count
    }

    @inline(__always) mutating func bytes(_ b: [UInt8]?) {
        guard let b else {
            varlong(-1)
            return
        }
        varlong(Int64(b.count))
        b.withUnsafeBytes { raw($0) }
    }
}
