import FoundationEssentials
import KafkaProtocol
import NIOCore

/// DeleteTopics (key 20), versions 1-6. By name, and from v6 by topic id. `delete.topic.enable=false` answers
/// TOPIC_DELETION_DISABLED.
/// - Alone: the topic's logs are deleted at once (renamed `*-delete`, then removed); parked fetches on its
///   partitions wake and see UNKNOWN_TOPIC_OR_PARTITION.
/// - In a cluster (as Kafka in ZooKeeper mode): the topic is queued under `/admin/delete_topics` for the
///   controller (ClusterController+TopicDeletion.swift) and the answer waits until the topic is gone, up to
///   `timeout_ms`; past it REQUEST_TIMED_OUT (the deletion goes on, e.g. until a down replica returns).
extension Broker {
    func deleteTopics(_ request: DeleteTopicsRequest, _ ctx: RequestContext) throws -> EventLoopFuture<DeleteTopicsResponse?> {
        var response = DeleteTopicsResponse()
        var targets: [(name: String?, id: KafkaUUID)] = []
        if ctx.apiVersion >= 6 {
            targets = request.topics.map { ($0.name, $0.topicId) }
        } else {
            targets = request.topicNames.map { ($0, KafkaUUID.zero) }
        }
        var waiting: [(index: Int, name: String)] = []
        for target in targets {
            var r = DeleteTopicsResponse.DeletableTopicResult()
            r.name = target.name
            r.topicId = target.id
            let name: String?
            if let given = target.name {
                name = given
            } else {
                name = metadataStore.topic(id: target.id)?.name
                r.name = name
            }
            guard let name else {
                r.errorCode = ErrorCode.unknownTopicId.rawValue
                response.responses.append(r)
                continue
            }
            do {
                if zooKeeperStore != nil {
                    r.topicId = try requestTopicDeletion(named: name).id
                    waiting.append((response.responses.count, name))
                } else {
                    r.topicId = try deleteTopic(named: name).id
                }
            } catch {
                r.errorCode = error.code.rawValue
                r.errorMessage = error.message
            }
            response.responses.append(r)
        }
        guard !waiting.isEmpty else { return ctx.eventLoop.makeSucceededFuture(response) }
        let deadline = Date().addingTimeInterval(Double(max(request.timeoutMs, 0)) / 1000)
        return ctx.eventLoop.makeFutureWithTask { [response] in
            var response = response
            var left = waiting
            while !left.isEmpty {
                let present = Set(self.metadataStore.allTopics().map(\.name))
                left = left.filter { present.contains($0.name) }
                if left.isEmpty || Date() >= deadline { break }
                try? await Task.sleep(for: .milliseconds(50))
            }
            for (index, name) in left {
                response.responses[index].errorCode = ErrorCode.requestTimedOut.rawValue
                response.responses[index].errorMessage = "Deletion of topic \(name) is still in progress."
            }
            return response
        }
    }
}
