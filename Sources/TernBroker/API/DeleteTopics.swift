import KafkaProtocol

/// DeleteTopics (key 20), versions 1-6. By name, and from v6 by topic id. The topic's logs are deleted at once
/// (renamed `*-delete`, then removed); parked fetches on its partitions wake and see UNKNOWN_TOPIC_OR_PARTITION.
/// `delete.topic.enable=false` answers TOPIC_DELETION_DISABLED.
extension Broker {
    func deleteTopics(_ request: DeleteTopicsRequest, _ ctx: RequestContext) throws -> DeleteTopicsResponse {
        var response = DeleteTopicsResponse()
        var targets: [(name: String?, id: KafkaUUID)] = []
        if ctx.apiVersion >= 6 {
            targets = request.topics.map { ($0.name, $0.topicId) }
        } else {
            targets = request.topicNames.map { ($0, KafkaUUID.zero) }
        }
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
                let deleted = try deleteTopic(named: name)
                r.topicId = deleted.id
            } catch {
                r.errorCode = error.code.rawValue
                r.errorMessage = error.message
            }
            response.responses.append(r)
        }
        return response
    }
}
