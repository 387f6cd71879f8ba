import Testing

@testable import KafkaClient

@Test func rangeAssignorSplitsLikeJava() {
    // Java's RangeAssignor: 5 partitions over 2 members -> [0,1,2] and [3,4]; per topic, members sorted by id.
    let plan = RangeAssignor.assign(
        subscriptions: ["b": ["t", "u"], "a": ["t", "u"], "c": ["u"]], partitionCounts: ["t": 5, "u": 2])
    #expect(plan["a"] == [TopicPartition("t", 0), TopicPartition("t", 1), TopicPartition("t", 2), TopicPartition("u", 0)])
    #expect(plan["b"] == [TopicPartition("t", 3), TopicPartition("t", 4), TopicPartition("u", 1)])
    #expect(plan["c"] == [])
}

@Suite(.serialized) struct GroupTests {
    @Test func subscribeConsumeCommitAndResume() async throws {
        try await withBroker { b in
            let admin = try KafkaAdmin(bootstrapServers: [b.bootstrap])
            try await admin.createTopics([.init(name: "gt", partitions: 2, replicationFactor: 1)])
            let producer = try KafkaProducer(properties: ["bootstrap.servers": b.bootstrap])
            for i in 0..<20 { try await producer.send(ProducerRecord(topic: "gt", key: Array("k\(i)".utf8), value: [UInt8(i)])) { _ in } }
            await producer.close()

            let props = ["bootstrap.servers": b.bootstrap, "group.id": "g1", "auto.offset.reset": "earliest",
                         "enable.auto.commit": "false"]
            let consumer = try KafkaConsumer(properties: props)
            try await consumer.subscribe(["gt"])
            #expect(await consumer.assignment == [TopicPartition("gt", 0), TopicPartition("gt", 1)])
            var got = 0
            while got < 20 { got += try await consumer.poll(timeout: .seconds(2)).count }
            try await consumer.commitSync()
            let committed = try await consumer.committed([TopicPartition("gt", 0), TopicPartition("gt", 1)])
            #expect(committed.values.reduce(0, +) == 20)
            await consumer.close()

            let offsets = try await admin.listGroupOffsets("g1")
            #expect(offsets.values.reduce(0, +) == 20)
            #expect(try await admin.listGroups().map(\.groupId).contains("g1"))
            // A new member resumes at the commits: nothing left to read.
            let again = try KafkaConsumer(properties: props)
            try await again.subscribe(["gt"])
            #expect(try await again.poll(timeout: .milliseconds(500)).isEmpty)
            await again.close()
            try await admin.deleteGroups(["g1"])
            await admin.close()
        }
    }
}
