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
                            r.timestamp = found.timestamp
                            r.offset = found.offset
                        } else {
                            r.timestamp = -1
                            r.offset = -1
                        }
                    case -5:
                        r.timestamp = -1
                        r.offset = -1
                    default:
                        if let found = try log.offsetForTimestamp(p.timestamp), found.offset < offsets.highWatermark {
                            r.timestamp = found.timestamp
                            r.offset = found.offset
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
}
