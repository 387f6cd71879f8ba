import KafkaProtocol
import TernStorage

/// ListOffsets (key 2), versions 1-10.
/// Timestamps: -2 earliest (log start offset), -1 latest (high watermark; the last stable offset under
/// read_committed), -3 max timestamp (v7+), -4 earliest local (same as earliest,
/// no tiered storage), -5 the last tiered offset (none: -1); otherwise the first offset whose batch has a
/// timestamp >= the one asked, or -1/-1 when none. Per-partition errors; replica ids other than -1 are followers
/// (their "latest" is the log end offset). As in Kafka: `current_leader_epoch` (v4+) is fenced first
/// (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH), then only the leader answers (NOT_LEADER_OR_FOLLOWER; replica id
/// -2, the debugging id, may ask any replica); a new leader whose high watermark has not yet reached the start of
/// its epoch answers consumers' "latest" (and timestamps it cannot find below the high watermark) with
/// OFFSET_NOT_AVAILABLE, which clients retry (KIP-207).
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
                    r.errorCode = fetchErrorForMissingLeader(topic: topic.name, partition: p.partitionIndex).rawValue
                    t.partitions.append(r)
                    continue
                }
                let access = partition.checkAccess(
                    currentLeaderEpoch: ctx.apiVersion >= 4 ? p.currentLeaderEpoch : -1,
                    requireLeader: request.replicaId != Self.debuggingReplicaId)
                if access != .none {
                    r.errorCode = access.rawValue
                    t.partitions.append(r)
                    continue
                }
                let isClient = request.replicaId == -1
                let notAvailable = isClient ? partition.offsetLookupError : .none
                let log = partition.log
                let offsets = log.offsets
                let lastFetchable = !isClient ? offsets.logEndOffset
                    : request.isolationLevel == 1 ? partition.lastStableOffset : offsets.highWatermark
                r.leaderEpoch = partition.leaderEpoch
                do {
                    switch p.timestamp {
                    case -2, -4:
                        r.offset = offsets.logStartOffset
                        r.timestamp = -1
                    case -1:
                        r.errorCode = notAvailable.rawValue
                        r.offset = notAvailable == .none ? lastFetchable : -1
                        r.timestamp = -1
                    case -3:
                        // The index knows the batch; the record carrying the timestamp is found inside it.
                        let found = try log.maxTimestampOffset().map { found in
                            (exactRecord(in: log, batchHolding: found.offset) { $0 == found.timestamp }?.offset ?? found.offset,
                             found.timestamp)
                        }
                        answer(&r, found, below: lastFetchable, otherwise: notAvailable)
                    case -5:
                        r.timestamp = -1
                        r.offset = -1
                    default:
                        // Kafka answers the first *record* whose timestamp is >= the one asked, not its batch.
                        let found = try log.offsetForTimestamp(p.timestamp).map { found in
                            exactRecord(in: log, batchHolding: found.offset) { $0 >= p.timestamp } ?? (found.offset, found.timestamp)
                        }
                        answer(&r, found, below: lastFetchable, otherwise: notAvailable)
                    }
                } catch let error as StorageError {
                    r.errorCode = error.kind.errorCode.rawValue
                }
                if r.errorCode != 0 { r.leaderEpoch = -1 }
                t.partitions.append(r)
            }
            response.topics.append(t)
        }
        return response
    }

    /// A lookup's answer when it lies below what the client may read; otherwise -1/-1, with OFFSET_NOT_AVAILABLE
    /// while a new leader's high watermark is still unknown (Kafka filters every timestamp lookup this way).
    private func answer(
        _ r: inout ListOffsetsResponse.ListOffsetsPartitionResponse, _ found: (offset: Int64, timestamp: Int64)?,
        below lastFetchable: Int64, otherwise error: ErrorCode
    ) {
        if let found, found.offset < lastFetchable {
            r.offset = found.offset
            r.timestamp = found.timestamp
        } else {
            r.errorCode = error.rawValue
            r.offset = -1
            r.timestamp = -1
        }
    }

    /// Kafka's `ListOffsetsRequest.DEBUGGING_REPLICA_ID`: may query any replica.
    static let debuggingReplicaId: Int32 = -2

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
