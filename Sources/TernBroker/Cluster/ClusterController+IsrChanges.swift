import FoundationEssentials
import TernCluster
import TernStorage

/// `/isr_change_notification/isr_change_<seq>`: `{"version":1,"partitions":[{"topic":"t","partition":0}]}`,
/// written (persistent sequential) by a leader after it changed ISRs in their state znodes.
struct IsrChangeNotification: Codable, Sendable, Equatable {
    struct Entry: Codable, Sendable, Equatable {
        var topic: String
        var partition: Int32
    }
    var version = 1
    var partitions: [Entry]

    init(_ tps: [TopicPartition]) { partitions = tps.map { Entry(topic: $0.topic, partition: $0.partition) } }
    var topicPartitions: [TopicPartition] { partitions.map { TopicPartition(topic: $0.topic, partition: $0.partition) } }
}

/// Kafka's IsrChangeNotificationHandler (ZooKeeper mode before AlterPartition): leaders change ISRs themselves,
/// then leave a sequential notification; the controller re-reads the named state znodes, tells every live broker
/// (UpdateMetadata) and deletes the notifications.
extension ClusterController {
    func handleIsrChangeNotifications() {
        let zk = store.zk
        guard let children: [String] = try? zk.blocking({ zk.children(KafkaZNodes.isrChangeNotification, watch: false, completion: $0) }),
              !children.isEmpty else { return }
        var tps: Set<TopicPartition> = []
        for child in children.sorted() {
            let path = "\(KafkaZNodes.isrChangeNotification)/\(child)"
            if let (data, _) = try? zk.blocking({ zk.get(path, watch: false, completion: $0) }),
               let n = ZNodeJSON.decode(IsrChangeNotification.self, data) {
                tps.formUnion(n.topicPartitions)
            }
            try? zk.blocking { zk.delete(path, version: -1, completion: $0) }
        }
        for tp in tps { store.refreshLeadership(tp) }
        let partitions = tps.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }.compactMap(controlledPartition)
        logger.debug("ISR change notification(s) for \(partitions.count) partition(s)")
        sendUpdateMetadata(partitions, to: Set(channels.keys))
    }
}
