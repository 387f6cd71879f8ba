import KafkaProtocol

/// DescribeConfigs (key 32), versions 1-4 (Kafka 4.0 removed v0).
/// - Topic resources (type 2): every topic config in effect, with its source (1 topic override, 4 set in
///   server.properties, 5 default), synonyms when `include_synonyms`, Kafka's config type from v3. An invalid
///   name answers INVALID_TOPIC_EXCEPTION, an unknown topic UNKNOWN_TOPIC_OR_PARTITION, per resource.
/// - Broker resources (type 4) named after this broker ("0"): the broker configuration with dynamic values first
///   (see `describeBrokerConfigs`). The empty name is Kafka's cluster-wide dynamic default: its dynamic configs
///   (DYNAMIC_DEFAULT_BROKER_CONFIG), none without ZooKeeper. Another broker id or a non-integer name answers
///   INVALID_REQUEST.
/// - Broker logger resources (type 8): an empty list (Tern's log levels are not exposed as Kafka loggers).
/// - Other types: INVALID_REQUEST.
/// `configuration_keys` (null: all) filters the answer; unknown keys are silently absent, like Kafka.
/// Documentation is always null (Kafka sends it only when asked; Tern carries no config docs).
extension Broker {
    func describeConfigs(_ request: DescribeConfigsRequest, _ ctx: RequestContext) throws -> DescribeConfigsResponse {
        var response = DescribeConfigsResponse()
        for resource in request.resources {
            var result = DescribeConfigsResponse.DescribeConfigsResult()
            result.resourceType = resource.resourceType
            result.resourceName = resource.resourceName
            result.errorMessage = nil
            switch describedEntries(resource) {
            case .success(let (entries, configType)):
                let keys = resource.configurationKeys.map(Set.init)
                result.configs = entries.filter { keys?.contains($0.name) ?? true }.map { entry in
                    configResult(entry, type: configType(entry.name), includeSynonyms: request.includeSynonyms)
                }
            case .failure(let failure):
                result.errorCode = failure.code.rawValue
                result.errorMessage = failure.message
            }
            response.results.append(result)
        }
        return response
    }

    private func describedEntries(
        _ resource: DescribeConfigsRequest.DescribeConfigsResource
    ) -> Result<([ConfigEntry], (String) -> Int8), TopicCreationFailure> {
        switch resource.resourceType {
        case ConfigResourceType.topic:
            let name = resource.resourceName
            if let problem = TopicName.validate(name) {
                return .failure(TopicCreationFailure(code: .invalidTopicException, message: problem))
            }
            guard let topic = metadataStore.topic(named: name) else {
                return .failure(TopicCreationFailure(code: .unknownTopicOrPartition, message: "The topic '\(name)' does not exist."))
            }
            return .success((describeTopicConfigs(topic), { Self.topicConfigTypes[$0] ?? ConfigType.unknown }))
        case ConfigResourceType.broker:
            if resource.resourceName.isEmpty { return .success((describeDefaultBrokerConfigs(), Self.brokerConfigType)) }
            if let failure = checkBrokerResourceName(resource.resourceName) { return .failure(failure) }
            return .success((describeBrokerConfigs(), Self.brokerConfigType))
        case ConfigResourceType.brokerLogger:
            if let failure = checkBrokerResourceName(resource.resourceName) { return .failure(failure) }
            return .success(([], { _ in ConfigType.string }))
        default:
            return .failure(TopicCreationFailure(code: .invalidRequest, message: "Unsupported resource type: \(resource.resourceType)"))
        }
    }

    /// Broker resources must name this broker, as in Kafka (each broker answers for itself).
    func checkBrokerResourceName(_ name: String) -> TopicCreationFailure? {
        guard let id = Int32(name) else {
            return TopicCreationFailure(code: .invalidRequest, message: "Broker id must be an integer, but it is: \(name)")
        }
        guard id == brokerId else {
            return TopicCreationFailure(
                code: .invalidRequest, message: "Unexpected broker id, expected \(brokerId) or empty string, but received \(name)")
        }
        return nil
    }

    private func configResult(
        _ entry: ConfigEntry, type: Int8, includeSynonyms: Bool
    ) -> DescribeConfigsResponse.DescribeConfigsResourceResult {
        var c = DescribeConfigsResponse.DescribeConfigsResourceResult()
        c.name = entry.name
        c.value = entry.isSensitive ? nil : entry.value
        c.readOnly = entry.readOnly
        c.isDefault = entry.source == ConfigSource.defaultConfig
        c.configSource = entry.source
        c.isSensitive = entry.isSensitive
        c.configType = type
        c.documentation = nil
        if includeSynonyms {
            c.synonyms = entry.synonyms.map { s in
                var synonym = DescribeConfigsResponse.DescribeConfigsSynonym()
                synonym.name = s.name
                synonym.value = entry.isSensitive ? nil : s.value
                synonym.source = s.source
                return synonym
            }
        }
        return c
    }
}
