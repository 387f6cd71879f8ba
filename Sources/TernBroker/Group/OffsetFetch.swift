import KafkaProtocol
import NIOCore
import TernCoordinator

/// OffsetFetch (key 9), versions 0-9.
/// v0-7 ask for one group; null `topics` (v2+) means every partition the group has committed. v8+ (KIP-709) ask
/// for several groups, answered per group; v9's member id/epoch only matter to KIP-848 groups and are ignored for
/// classic groups. A partition without a commit answers offset -1, metadata "" and no error. v7+ `require_stable`
/// never waits here (no transactional commits yet). Group-level errors (coordinator loading, empty group id) are
/// the top-level `error_code` at v2-v7 and per group at v8+; v0-v1 have no such field, so, as in Kafka, every
/// requested partition carries the error instead.
extension Broker {
    func offsetFetch(_ request: OffsetFetchRequest, _ ctx: RequestContext) -> EventLoopFuture<OffsetFetchResponse?> {
        let version = ctx.apiVersion
        let groups: [OffsetFetchGroup]
        if version >= 8 {
            groups = request.groups.map { g in
                OffsetFetchGroup(groupId: g.groupId, topics: g.topics.map { $0.map { OffsetFetchTopic(name: $0.name, partitionIndexes: $0.partitionIndexes) } })
            }
        } else {
            groups = [OffsetFetchGroup(
                groupId: request.groupId,
                topics: request.topics.map { $0.map { OffsetFetchTopic(name: $0.name, partitionIndexes: $0.partitionIndexes) } })]
        }
        let failed: @Sendable (Int16) -> OffsetFetchResponse = { code in
            Self.offsetFetchResponse(groups.map { .failed($0.groupId, code) }, groups, version)
        }
        let valid = groups.filter { !$0.groupId.isEmpty }
        if valid.isEmpty { return ctx.eventLoop.makeSucceededFuture(failed(CoordinatorErrorCode.invalidGroupId)) }
        let input = OffsetFetchInput(groups: valid, requireStable: version >= 7 && request.requireStable)
        return withGroupCoordinator(ctx, failure: failed) { service in
            let result = await service.fetchOffsets(input)
            var byGroup: [String: FetchedGroup] = [:]
            for g in result.groups { byGroup[g.groupId] = .fetched(g) }
            let results = groups.map { byGroup[$0.groupId] ?? .failed($0.groupId, CoordinatorErrorCode.invalidGroupId) }
            return Self.offsetFetchResponse(results, groups, version)
        }
    }

    /// A group's answer: the coordinator's, or an error decided before reaching it.
    enum FetchedGroup: Sendable {
        case fetched(OffsetFetchGroupResult)
        case failed(String, Int16)

        var groupId: String {
            switch self {
            case .fetched(let g): return g.groupId
            case .failed(let id, _): return id
            }
        }
        var errorCode: Int16 {
            switch self {
            case .fetched(let g): return g.errorCode
            case .failed(_, let code): return code
            }
        }
        var topics: [OffsetFetchTopicResult] {
            if case .fetched(let g) = self { return g.topics }
            return []
        }
    }

    static func offsetFetchResponse(_ results: [FetchedGroup], _ requested: [OffsetFetchGroup], _ version: Int16)
        -> OffsetFetchResponse
    {
        var response = OffsetFetchResponse()
        if version >= 8 {
            response.groups = results.map { g in
                var group = OffsetFetchResponse.OffsetFetchResponseGroup()
                group.groupId = g.groupId
                group.errorCode = g.errorCode
                group.topics = g.topics.map { t in
                    var topic = OffsetFetchResponse.OffsetFetchResponseTopics()
                    topic.name = t.name
                    topic.partitions = t.partitions.map { p in
                        var partition = OffsetFetchResponse.OffsetFetchResponsePartitions()
                        partition.partitionIndex = p.partitionIndex
                        partition.committedOffset = p.committedOffset
                        partition.committedLeaderEpoch = p.committedLeaderEpoch
                        partition.metadata = p.metadata
                        partition.errorCode = p.errorCode
                        return partition
                    }
                    return topic
                }
                return group
            }
            return response
        }
        guard let g = results.first else { return response }
        response.errorCode = g.errorCode
        if version < 2 && g.errorCode != CoordinatorErrorCode.none {
            // No top-level error field before v2: the group's error goes to each requested partition.
            response.topics = (requested.first?.topics ?? []).map { t in
                var topic = OffsetFetchResponse.OffsetFetchResponseTopic()
                topic.name = t.name
                topic.partitions = t.partitionIndexes.map {
                    var partition = OffsetFetchResponse.OffsetFetchResponsePartition()
                    partition.partitionIndex = $0
                    partition.committedOffset = -1
                    partition.metadata = ""
                    partition.errorCode = g.errorCode
                    return partition
                }
                return topic
            }
            return response
        }
        response.topics = g.topics.map { t in
            var topic = OffsetFetchResponse.OffsetFetchResponseTopic()
            topic.name = t.name
            topic.partitions = t.partitions.map { p in
                var partition = OffsetFetchResponse.OffsetFetchResponsePartition()
                partition.partitionIndex = p.partitionIndex
                partition.committedOffset = p.committedOffset
                partition.committedLeaderEpoch = p.committedLeaderEpoch
                partition.metadata = p.metadata
                partition.errorCode = p.errorCode
                return partition
            }
            return topic
        }
        return response
    }
}
