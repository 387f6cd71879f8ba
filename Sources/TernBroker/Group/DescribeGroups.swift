import KafkaProtocol
import NIOCore
import TernCoordinator

/// DescribeGroups (key 15), versions 0-5.
/// One entry per requested group: state, protocol type, the selected protocol (when Stable) and the members;
/// member metadata and assignments are filled only for Stable groups, as in Kafka. An unknown group is state
/// "Dead" with no error (Kafka 4.0's classic answer before DescribeGroups v6). v3+ `include_authorized_operations`:
/// without ACLs every operation a group supports is allowed (READ, DESCRIBE, DELETE), which is what Kafka answers
/// with no authorizer; otherwise the "not requested" sentinel. v4+ `group_instance_id` per member.
extension Broker {
    /// READ (3), DELETE (6) and DESCRIBE (8) as a bit field of `AclOperation` codes.
    static let groupAuthorizedOperations: Int32 = 1 << 3 | 1 << 6 | 1 << 8

    func describeGroups(_ request: DescribeGroupsRequest, _ ctx: RequestContext) -> EventLoopFuture<DescribeGroupsResponse?> {
        let version = ctx.apiVersion
        let groupIds = request.groups
        let operations = version >= 3 && request.includeAuthorizedOperations ? Self.groupAuthorizedOperations : Int32.min
        let failed: @Sendable (Int16) -> DescribeGroupsResponse = { code in
            var r = DescribeGroupsResponse()
            r.groups = groupIds.map {
                var g = DescribeGroupsResponse.DescribedGroup()
                g.groupId = $0
                g.errorCode = code
                return g
            }
            return r
        }
        return withGroupCoordinator(ctx, failure: failed) { service in
            var response = DescribeGroupsResponse()
            response.groups = await service.describeGroups(groupIds).map { d in
                var g = DescribeGroupsResponse.DescribedGroup()
                g.errorCode = d.errorCode
                g.groupId = d.groupId
                g.groupState = d.groupState
                g.protocolType = d.protocolType
                g.protocolData = d.protocolData
                g.authorizedOperations = d.errorCode == CoordinatorErrorCode.none ? operations : Int32.min
                g.members = d.members.map { m in
                    var member = DescribeGroupsResponse.DescribedGroupMember()
                    member.memberId = m.memberId
                    member.groupInstanceId = version >= 4 ? m.groupInstanceId : nil
                    member.clientId = m.clientId
                    member.clientHost = m.clientHost
                    member.memberMetadata = ByteBuffer(bytes: m.memberMetadata)
                    member.memberAssignment = ByteBuffer(bytes: m.memberAssignment)
                    return member
                }
                return g
            }
            return response
        }
    }
}
