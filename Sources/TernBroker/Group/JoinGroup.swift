import KafkaProtocol
import NIOCore
import TernCoordinator

/// JoinGroup (key 11), versions 0-9.
/// The request parks on the coordinator until the group's rebalance completes (or the member is told to retry),
/// on a task, so the event loop keeps serving. v0 has no rebalance timeout: the session timeout stands in, as in
/// Kafka. v4+ (KIP-394): a member joining without an id first gets MEMBER_ID_REQUIRED (79) with its new id.
/// v5+ static membership (`group_instance_id`). v7+ `protocol_type`/`protocol_name` nullable in the response
/// (empty before v7). v8+ `reason`. v9 `skip_assignment` (a static leader that rejoined without a change must not
/// reassign). `client_host` is the peer's address with Kafka's leading "/".
extension Broker {
    func joinGroup(_ request: JoinGroupRequest, _ ctx: RequestContext) -> EventLoopFuture<JoinGroupResponse?> {
        let version = ctx.apiVersion
        let input = JoinGroupInput(
            groupId: request.groupId, memberId: request.memberId,
            groupInstanceId: version >= 5 ? request.groupInstanceId : nil, protocolType: request.protocolType,
            protocols: request.protocols.map { GroupProtocol(name: $0.name, metadata: Array($0.metadata.readableBytesView)) },
            sessionTimeoutMs: request.sessionTimeoutMs,
            rebalanceTimeoutMs: version >= 1 ? request.rebalanceTimeoutMs : request.sessionTimeoutMs,
            clientId: ctx.clientId, clientHost: Self.clientHost(ctx), requireKnownMemberId: version >= 4,
            reason: version >= 8 ? request.reason : nil)
        return withGroupCoordinator(ctx, failure: { Self.joinGroupResponse(.init(errorCode: $0, memberId: request.memberId), version) }) {
            Self.joinGroupResponse(await $0.joinGroup(input), version)
        }
    }

    static func joinGroupResponse(_ result: JoinGroupResult, _ version: Int16) -> JoinGroupResponse {
        var r = JoinGroupResponse()
        r.errorCode = result.errorCode
        r.generationId = result.generationId
        if version >= 7 {
            r.protocolType = result.protocolType
            r.protocolName = result.protocolName.flatMap { $0.isEmpty ? nil : $0 }
        } else {
            r.protocolName = result.protocolName ?? ""
        }
        r.leader = result.leader
        r.skipAssignment = version >= 9 && result.skipAssignment
        r.memberId = result.memberId
        r.members = result.members.map { m in
            var member = JoinGroupResponse.JoinGroupResponseMember()
            member.memberId = m.memberId
            member.groupInstanceId = m.groupInstanceId
            member.metadata = ByteBuffer(bytes: m.metadata)
            return member
        }
        return r
    }

    /// Kafka records a member's host as `InetAddress.toString()` of the peer: "/" then the address.
    static func clientHost(_ ctx: RequestContext) -> String {
        var address = ctx.connection.remoteAddress
        if let colon = address.lastIndex(of: ":") { address = String(address[..<colon]) }
        if address.hasPrefix("["), address.hasSuffix("]") { address = String(address.dropFirst().dropLast()) }
        return "/" + address
    }
}
