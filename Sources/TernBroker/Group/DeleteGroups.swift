import KafkaProtocol
import NIOCore
import TernCoordinator

/// DeleteGroups (key 42), versions 0-2.
/// Deletes Empty groups with their committed offsets (tombstones in `__consumer_offsets`), one result per group:
/// GROUP_ID_NOT_FOUND (69) for unknown groups, NON_EMPTY_GROUP (68) for groups with members, INVALID_GROUP_ID (24)
/// for an empty id (Kafka answers it before reaching the coordinator).
extension Broker {
    func deleteGroups(_ request: DeleteGroupsRequest, _ ctx: RequestContext) -> EventLoopFuture<DeleteGroupsResponse?> {
        let groupIds = request.groupsNames
        let answer: @Sendable ([String: Int16], Int16?) -> DeleteGroupsResponse = { errors, all in
            var r = DeleteGroupsResponse()
            r.results = groupIds.map { id in
                var result = DeleteGroupsResponse.DeletableGroupResult()
                result.groupId = id
                result.errorCode = id.isEmpty
                    ? CoordinatorErrorCode.invalidGroupId : all ?? errors[id] ?? CoordinatorErrorCode.unknownServerError
                return result
            }
            return r
        }
        let valid = Array(Set(groupIds.filter { !$0.isEmpty })).sorted()
        if valid.isEmpty { return ctx.eventLoop.makeSucceededFuture(answer([:], nil)) }
        return withGroupCoordinator(ctx, failure: { answer([:], $0) }) { service in
            var errors: [String: Int16] = [:]
            for result in await service.deleteGroups(valid) { errors[result.groupId] = result.errorCode }
            return answer(errors, nil)
        }
    }
}
