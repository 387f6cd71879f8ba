import KafkaProtocol

/// CreateTopics (key 19), versions 2-7.
/// Per topic: name rules, partitions and replication factor (-1 = broker default), explicit assignments,
/// configs checked against Kafka's topic config names; `validate_only` checks without creating. From v5 the
/// result carries the partition count, replication factor and effective configs. Duplicate names in one
/// request answer INVALID_REQUEST for that name.
extension Broker {
    func createTopics(_ request: CreateTopicsRequest, _ ctx: RequestContext) throws -> CreateTopicsResponse {
        var response = CreateTopicsResponse()
        var seen: [String: Int] = [:]
        for t in request.topics { seen[t.name, default: 0] += 1 }
        for t in request.topics {
            var r = CreateTopicsResponse.CreatableTopicResult()
            r.name = t.name
            if seen[t.name, default: 0] > 1 {
                r.errorCode = ErrorCode.invalidRequest.rawValue
                r.errorMessage = "Create topics request from client `\(ctx.clientId)` contains multiple entries for the following topics: \(t.name)"
                response.topics.append(r)
                continue
            }
            var configs: [String: String] = [:]
            for c in t.configs { if let v = c.value { configs[c.name] = v } }
            do {
                let topic = try createTopic(
                    name: t.name, partitions: t.numPartitions, replicationFactor: t.replicationFactor,
                    assignments: t.assignments.sorted { $0.partitionIndex < $1.partitionIndex }.map(\.brokerIds),
                    configs: configs, validateOnly: request.validateOnly)
                r.topicId = request.validateOnly ? .zero : topic.id
                r.numPartitions = Int32(topic.partitionCount)
                r.replicationFactor = Int16(topic.assignment.first?.count ?? 1)
                r.configs = describeTopicConfigs(topic).map { entry in
                    var c = CreateTopicsResponse.CreatableTopicConfigs()
                    c.name = entry.name
                    c.value = entry.value
                    c.readOnly = false
                    c.configSource = entry.source
                    c.isSensitive = false
                    return c
                }
            } catch {
                r.errorCode = error.code.rawValue
                // Kafka sends no message with UNKNOWN_SERVER_ERROR (the broker logs it).
                r.errorMessage = error.code == .unknownServerError ? nil : error.message
            }
            response.topics.append(r)
        }
        return response
    }
}
