import KafkaProtocol
import NIOCore

/// Records of one fetched batch that `poll` has not returned yet, kept as decoded: keys and values are slices of
/// the fetch response. `poll` turns them into `ConsumerRecord`s as it hands them out; `pollFetched` hands them out
/// as they are, so a consumer that only reads them in place (a perf test, a copier) allocates nothing per record.
public struct FetchedRecords: Sendable {
    public let topic: String
    public let partition: Int32
    public let batch: RecordBatch
    /// The indices of `batch.records` not yet returned.
    public internal(set) var indices: Range<Int>

    init(topic: String, partition: Int32, batch: RecordBatch, from offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.batch = batch
        let records = batch.records
        // Offsets rise within a batch; a fetch from the middle of one skips the records before the position.
        let first = records.firstIndex { batch.offset(of: $0) >= offset } ?? records.endIndex
        indices = first..<records.endIndex
    }

    public var count: Int { indices.count }
    public var isEmpty: Bool { indices.isEmpty }
    /// The records, in offset order; `batch.offset(of:)` and `batch.timestamp(of:)` give their offsets and timestamps.
    public var records: ArraySlice<Record> { batch.records[indices] }
    /// The offset of the first record not yet returned.
    var firstOffset: Int64? { indices.isEmpty ? nil : batch.offset(of: batch.records[indices.lowerBound]) }

    /// Takes up to `n` records off the front.
    mutating func removeFirst(upTo n: Int) -> FetchedRecords {
        var taken = self
        let end = indices.lowerBound + min(n, indices.count)
        taken.indices = indices.lowerBound..<end
        indices = end..<indices.upperBound
        return taken
    }

    /// The records as `ConsumerRecord`s, their keys, values and headers copied out of the response.
    func consumerRecords(into out: inout [ConsumerRecord]) {
        let header = batch.header
        for record in records {
            out.append(ConsumerRecord(
                topic: topic, partition: partition, offset: batch.offset(of: record), timestamp: batch.timestamp(of: record),
                isLogAppendTime: header.attributes.isLogAppendTime,
                key: record.key.map { Array($0.readableBytesView) }, value: record.value.map { Array($0.readableBytesView) },
                headers: record.headers.map { ($0.key, $0.value.map { Array($0.readableBytesView) }) },
                leaderEpoch: header.partitionLeaderEpoch))
        }
    }
}
