import KafkaProtocol
import TernStorage

/// ListOffsets (key 2), versions 1-10.
/// Timestamps: -2 earliest (log start offset), -1 latest (high watermark; the last stable offset under
/// read_committed), -3 max timestamp (v7+), -4 earliest local (same as earliest,
/// no tiered storage), -5 the last tiered offset (none: -1); otherwise the first offset whose batch has a
/// timestamp >= the one asked, or -1/-1 when none. Per-partition errors; replica ids other than -1 are followers.
extension Broker {
    func listOffsets(_ request: ListOffsetsRequest, _ ctx: RequestContext) throws -> ListOffsetsResponse {
        var response = ListOffsetsResponse()
        for topic in request.topics {
            var t = ListOffsetsResponse.ListOffsetsTopicResponse()
            t.name = topic.name
            for p in topic.partitions {
                var r = ListOffsetsResponse.ListOffsetsPartitionResponse()
                r.partitionIndex = p.partitionIndex
                guard let partition = replicaManager.partition(topic: topic.name, index: p.partitionIndex) else {
                    r.errorCode = ErrorCode.unknownTopicOrPartition.rawValue
                    t.partitions.append(r)
                    continue
                }
                let log = partition.log
                let offsets = log.offsets
                r.leaderEpoch = partition.leaderEpoch
                do {
                    switch p.timestamp {
                    case -2, -4:
                        r.offset = offsets.logStartOffset
                        r.timestamp = -1
                    case -1:
                        r.offset = request.isolationLevel == 1 ? partition.lastStableOffset : offsets.highWatermark
                        r.timestamp = -1
                    case -3:
                        if let found = try log.maxTimestampOffset() {
                            // The index knows the batch; the record carrying the timestamp is found inside it.
                            let exact = exactRecord(in: log, batchHolding: found.offset) { $0 == found.timestamp }
                            r.timestamp = found.timestamp
                            r.offset = exact?.offset ?? found.offset
                        } else {
                            r.timestamp = -1
                            r.offset = -1
                        }
                    case -5:
                        r.timestamp = -1
                        r.offset = -1
                    default:
                        if let found = try log.offsetForTimestamp(p.timestamp), found.offset < offsets.highWatermark {
                            // Kafka answers the first *record* whose timestamp is >= the one asked, not its batch.
                            let exact = exactRecord(in: log, batchHolding: found.offset) { $0 >= p.timestamp }
                            r.timestamp = exact?.timestamp ?? found.timestamp
                            r.offset = exact?.offset ?? found.offset
                        } else {
                            r.timestamp = -1
                            r.offset = -1
                        }
                    }
                } catch let error as StorageError {
                    r.errorCode = error.kind.errorCode.rawValue
                }
                t.partitions.append(r)
            }
            response.topics.append(t)
        }
        return response
    }

    /// The first record of the batch holding `offset` whose timestamp satisfies `matches`: (offset, timestamp).
    /// Reads and decodes that one batch (decompressing if needed); nil when it cannot be read.
    func exactRecord(in log: Log, batchHolding offset: Int64, where matches: (Int64) -> Bool) -> (offset: Int64, timestamp: Int64)? {
        guard let data = try? log.read(from: offset, maxBytes: 1, maxOffset: .max, minOneBatch: true), !data.isEmpty else {
            return nil
        }
        var records = data.records
        guard let batch = try? RecordBatch.read(from: &records, verifyCRC: false) else { return nil }
        let logStart = log.logStartOffset
        for record in batch.records {
            let ts = batch.timestamp(of: record)
            let recordOffset = batch.offset(of: record)
            if recordOffset >= logStart, matches(ts) { return (recordOffset, ts) }
        }
        return nil
    }
}
