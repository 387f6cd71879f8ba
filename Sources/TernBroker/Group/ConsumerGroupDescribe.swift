import KafkaProtocol
import NIOCore
import TernCoordinator

/// ConsumerGroupDescribe (key 69), version 0 (KIP-848).
/// Per group: state, group and assignment epochs, the assignor, and each member's current and target assignment
/// (topics by id and name). Unknown groups and classic groups answer GROUP_ID_NOT_FOUND, as Kafka's coordinator
/// does. `include_authorized_operations`: without ACLs every group operation is allowed.
extension Broker {
    func consumerGroupDescribe(_ request: ConsumerGroupDescribeRequest, _ ctx: RequestContext)
        -> EventLoopFuture<ConsumerGroupDescribeResponse?>
    {
        let groupIds = request.groupIds
        let operations = request.includeAuthorizedOperations ? Self.groupAuthorizedOperations : Int32.min
        let failed: @Sendable (Int16) -> ConsumerGroupDescribeResponse = { code in
            var r = ConsumerGroupDescribeResponse()
            r.groups = groupIds.map {
                var g = ConsumerGroupDescribeResponse.DescribedGroup()
                g.groupId = $0
                g.errorCode = code
                return g
            }
            return r
        }
        let store = metadataStore
        return withGroupCoordinator(ctx, failure: failed) { service in
            func assignment(_ partitions: [String: [Int32]]) -> ConsumerGroupDescribeResponse.Assignment {
                var a = ConsumerGroupDescribeResponse.Assignment()
                a.topicPartitions = partitions.keys.sorted().map { name in
                    var tp = ConsumerGroupDescribeResponse.TopicPartitions()
                    tp.topicId = store.topic(named: name)?.id ?? .zero
                    tp.topicName = name
                    tp.partitions = partitions[name]!.sorted()
                    return tp
                }
                return a
            }
            var response = ConsumerGroupDescribeResponse()
            response.groups = await service.describeConsumerGroups(groupIds).map { d in
                var g = ConsumerGroupDescribeResponse.DescribedGroup()
                g.errorCode = d.errorCode
                g.errorMessage = d.errorMessage
                g.groupId = d.groupId
                g.groupState = d.groupState
                g.groupEpoch = d.groupEpoch
                g.assignmentEpoch = d.assignmentEpoch
                g.assignorName = d.assignorName
                g.authorizedOperations = d.errorCode == CoordinatorErrorCode.none ? operations : Int32.min
                g.members = d.members.map { m in
                    var member = ConsumerGroupDescribeResponse.Member()
                    member.memberId = m.memberId
                    member.instanceId = m.instanceId
                    member.rackId = m.rackId
                    member.memberEpoch = m.memberEpoch
                    member.clientId = m.clientId
                    member.clientHost = m.clientHost
                    member.subscribedTopicNames = m.subscribedTopicNames
                    member.assignment = assignment(m.assignment)
                    member.targetAssignment = assignment(m.targetAssignment)
                    return member
                }
                return g
            }
            return response
        }
    }
}
