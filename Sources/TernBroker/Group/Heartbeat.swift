import KafkaProtocol
import NIOCore
import TernCoordinator

/// Heartbeat (key 12), versions 0-4.
/// Keeps a classic group member's session alive and tells it, with REBALANCE_IN_PROGRESS (27), to rejoin.
/// Stale members get ILLEGAL_GENERATION (22) / UNKNOWN_MEMBER_ID (25); v3+ `group_instance_id` may be fenced
/// (FENCED_INSTANCE_ID, 82).
extension Broker {
    func heartbeat(_ request: HeartbeatRequest, _ ctx: RequestContext) -> EventLoopFuture<HeartbeatResponse?> {
        let input = HeartbeatInput(
            groupId: request.groupId, generationId: request.generationId, memberId: request.memberId,
            groupInstanceId: ctx.apiVersion >= 3 ? request.groupInstanceId : nil)
        return withGroupCoordinator(ctx, failure: Self.heartbeatResponse) {
            Self.heartbeatResponse(await $0.heartbeat(input).errorCode)
        }
    }

    static func heartbeatResponse(_ errorCode: Int16) -> HeartbeatResponse {
        var r = HeartbeatResponse()
        r.errorCode = errorCode
        return r
    }
}
