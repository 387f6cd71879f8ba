import FoundationEssentials
import KafkaProtocol

/// IncrementalAlterConfigs (key 44), versions 0-1 (KIP-339).
/// Topic resources (type 2): each config names an operation on the topic's overrides: SET (0) sets a value,
/// DELETE (1) removes the override (back to the broker default; deleting an absent or unknown key is a no-op),
/// APPEND (2) and SUBTRACT (3) add or remove comma-separated items of a LIST config (`cleanup.policy`), starting
/// from the override or, without one, Kafka's default, as Kafka does. APPEND/SUBTRACT on a non-list config, unknown
/// names and bad values answer INVALID_CONFIG; a null value for SET/APPEND/SUBTRACT, an unknown operation or a key
/// named twice answer INVALID_REQUEST. The whole resource applies or nothing does; changes persist and apply to
/// the topic's logs at once; `validate_only` checks only. Broker resources (4) change the dynamic broker configs
/// in a cluster with SET and DELETE (DynamicBrokerConfig.swift; INVALID_REQUEST alone). Broker logger resources
/// (8) answer INVALID_REQUEST.
extension Broker {
    enum ConfigOperation {
        static let set: Int8 = 0
        static let delete: Int8 = 1
        static let append: Int8 = 2
        static let subtract: Int8 = 3
    }

    func incrementalAlterConfigs(
        _ request: IncrementalAlterConfigsRequest, _ ctx: RequestContext
    ) throws -> IncrementalAlterConfigsResponse {
        var response = IncrementalAlterConfigsResponse()
        let failures = alterEachResource(request.resources, key: { ($0.resourceType, $0.resourceName) }) {
            incrementalAlterConfigs($0, validateOnly: request.validateOnly)
        }
        for (resource, failure) in zip(request.resources, failures) {
            var r = IncrementalAlterConfigsResponse.AlterConfigsResourceResponse()
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

    private func incrementalAlterConfigs(
        _ resource: IncrementalAlterConfigsRequest.AlterConfigsResource, validateOnly: Bool
    ) -> TopicCreationFailure? {
        switch resource.resourceType {
        case ConfigResourceType.topic:
            if Set(resource.configs.map(\.name)).count != resource.configs.count {
                return TopicCreationFailure(code: .invalidRequest, message: "Error due to duplicate config keys")
            }
            for c in resource.configs {
                if c.configOperation < ConfigOperation.set || c.configOperation > ConfigOperation.subtract {
                    return TopicCreationFailure(code: .invalidRequest, message: "Unknown operation type \(c.configOperation) for \(c.name)")
                }
                if c.configOperation != ConfigOperation.delete && c.value == nil {
                    return TopicCreationFailure(code: .invalidRequest, message: "Null value not supported for : \(c.name)")
                }
            }
            return alterTopicConfigs(resource.resourceName, validateOnly: validateOnly) { configs in
                for c in resource.configs { try Self.apply(c, to: &configs) }
            }
        case ConfigResourceType.broker:
            if !resource.resourceName.isEmpty, let failure = checkBrokerResourceName(resource.resourceName) {
                return failure
            }
            if Set(resource.configs.map(\.name)).count != resource.configs.count {
                return TopicCreationFailure(code: .invalidRequest, message: "Error due to duplicate config keys")
            }
            for c in resource.configs where c.configOperation != ConfigOperation.set && c.configOperation != ConfigOperation.delete {
                return TopicCreationFailure(code: .invalidRequest, message: "Unsupported operation \(c.configOperation) for broker config \(c.name)")
            }
            for c in resource.configs where c.configOperation == ConfigOperation.set && c.value == nil {
                return TopicCreationFailure(code: .invalidRequest, message: "Null value not supported for : \(c.name)")
            }
            return alterDynamicBrokerConfigs(resource.resourceName, validateOnly: validateOnly) { configs in
                for c in resource.configs { configs[c.name] = c.configOperation == ConfigOperation.set ? c.value : nil }
            }
        case ConfigResourceType.brokerLogger:
            if !resource.resourceName.isEmpty, let failure = checkBrokerResourceName(resource.resourceName) {
                return failure
            }
            return TopicCreationFailure(code: .invalidRequest, message: "dynamic broker logger configs are not supported")
        default:
            return TopicCreationFailure(code: .invalidRequest, message: "Unsupported resource type: \(resource.resourceType)")
        }
    }

    private static func apply(
        _ c: IncrementalAlterConfigsRequest.AlterableConfig, to configs: inout [String: String]
    ) throws {
        switch c.configOperation {
        case ConfigOperation.set:
            configs[c.name] = c.value
        case ConfigOperation.delete:
            configs[c.name] = nil
        default:
            guard topicConfigTypes[c.name] == ConfigType.list else {
                throw TopicCreationFailure(
                    code: .invalidConfig,
                    message: "Can't \(c.configOperation == ConfigOperation.append ? "APPEND" : "SUBTRACT") to key \(c.name) because its type is not LIST.")
            }
            var items = listItems(configs[c.name] ?? kafkaTopicDefaults[c.name] ?? "")
            for item in listItems(c.value ?? "") {
                if c.configOperation == ConfigOperation.append {
                    if !items.contains(item) { items.append(item) }
                } else {
                    items.removeAll { $0 == item }
                }
            }
            configs[c.name] = items.joined(separator: ",")
        }
    }

    private static func listItems(_ value: String) -> [String] {
        value.split(separator: ",").map { $0.trimmingWhitespaces() }.filter { !$0.isEmpty }
    }
}
