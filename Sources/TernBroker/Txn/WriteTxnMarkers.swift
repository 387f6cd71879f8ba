import KafkaProtocol
import NIOCore
import TernCoordinator

/// WriteTxnMarkers (key 27), versions 0-1: a transaction coordinator on another broker asks this one, as leader of
/// the listed partitions, to end a producer's transaction there. Per partition: UNKNOWN_TOPIC_OR_PARTITION when
/// this broker has no replica of it, NOT_LEADER_OR_FOLLOWER when it does not lead it, NOT_ENOUGH_REPLICAS when the
/// ISR is below `min.insync.replicas`, otherwise the COMMIT/ABORT control batch is appended and answered once the
/// in-sync replicas have it (REQUEST_TIMED_OUT after `request.timeout.ms`). On `__consumer_offsets` partitions the
/// producer's staged TxnOffsetCommit offsets are then completed by the group coordinator, as Kafka does.
/// A marker whose coordinator epoch is older than the last one written for the producer on that partition is
/// refused with TRANSACTION_COORDINATOR_FENCED (it comes from a coordinator that lost its partition).
/// Differs from Kafka: no CLUSTER_ACTION authorization (Tern has no ACLs).
extension Broker {
    func writeTxnMarkers(_ request: WriteTxnMarkersRequest, _ ctx: RequestContext) -> EventLoopFuture<WriteTxnMarkersResponse?> {
        ctx.eventLoop.makeFutureWithTask { [self] in
            var response = WriteTxnMarkersResponse()
            for marker in request.markers {
                let markers = TransactionMarkers(
                    transactionalId: "", producerId: marker.producerId, producerEpoch: marker.producerEpoch,
                    commit: marker.transactionResult, coordinatorEpoch: marker.coordinatorEpoch, partitions: [])
                var result = WriteTxnMarkersResponse.WritableTxnMarkerResult()
                result.producerId = marker.producerId
                for topic in marker.topics {
                    var t = WriteTxnMarkersResponse.WritableTxnMarkerTopicResult()
                    t.name = topic.name
                    for index in topic.partitionIndexes {
                        var p = WriteTxnMarkersResponse.WritableTxnMarkerPartitionResult()
                        p.partitionIndex = index
                        p.errorCode = await writeRequestedMarker(markers, topic: topic.name, index: index)
                        t.partitions.append(p)
                    }
                    result.topics.append(t)
                }
                response.markers.append(result)
            }
            return response
        }
    }

    private func writeRequestedMarker(_ markers: TransactionMarkers, topic: String, index: Int32) async -> Int16 {
        guard let partition = replicaManager.partition(topic: topic, index: index) else {
            return ErrorCode.unknownTopicOrPartition.rawValue
        }
        do {
            try await writeMarkerLocally(markers, to: partition)
            return ErrorCode.none.rawValue
        } catch {
            return error.code.rawValue
        }
    }
}
