import KafkaProtocol
import TernCluster
import TernStorage

/// The broker's half of a topic deletion in a cluster: DeleteTopics queues `/admin/delete_topics/<t>` for the
/// controller (ClusterController+TopicDeletion.swift), which stops and deletes every replica and then the topic.
extension Broker {
    func requestTopicDeletion(named name: String) throws(TopicCreationFailure) -> TopicMetadata {
        guard config.deleteTopicEnable else {
            throw TopicCreationFailure(code: .topicDeletionDisabled, message: "Topic deletion is disabled.")
        }
        guard let store = zooKeeperStore, let topic = metadataStore.topic(named: name) else {
            throw TopicCreationFailure(code: .unknownTopicOrPartition, message: "This server does not host this topic-partition.")
        }
        let zk = store.zk
        do {
            let _: String = try zk.blocking {
                zk.create(KafkaZNodes.deleteTopic(name), data: [], mode: .persistent, completion: $0)
            }
            logger.info("topic \(name) queued for deletion at \(KafkaZNodes.deleteTopic(name))")
        } catch let e as ZooKeeperError where e.isNodeExists {
            // Already queued: this request waits for the same deletion.
        } catch {
            throw TopicCreationFailure(code: .kafkaStorageError, message: "cannot queue the deletion of \(name): \(error)")
        }
        return topic
    }
}
