import ArgumentParser
import KafkaClient
import KafkaProtocol

/// `tern topics`, like `kafka-topics.sh`: --create, --list, --describe, --alter (partitions), --delete.
struct TopicsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topics", abstract: "Create, delete, describe, or change a topic (kafka-topics.sh).")

    @Option(help: "The Kafka server to connect to (host:port[,host:port]).") var bootstrapServer: String
    @Flag(help: "Create a new topic.") var create = false
    @Flag(help: "List all available topics.") var list = false
    @Flag(help: "List details for the given topics.") var describe = false
    @Flag(help: "Alter the number of partitions.") var alter = false
    @Flag(help: "Delete a topic.") var delete = false
    @Option(help: "The topic to create, alter, describe or delete.") var topic: String?
    @Option(help: "The number of partitions.") var partitions: Int32?
    @Option(help: "The replication factor.") var replicationFactor: Int16?
    @Option(help: "A topic configuration override (key=value); repeatable.") var config: [String] = []
    @Flag(help: "Only act if the topic exists (alter, delete, describe).") var ifExists = false
    @Flag(help: "Only create the topic if it does not exist.") var ifNotExists = false
    @Flag(help: "Exclude internal topics when listing or describing.") var excludeInternal = false

    func validate() throws {
        let actions = [create, list, describe, alter, delete].filter { $0 }.count
        guard actions == 1 else {
            throw ValidationError("Command must include exactly one action: --list, --describe, --create, --alter or --delete")
        }
        if (create || alter || delete) && topic == nil { throw ValidationError("--topic is required") }
        if alter && partitions == nil { throw ValidationError("--alter needs --partitions") }
    }

    func run() async throws {
        try await Tool.run {
            let admin = try KafkaAdmin(bootstrapServers: Tool.servers(bootstrapServer))
            defer { Task { await admin.close() } }
            if create {
                do {
                    try await admin.createTopics([KafkaAdmin.NewTopic(
                        name: topic!, partitions: partitions ?? -1, replicationFactor: replicationFactor ?? -1,
                        configs: try Tool.properties(config))])
                    print("Created topic \(topic!).")
                } catch let e as KafkaClientError where e.errorCode == .topicAlreadyExists && ifNotExists {}
            } else if list {
                for name in try await admin.listTopics(includeInternal: !excludeInternal) { print(name) }
            } else if describe {
                try await describeTopics(admin)
            } else if alter {
                do {
                    _ = try await admin.describeTopics([topic!])
                } catch let e as KafkaClientError where e.kind == .unknownTopic && ifExists { return }
                try await admin.createPartitions([topic!: partitions!])
            } else if delete {
                do {
                    try await admin.deleteTopics([topic!])
                } catch let e as KafkaClientError where e.errorCode == .unknownTopicOrPartition {
                    if ifExists { return }
                    throw KafkaClientError(.unknownTopic, "Topic '\(topic!)' does not exist as expected")
                }
            }
        }
    }

    private func describeTopics(_ admin: KafkaAdmin) async throws {
        let names: [String]
        if let topic {
            names = [topic]
        } else {
            names = try await admin.listTopics(includeInternal: !excludeInternal)
        }
        let infos: [TopicInfo]
        do { infos = try await admin.describeTopics(names) } catch let e as KafkaClientError where e.kind == .unknownTopic && ifExists {
            return
        }
        // Moves in progress, for the Adding/Removing Replicas columns (a broker that cannot tell: none shown).
        let moving = (try? await admin.listPartitionReassignments(
            infos.flatMap { i in i.partitions.map { TopicPartition(i.name, $0.partition) } })) ?? [:]
        for info in infos {
            let configs = try await admin.describeConfigs(.topic, info.name)
                .filter { $0.source == 1 }  // DYNAMIC_TOPIC_CONFIG: what kafka-topics.sh shows
                .map { "\($0.name)=\($0.isSensitive ? "<sensitive>" : $0.value ?? "null")" }
                .joined(separator: ",")
            // During a move the replication factor is the target's (Kafka: replicas minus those being removed).
            let rf = info.partitions.first.map { p in
                moving[TopicPartition(info.name, p.partition)].map { $0.replicas.count - $0.removingReplicas.count } ?? p.replicas.count
            } ?? 0
            print("Topic: \(info.name)\tTopicId: \(info.topicId)\tPartitionCount: \(info.partitions.count)\tReplicationFactor: \(rf)\tConfigs: \(configs)")
            for p in info.partitions {
                let leader = p.leader >= 0 ? "\(p.leader)" : "none"
                let replicas = p.replicas.map(String.init).joined(separator: ",")
                let isr = p.isr.map(String.init).joined(separator: ",")
                var line = "\tTopic: \(info.name)\tPartition: \(p.partition)\tLeader: \(leader)\tReplicas: \(replicas)\tIsr: \(isr)"
                if !p.offlineReplicas.isEmpty { line += "\tOffline: " + p.offlineReplicas.map(String.init).joined(separator: ",") }
                if let r = moving[TopicPartition(info.name, p.partition)] {
                    line += "\tAdding Replicas: " + r.addingReplicas.map(String.init).joined(separator: ",")
                    line += "\tRemoving Replicas: " + r.removingReplicas.map(String.init).joined(separator: ",")
                }
                print(line)
            }
        }
    }
}
