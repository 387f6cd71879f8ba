/// `/admin/reassign_partitions`: the partition moves requested through ZooKeeper (Kafka's format, version 1).
/// `replicas` is the target replica list; Kafka's tools also write `log_dirs`, which Tern ignores.
public struct ReassignPartitionsZNode: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        public var topic: String
        public var partition: Int32
        public var replicas: [Int32]

        public init(topic: String, partition: Int32, replicas: [Int32]) {
            self.topic = topic
            self.partition = partition
            self.replicas = replicas
        }
    }

    public var version: Int = 1
    public var partitions: [Entry]

    public init(partitions: [Entry]) { self.partitions = partitions }
}
