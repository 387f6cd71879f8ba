import KafkaProtocol
import NIOCore
import TernCoordinator

/// ListGroups (key 16), versions 0-5.
/// Every group this broker coordinates. v4+ `states_filter` (case-insensitive state names) and `group_state` in
/// the answer; v5+ `types_filter` ("classic", "consumer") and `group_type`. While the coordinator loads the answer
/// is COORDINATOR_LOAD_IN_PROGRESS with no groups, as Kafka's.
extension Broker {
    func listGroups(_ request: ListGroupsRequest, _ ctx: RequestContext) -> EventLoopFuture<ListGroupsResponse?> {
        let version = ctx.apiVersion
        let input = ListGroupsInput(
            statesFilter: version >= 4 ? request.statesFilter : [], typesFilter: version >= 5 ? request.typesFilter : [])
        let failed: @Sendable (Int16) -> ListGroupsResponse = { code in
            var r = ListGroupsResponse()
            r.errorCode = code
            return r
        }
        return withGroupCoordinator(ctx, failure: failed) { service in
            let result = await service.listGroups(input)
            var r = ListGroupsResponse()
            r.errorCode = result.errorCode
            r.groups = result.groups.map { l in
                var g = ListGroupsResponse.ListedGroup()
                g.groupId = l.groupId
                g.protocolType = l.protocolType
                g.groupState = l.groupState
                g.groupType = l.groupType
                return g
            }
            return r
        }
    }
}
