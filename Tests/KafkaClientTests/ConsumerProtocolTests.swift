import Testing

@testable import KafkaClient

/// group.protocol=consumer (KIP-848) against the in-process broker's coordinator.
@Suite(.serialized) struct ConsumerProtocolTests {
    @Test func twoMembersSplitPartitionsAndTheSurvivorTakesAll() async throws {
        try await withBroker { b in
            let admin = try KafkaAdmin(bootstrapServers: [b.bootstrap])
            try await admin.createTopics([.init(name: "kip848", partitions: 4, replicationFactor: 1)])
            let producer = try KafkaProducer(properties: ["bootstrap.servers": b.bootstrap])
            for i in 0..<40 { try await producer.send(ProducerRecord(topic: "kip848", partition: Int32(i % 4), value: [UInt8(i)])) { _ in } }
            await producer.close()

            let props = ["bootstrap.servers": b.bootstrap, "group.id": "g848", "group.protocol": "consumer",
                         "auto.offset.reset": "earliest", "enable.auto.commit": "false"]
            let l1 = RecordingListener()
            let c1 = try KafkaConsumer(properties: props)
            try await c1.subscribe(["kip848"], listener: l1)
            var got = 0
            for _ in 0..<40 where await c1.assignment.count < 4 { got += try await c1.poll(timeout: .milliseconds(100)).count }
            #expect(await c1.assignment.count == 4)
            #expect(await (c1.group?.generationId ?? 0) > 0)

            let c2 = try KafkaConsumer(properties: props)
            try await c2.subscribe(["kip848"])
            let deadline = ContinuousClock.now + .seconds(20)
            func pollUntilSplit(_ c: KafkaConsumer) async throws {
                while ContinuousClock.now < deadline {
                    _ = try await c.poll(timeout: .milliseconds(100))
                    let n1 = await c1.assignment.count, n2 = await c2.assignment.count
                    if n1 == 2 && n2 == 2 { return }
                }
            }
            async let p1: Void = pollUntilSplit(c1)
            async let p2: Void = pollUntilSplit(c2)
            _ = try await (p1, p2)
            #expect(await c1.assignment.count == 2)
            #expect(await c2.assignment.count == 2)
            #expect(Set(await c1.assignment).isDisjoint(with: await c2.assignment))
            #expect(l1.all.contains { $0.hasPrefix("revoked") && $0.split(separator: ",").count == 2 })

            // Commits carry the member epoch and are accepted.
            let mine = await c2.assignment
            try await c2.commitSync([mine[0]: 1])
            #expect(try await c2.committed([mine[0]])[mine[0]] == 1)

            // The leaving member's partitions go back to the survivor.
            await c2.close()
            for _ in 0..<100 where await c1.assignment.count < 4 { _ = try await c1.poll(timeout: .milliseconds(100)) }
            #expect(await c1.assignment.count == 4)
            await c1.close()
            await admin.close()
        }
    }

    @Test func groupProtocolProperty() throws {
        #expect(try ConsumerConfig(properties: ["bootstrap.servers": "x:1", "group.protocol": "consumer"]).groupProtocolConsumer)
        #expect(throws: KafkaClientError.self) { try ConsumerConfig(properties: ["bootstrap.servers": "x:1", "group.protocol": "new"]) }
    }
}
