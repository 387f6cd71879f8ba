import KafkaProtocol
import Testing

@testable import KafkaClient

@Suite(.serialized) struct AdminTests {
    @Test func topicLifecycle() async throws {
        try await withBroker { b in
            let admin = try KafkaAdmin(bootstrapServers: [b.bootstrap])
            let ids = try await admin.createTopics([.init(name: "t", partitions: 3, replicationFactor: 1, configs: ["retention.ms": "60000"])])
            #expect(ids["t"] != nil && ids["t"] != .zero)
            await #expect(throws: KafkaClientError.self) {
                try await admin.createTopics([.init(name: "t", partitions: 3, replicationFactor: 1)])
            }
            #expect(try await admin.listTopics().contains("t"))
            let described = try await admin.describeTopics(["t"])
            #expect(described.first?.partitions.count == 3)
            try await admin.createPartitions(["t": 5])
            #expect(try await admin.describeTopics(["t"]).first?.partitions.count == 5)

            let configs = try await admin.describeConfigs(.topic, "t")
            #expect(configs.first { $0.name == "retention.ms" }?.value == "60000")
            try await admin.incrementalAlterConfigs(.topic, "t", [.set("retention.ms", "1234"), .set("cleanup.policy", "compact")])
            let after = try await admin.describeConfigs(.topic, "t", keys: ["retention.ms", "cleanup.policy"])
            #expect(after.first { $0.name == "retention.ms" }?.value == "1234")
            #expect(after.first { $0.name == "cleanup.policy" }?.value == "compact")
            try await admin.incrementalAlterConfigs(.topic, "t", [.delete("retention.ms")])
            #expect(try await admin.describeConfigs(.topic, "t", keys: ["retention.ms"]).first?.source != 1)

            try await admin.deleteTopics(["t"])
            await #expect(throws: KafkaClientError.self) { try await admin.describeTopics(["t"]) }
            await admin.close()
        }
    }

    @Test func offsetsAndDeleteRecords() async throws {
        try await withBroker { b in
            let admin = try KafkaAdmin(bootstrapServers: [b.bootstrap])
            try await admin.createTopics([.init(name: "d", partitions: 1, replicationFactor: 1)])
            let producer = try KafkaProducer(properties: ["bootstrap.servers": b.bootstrap])
            for i in 0..<20 { try await producer.send(ProducerRecord(topic: "d", value: [UInt8(i)])) { _ in } }
            await producer.close()
            let tp = TopicPartition("d", 0)
            #expect(try await admin.listOffsets([tp: -1])[tp]?.offset == 20)
            #expect(try await admin.listOffsets([tp: -2])[tp]?.offset == 0)
            #expect(try await admin.deleteRecords([tp: 5])[tp] == 5)
            #expect(try await admin.listOffsets([tp: -2])[tp]?.offset == 5)
            await admin.close()
        }
    }
}
