import KafkaProtocol
import NIOCore

/// The records of one partition gathered into one RecordBatch, with the callbacks to run when the broker
/// answers. Sealed once it is full, its linger has passed, or a flush asks for it; a sealed batch keeps its
/// sequence number across retries so the broker can drop duplicates.
struct ProducerBatch {
    let tp: TopicPartition
    var builder: RecordBatchBuilder
    var callbacks: [DeliveryCallback?] = []
    var timestamps: [Int64] = []
    /// Java's estimate of the encoded size, used for batch.size and buffer.memory accounting.
    var sizeEstimate = RecordBatchHeader.size
    let createdAt: ContinuousClock.Instant
    var attempts = 0
    var sequenced = false
    var encoded: ByteBuffer?

    init(tp: TopicPartition, compression: CompressionCodec, now: ContinuousClock.Instant) {
        self.tp = tp
        builder = RecordBatchBuilder(compression: compression)
        createdAt = now
    }

    static func estimate(_ record: ProducerRecord) -> Int {
        var size = 21 + (record.key?.count ?? 0) + (record.value?.count ?? 0)
        for h in record.headers { size += 10 + h.key.utf8.count + (h.value?.count ?? 0) }
        return size
    }

    mutating func append(_ record: ProducerRecord, timestamp: Int64, callback: DeliveryCallback?) {
        builder.append(
            key: record.key.map { ByteBuffer(bytes: $0) }, value: record.value.map { ByteBuffer(bytes: $0) },
            headers: record.headers.map { ($0.key, $0.value.map { ByteBuffer(bytes: $0) }) }, timestamp: timestamp)
        callbacks.append(callback)
        timestamps.append(timestamp)
        sizeEstimate += Self.estimate(record)
    }

    var count: Int { callbacks.count }

    func complete(baseOffset: Int64, logAppendTime: Int64) {
        for (i, callback) in callbacks.enumerated() {
            guard let callback else { continue }
            callback(.success(RecordMetadata(
                topic: tp.topic, partition: tp.partition, offset: baseOffset < 0 ? -1 : baseOffset + Int64(i),
                timestamp: logAppendTime >= 0 ? logAppendTime : timestamps[i])))
        }
    }

    func fail(_ error: KafkaClientError) {
        for callback in callbacks { callback?(.failure(error)) }
    }
}
