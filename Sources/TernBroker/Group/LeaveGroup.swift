import KafkaProtocol
import NIOCore
import TernCoordinator

/// LeaveGroup (key 13), versions 0-5.
/// v0-2 remove one `member_id`; the answer carries that member's error as the top-level error, as Kafka does.
/// v3+ (KIP-345) remove a batch of members, each by member id or static `group_instance_id`, with one result per
/// member; v5 adds a `reason` per member. A group-level error (unknown group, coordinator loading) is the
/// top-level error with no member results.
extension Broker {
    func leaveGroup(_ request: LeaveGroupRequest, _ ctx: RequestContext) -> EventLoopFuture<LeaveGroupResponse?> {
        let version = ctx.apiVersion
        let members: [LeaveGroupMember] = version >= 3
            ? request.members.map {
                LeaveGroupMember(memberId: $0.memberId, groupInstanceId: $0.groupInstanceId, reason: version >= 5 ? $0.reason : nil)
            }
            : [LeaveGroupMember(memberId: request.memberId)]
        let input = LeaveGroupInput(groupId: request.groupId, members: members)
        return withGroupCoordinator(ctx, failure: { Self.leaveGroupResponse(LeaveGroupResult(errorCode: $0), version) }) {
            Self.leaveGroupResponse(await $0.leaveGroup(input), version)
        }
    }

    static func leaveGroupResponse(_ result: LeaveGroupResult, _ version: Int16) -> LeaveGroupResponse {
        var r = LeaveGroupResponse()
        r.errorCode = result.errorCode
        if version >= 3 {
            r.members = result.members.map { m in
                var member = LeaveGroupResponse.MemberResponse()
                member.memberId = m.memberId
                member.groupInstanceId = m.groupInstanceId
                member.errorCode = m.errorCode
                return member
            }
        } else if result.errorCode == CoordinatorErrorCode.none, let first = result.members.first {
            r.errorCode = first.errorCode
        }
        return r
    }
}
