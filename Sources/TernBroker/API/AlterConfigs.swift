import KafkaProtocol

/// AlterConfigs (key 33), versions 0-2 (the legacy, non-incremental API).
/// Topic resources (type 2): the given configs *replace* all of the topic's overrides (a config left out goes back
/// to the broker default; a null value means "not set"). Unknown names and bad values answer INVALID_CONFIG, an
/// unknown topic UNKNOWN_TOPIC_OR_PARTITION. Changes are persisted and apply to the topic's logs at once;
/// `validate_only` checks without changing anything. Broker resources (type 4; this broker's id, or "" for the
/// cluster default) replace the dynamic broker configs in ZooKeeper (DynamicBrokerConfig.swift; a key that cannot
/// change at run time answers INVALID_REQUEST, a bad value INVALID_CONFIG); alone, without ZooKeeper, they answer
/// INVALID_REQUEST. Other types, and a resource named twice in one request, answer INVALID_REQUEST.
/// Errors are per resource.
extension Broker {
    func alterConfigs(_ request: AlterConfigsRequest, _ ctx: RequestContext) throws -> AlterConfigsResponse {
        var response = AlterConfigsResponse()
        let failures = alterEachResource(request.resources, key: { ($0.resourceType, $0.resourceName) }) {
            alterConfigs($0, validateOnly: request.validateOnly)
        }
        for (resource, failure) in zip(request.resources, failures) {
            var r = AlterConfigsResponse.AlterConfigsResourceResponse()
            r.resourceType = resource.resourceType
            r.resourceName = resource.resourceName
            r.errorMessage = nil
            if let failure {
                r.errorCode = failure.code.rawValue
                r.errorMessage = failure.message
            }
            response.responses.append(r)
        }
        return response
    }

    private func alterConfigs(_ resource: AlterConfigsRequest.AlterConfigsResource, validateOnly: Bool) -> TopicCreationFailure? {
        switch resource.resourceType {
        case ConfigResourceType.topic:
            if Set(resource.configs.map(\.name)).count != resource.configs.count {
                return TopicCreationFailure(code: .invalidRequest, message: "Error due to duplicate config keys")
            }
            var given: [String: String] = [:]
            for c in resource.configs { if let value = c.value { given[c.name] = value } }
            return alterTopicConfigs(resource.resourceName, validateOnly: validateOnly) { configs in configs = given }
        case ConfigResourceType.broker:
            if !resource.resourceName.isEmpty, let failure = checkBrokerResourceName(resource.resourceName) {
                return failure
            }
            if Set(resource.configs.map(\.name)).count != resource.configs.count {
                return TopicCreationFailure(code: .invalidRequest, message: "Error due to duplicate config keys")
            }
            var given: [String: String] = [:]
            for c in resource.configs { if let value = c.value { given[c.name] = value } }
            return alterDynamicBrokerConfigs(resource.resourceName, validateOnly: validateOnly) { configs in configs = given }
        default:
            return TopicCreationFailure(code: .invalidRequest, message: "Unsupported resource type: \(resource.resourceType)")
        }
    }
}
