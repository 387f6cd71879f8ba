import KafkaProtocol
import TernStorage

/// DeleteRecords (key 21), versions 0-2.
/// Per partition, moves the log start offset (the low watermark) up to `offset` and deletes the segments wholly
/// below it; `offset` -1 means the high watermark. An offset below -1 or beyond the high watermark answers
/// OFFSET_OUT_OF_RANGE, a topic whose `cleanup.policy` lacks `delete` POLICY_VIOLATION (as Kafka), an unknown
/// partition UNKNOWN_TOPIC_OR_PARTITION; errors are per partition and carry low watermark -1. Moving backwards is a
/// no-op that answers the current low watermark. Fetches parked on the partition are woken so they see the new
/// log start. In a cluster only the leader deletes (NOT_LEADER_OR_FOLLOWER elsewhere, as Kafka; the request carries
/// no leader epoch to fence); followers move their own log start up to the leader's as they fetch, and the answer
/// waits for them (DeleteRecords+Replica.swift).
extension Broker {
    func deleteRecords(_ request: DeleteRecordsRequest, _ ctx: RequestContext) throws -> DeleteRecordsResponse {
        var response = DeleteRecordsResponse()
        for topic in request.topics {
            var t = DeleteRecordsResponse.DeleteRecordsTopicResult()
            t.name = topic.name
            for p in topic.partitions {
                var r = DeleteRecordsResponse.DeleteRecordsPartitionResult()
                r.partitionIndex = p.partitionIndex
                r.lowWatermark = -1
                let (code, low) = deleteRecords(topic: topic.name, partition: p.partitionIndex, before: p.offset)
                r.errorCode = code.rawValue
                if code == .none { r.lowWatermark = low }
                t.partitions.append(r)
            }
            response.topics.append(t)
        }
        return response
    }

    /// One partition's DeleteRecords: the error code and, on success, the new low watermark.
    private func deleteRecords(topic: String, partition index: Int32, before offset: Int64) -> (ErrorCode, Int64) {
        guard let partition = replicaManager.partition(topic: topic, index: index) else {
            return (fetchErrorForMissingLeader(topic: topic, partition: index), -1)
        }
        guard partition.isLeader else { return (.notLeaderOrFollower, -1) }
        let log = partition.log
        guard log.config.isDeleteEnabled else { return (.policyViolation, -1) }
        let target = offset == -1 ? log.highWatermark : offset
        guard target >= 0 else { return (.offsetOutOfRange, -1) }
        do {
            let low = try log.deleteRecordsBefore(target)
            purgatory.notify(.init(topic: topic, partition: index))
            return (.none, low)
        } catch let error as StorageError {
            return (error.kind.errorCode, -1)
        } catch {
            logger.error("DeleteRecords on \(topic)-\(index) failed: \(error)")
            return (.kafkaStorageError, -1)
        }
    }
}
