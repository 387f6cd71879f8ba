import KafkaProtocol
import NIOCore
import TernCoordinator

/// SyncGroup (key 14), versions 0-5.
/// Followers park until the leader's SyncGroup brings the assignment (on a task, not the event loop); the leader's
/// assignments are stored in `__consumer_offsets` before anyone is answered. v3+ `group_instance_id`; v5+
/// `protocol_type`/`protocol_name` are checked against the group's (INCONSISTENT_GROUP_PROTOCOL) and echoed.
extension Broker {
    func syncGroup(_ request: SyncGroupRequest, _ ctx: RequestContext) -> EventLoopFuture<SyncGroupResponse?> {
        let version = ctx.apiVersion
        let input = SyncGroupInput(
            groupId: request.groupId, generationId: request.generationId, memberId: request.memberId,
            groupInstanceId: version >= 3 ? request.groupInstanceId : nil,
            protocolType: version >= 5 ? request.protocolType : nil,
            protocolName: version >= 5 ? request.protocolName : nil,
            assignments: request.assignments.map {
                SyncGroupAssignment(memberId: $0.memberId, assignment: Array($0.assignment.readableBytesView))
            })
        return withGroupCoordinator(ctx, failure: { Self.syncGroupResponse(SyncGroupResult(errorCode: $0), version) }) {
            Self.syncGroupResponse(await $0.syncGroup(input), version)
        }
    }

    static func syncGroupResponse(_ result: SyncGroupResult, _ version: Int16) -> SyncGroupResponse {
        var r = SyncGroupResponse()
        r.errorCode = result.errorCode
        if version >= 5 {
            r.protocolType = result.protocolType
            r.protocolName = result.protocolName
        }
        r.assignment = ByteBuffer(bytes: result.assignment)
        return r
    }
}
