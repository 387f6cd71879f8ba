import KafkaProtocol
import TernStorage

/// Metadata (key 3), versions 0-12.
/// Lists this broker (its advertised endpoint on the listener the client used), the cluster id, the controller
/// (this broker), and the requested topics. With `zookeeper.connect`: every live broker from /brokers/ids, the
/// controller, and each partition's leader, leader epoch and ISR as the controller's UpdateMetadata requests
/// told them (MetadataCache; none yet: LEADER_NOT_AVAILABLE; replicas of dead brokers listed as offline) (all when `topics` is null, or empty at v0). Unknown topics are
/// auto-created when `auto.create.topics.enable` is on and the request allows it (v4+ `allow_auto_topic_creation`);
/// otherwise UNKNOWN_TOPIC_OR_PARTITION. Invalid names answer INVALID_TOPIC_EXCEPTION. Topic ids from v10, lookup
/// by id from v10 (name null). Authorized-operations fields answer "not requested" (-2147483648).
extension Broker {
    func metadata(_ request: MetadataRequest, _ ctx: RequestContext) throws -> MetadataResponse {
        var response = MetadataResponse()
        response.brokers = clusterBrokerEntries(ctx) ?? [brokerEntry(ctx)]
        response.clusterId = clusterId
        // Before the controller's first UpdateMetadata, /controller names it (admin clients wait for one).
        response.controllerId = zooKeeperStore == nil ? brokerId : (metadataCache.controllerId ?? metadataStore.controllerId() ?? -1)
        let allowAutoCreate = ctx.apiVersion < 4 || request.allowAutoTopicCreation
        let requested = request.topics
        if requested == nil || (ctx.apiVersion == 0 && requested?.isEmpty == true) {
            response.topics = metadataStore.allTopics().map { describeTopic($0) }
            return response
        }
        for entry in requested ?? [] {
            if let name = entry.name {
                if let topic = metadataStore.topic(named: name) {
                    response.topics.append(describeTopic(topic))
                } else if TopicName.validate(name) != nil {
                    response.topics.append(topicError(name: name, .invalidTopicException))
                } else if allowAutoCreate, let created = autoCreateTopic(name) {
                    response.topics.append(describeTopic(created))
                } else {
                    response.topics.append(topicError(name: name, .unknownTopicOrPartition))
                }
            } else if let topic = metadataStore.topic(id: entry.topicId) {
                response.topics.append(describeTopic(topic))
            } else {
                var t = topicError(name: nil, .unknownTopicId)
                t.topicId = entry.topicId
                response.topics.append(t)
            }
        }
        return response
    }

    func brokerEntry(_ ctx: RequestContext) -> MetadataResponse.MetadataResponseBroker {
        let endpoint = advertisedEndpoint(listenerName: ctx.connection.listenerName)
        var broker = MetadataResponse.MetadataResponseBroker()
        broker.nodeId = brokerId
        broker.host = endpoint.host
        broker.port = Int32(endpoint.port)
        broker.rack = config.brokerRack
        return broker
    }

    /// Every live broker, on the listener the client used (brokers without it are left out, as Kafka does).
    func clusterBrokerEntries(_ ctx: RequestContext) -> [MetadataResponse.MetadataResponseBroker]? {
        guard zooKeeperStore != nil else { return nil }
        let live = metadataCache.liveBrokers()
        guard !live.isEmpty else { return nil }
        return live.keys.sorted().compactMap { id in
            let b = live[id]!
            guard let e = b.endpoints[ctx.connection.listenerName] else { return nil }
            var broker = MetadataResponse.MetadataResponseBroker()
            broker.nodeId = id
            broker.host = e.host
            broker.port = Int32(e.port)
            broker.rack = b.rack
            return broker
        }
    }

    private func topicError(name: String?, _ code: ErrorCode) -> MetadataResponse.MetadataResponseTopic {
        var t = MetadataResponse.MetadataResponseTopic()
        t.errorCode = code.rawValue
        t.name = name
        return t
    }

    func describeTopic(_ topic: TopicMetadata) -> MetadataResponse.MetadataResponseTopic {
        var t = MetadataResponse.MetadataResponseTopic()
        t.name = topic.name
        t.topicId = topic.id
        t.isInternal = topic.isInternal
        t.partitions = topic.assignment.enumerated().map { index, replicas in
            var p = MetadataResponse.MetadataResponsePartition()
            p.partitionIndex = Int32(index)
            p.replicaNodes = replicas
            p.offlineReplicas = []
            if zooKeeperStore != nil {
                // Cluster: what the controller told; no state yet means no leader yet (clients retry).
                let live = metadataCache.liveBrokers()
                let l = metadataCache.leadership(of: TopicPartition(topic: topic.name, partition: Int32(index)))
                p.leaderId = l?.leader ?? -1
                p.leaderEpoch = l?.leaderEpoch ?? -1
                p.isrNodes = l?.isr ?? []
                p.offlineReplicas = replicas.filter { live[$0] == nil }
                if p.leaderId < 0 { p.errorCode = ErrorCode.leaderNotAvailable.rawValue }
                return p
            }
            p.leaderId = brokerId
            p.leaderEpoch = replicaManager.partition(topic: topic.name, index: Int32(index))?.leaderEpoch ?? 0
            p.isrNodes = replicas
            return p
        }
        return t
    }
}
