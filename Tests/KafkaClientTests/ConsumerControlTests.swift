import Synchronization
import Testing

@testable import KafkaClient

@Test func roundRobinDealsPartitionsInTurn() {
    // Java's RoundRobinAssignor: partitions sorted by topic then number, members sorted, skipping non-subscribers.
    let plan = RoundRobinAssignor.assign(subscriptions: ["b": ["t", "u"], "a": ["t", "u"], "c": ["u"]], partitionCounts: ["t": 3, "u": 3])
    // t0->a, t1->b, t2 skips c -> a, u0->b, u1->c, u2->a.
    #expect(plan["a"] == [TopicPartition("t", 0), TopicPartition("t", 2), TopicPartition("u", 2)])
    #expect(plan["b"] == [TopicPartition("t", 1), TopicPartition("u", 0)])
    #expect(plan["c"] == [TopicPartition("u", 1)])
}

@Test func cooperativeStickyKeepsOwnedAndWithholdsMoves() {
    let all = (0..<4).map { TopicPartition("t", Int32($0)) }
    // First generation: "a" owned everything; "b" just joined. "a" keeps 2; the 2 that move to "b" are withheld.
    let first = CooperativeStickyAssignor.assign(["a": .init(topics: ["t"], owned: all), "b": .init(topics: ["t"])], partitionCounts: ["t": 4])
    #expect(first["a"]!.count == 2)
    #expect(first["b"] == [])
    // Second generation, after "a" revoked: "b" gets the rest, "a" keeps its own.
    let second = CooperativeStickyAssignor.assign(["a": .init(topics: ["t"], owned: first["a"]!), "b": .init(topics: ["t"])], partitionCounts: ["t": 4])
    #expect(second["a"] == first["a"])
    #expect(Set(second["b"]!) == Set(all).subtracting(first["a"]!))
    // A balanced group is left alone.
    let stable = CooperativeStickyAssignor.assign(["a": .init(topics: ["t"], owned: [all[3], all[0]]), "b": .init(topics: ["t"], owned: [all[1], all[2]])], partitionCounts: ["t": 4])
    #expect(stable["a"] == [all[0], all[3]] && stable["b"] == [all[1], all[2]])
}

@Test func assignmentStrategyProperty() throws {
    let c = try ConsumerConfig(properties: ["bootstrap.servers": "x:1", "partition.assignment.strategy": "org.apache.kafka.clients.consumer.RoundRobinAssignor,cooperative-sticky"])
    #expect(c.partitionAssignmentStrategy == [.roundRobin, .cooperativeSticky])
    #expect(throws: KafkaClientError.self) { try ConsumerConfig(properties: ["bootstrap.servers": "x:1", "partition.assignment.strategy": "sticky-ish"]) }
}

/// Records every callback, in order.
final class RecordingListener: ConsumerRebalanceListener {
    let events = Mutex<[String]>([])
    func onPartitionsRevoked(_ consumer: KafkaConsumer, _ partitions: [TopicPartition]) async {
        events.withLock { $0.append("revoked \(partitions.map(\.description).joined(separator: ","))") }
    }
    func onPartitionsAssigned(_ consumer: KafkaConsumer, _ partitions: [TopicPartition]) async {
        events.withLock { $0.append("assigned \(partitions.map(\.description).joined(separator: ","))") }
    }
    var all: [String] { events.withLock { $0 } }
}

@Suite(.serialized) struct ConsumerControlTests {
    func produce(_ b: TestBroker, _ topic: String, partitions: Int32, count: Int, timestamp: ((Int) -> Int64)? = nil) async throws {
        let admin = try KafkaAdmin(bootstrapServers: [b.bootstrap])
        try await admin.createTopics([.init(name: topic, partitions: partitions, replicationFactor: 1)])
        await admin.close()
        let producer = try KafkaProducer(properties: ["bootstrap.servers": b.bootstrap])
        for i in 0..<count {
            var r = ProducerRecord(topic: topic, partition: Int32(i) % partitions, value: [UInt8(i % 256)])
            if let timestamp { r.timestamp = timestamp(i) }
            try await producer.send(r) { _ in }
            // One batch per timestamped record: the broker's time lookup answers per batch (Kafka's per record).
            if timestamp != nil { await producer.flush() }
        }
        await producer.close()
    }

    @Test func pauseResumeAndOffsetsForTimes() async throws {
        try await withBroker { b in
            try await produce(b, "pr", partitions: 2, count: 10, timestamp: { 1_000 + Int64($0) * 100 })
            let consumer = try KafkaConsumer(properties: ["bootstrap.servers": b.bootstrap, "auto.offset.reset": "earliest"])
            try await consumer.assign(topic: "pr")
            let p0 = TopicPartition("pr", 0), p1 = TopicPartition("pr", 1)
            await consumer.pause([p1])
            #expect(await consumer.pausedPartitions == [p1])
            var seen: [ConsumerRecord] = []
            for _ in 0..<30 where seen.count < 5 { seen += try await consumer.poll(timeout: .milliseconds(300)) }
            seen += try await consumer.poll(timeout: .milliseconds(200))
            #expect(seen.count == 5 && seen.allSatisfy { $0.partition == 0 })
            await consumer.resume([p1])
            seen = []
            for _ in 0..<30 where seen.count < 5 { seen += try await consumer.poll(timeout: .milliseconds(300)) }
            #expect(seen.count == 5 && seen.allSatisfy { $0.partition == 1 })

            // Partition 0 holds records 0,2,4,6,8 at 1000,1200,...; partition 1 holds 1,3,... at 1100,1300,...
            let found = try await consumer.offsetsForTimes([p0: 1_250, p1: 1_100])
            #expect(found[p0]??.offset == 2 && found[p0]??.timestamp == 1_400)
            #expect(found[p1]??.offset == 0)
            let none = try await consumer.offsetsForTimes([p0: 99_999])
            #expect(none[p0]! == nil)
            await #expect(throws: KafkaClientError.self) { _ = try await consumer.offsetsForTimes([p0: -5]) }
            await consumer.close()
        }
    }

    @Test func commitAsyncCompletesInOrder() async throws {
        try await withBroker { b in
            try await produce(b, "ca", partitions: 1, count: 5)
            let consumer = try KafkaConsumer(properties: ["bootstrap.servers": b.bootstrap, "group.id": "ca-g",
                                                          "auto.offset.reset": "earliest", "enable.auto.commit": "false"])
            try await consumer.subscribe(["ca"])
            let tp = TopicPartition("ca", 0)
            let (stream, sink) = AsyncStream.makeStream(of: (Int64, Bool).self)
            for n in 1...3 {
                await consumer.commitAsync([tp: Int64(n)]) { offsets, error in
                    sink.yield((offsets[tp]!, error == nil))
                    if offsets[tp] == 3 { sink.finish() }
                }
            }
            var done: [Int64] = []
            for await (offset, ok) in stream {
                #expect(ok)
                done.append(offset)
            }
            #expect(done == [1, 2, 3])
            #expect(try await consumer.committed([tp])[tp] == 3)
            await consumer.close()
        }
    }

    @Test func cooperativeRebalanceRevokesOnlyMovedPartitions() async throws {
        try await withBroker { b in
            try await produce(b, "coop", partitions: 4, count: 8)
            let props = ["bootstrap.servers": b.bootstrap, "group.id": "coop-g", "auto.offset.reset": "earliest",
                         "partition.assignment.strategy": "cooperative-sticky", "heartbeat.interval.ms": "200"]
            let l1 = RecordingListener(), l2 = RecordingListener()
            let c1 = try KafkaConsumer(properties: props)
            try await c1.subscribe(["coop"], listener: l1)
            #expect(await c1.assignment.count == 4)
            let c2 = try KafkaConsumer(properties: props)
            let joining = Task { try await c2.subscribe(["coop"], listener: l2) }
            // Both keep polling, as applications do: c1 notices the rebalance, keeps 2, revokes 2 and rejoins;
            // the second rebalance gives c2 those 2.
            let deadline = ContinuousClock.now + .seconds(20)
            func pollUntilSettled(_ c: KafkaConsumer) async throws {
                while ContinuousClock.now < deadline {
                    _ = try await c.poll(timeout: .milliseconds(100))
                    let n1 = await c1.assignment.count, n2 = await c2.assignment.count
                    let j1 = await c1.group?.needsJoin, j2 = await c2.group?.needsJoin
                    let settled = j1 == false && j2 == false
                    if n1 == 2 && n2 == 2 && settled { return }
                }
            }
            async let p1: Void = pollUntilSettled(c1)
            try await joining.value
            async let p2: Void = pollUntilSettled(c2)
            _ = try await (p1, p2)
            #expect(await c1.assignment.count == 2)
            #expect(await c2.assignment.count == 2)
            #expect(Set(await c1.assignment).isDisjoint(with: await c2.assignment))
            #expect(await c1.group?.assignor == .cooperativeSticky)
            let events = l1.all
            #expect(events.first == "assigned coop-0,coop-1,coop-2,coop-3")
            // Only the two moved partitions were revoked, never all four.
            #expect(events.filter { $0.hasPrefix("revoked") }.count == 1)
            #expect(events.contains { $0.hasPrefix("revoked") && $0.split(separator: ",").count == 2 })
            #expect(l2.all.contains { $0.hasPrefix("assigned") && $0.split(separator: ",").count == 2 })
            await c1.close()
            await c2.close()
        }
    }

    @Test func eagerRoundRobinRevokesAllAndGroupPicksCommonAssignor() async throws {
        try await withBroker { b in
            try await produce(b, "rr", partitions: 2, count: 2)
            let base = ["bootstrap.servers": b.bootstrap, "group.id": "rr-g", "heartbeat.interval.ms": "200"]
            let l1 = RecordingListener()
            let c1 = try KafkaConsumer(properties: base.merging(["partition.assignment.strategy": "roundrobin,range"]) { $1 })
            try await c1.subscribe(["rr"], listener: l1)
            #expect(await c1.group?.assignor == .roundRobin)
            // The second member only knows range: range is the one both support.
            let c2 = try KafkaConsumer(properties: base.merging(["partition.assignment.strategy": "range"]) { $1 })
            let joining = Task { try await c2.subscribe(["rr"]) }
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline {
                let assignor = await c1.group?.assignor, n = await c1.assignment.count
                if assignor == .range && n == 1 { break }
                _ = try await c1.poll(timeout: .milliseconds(100))
            }
            try await joining.value
            #expect(await c1.group?.assignor == .range)
            #expect(await c2.assignment.count == 1)
            #expect(l1.all.contains("revoked rr-0,rr-1"))
            await c1.close()
            await c2.close()
        }
    }

    @Test func patternSubscriptionFollowsNewTopics() async throws {
        try await withBroker { b in
            try await produce(b, "pat-a", partitions: 1, count: 1)
            try await produce(b, "other", partitions: 1, count: 1)
            let consumer = try KafkaConsumer(properties: ["bootstrap.servers": b.bootstrap, "group.id": "pat-g",
                                                          "metadata.max.age.ms": "200", "auto.offset.reset": "earliest"])
            try await consumer.subscribe(pattern: "pat-.*")
            #expect(await consumer.subscription == ["pat-a"])
            #expect(await consumer.assignment == [TopicPartition("pat-a", 0)])
            try await produce(b, "pat-b", partitions: 1, count: 1)
            for _ in 0..<30 where await consumer.assignment.count < 2 { _ = try await consumer.poll(timeout: .milliseconds(100)) }
            #expect(await consumer.assignment == [TopicPartition("pat-a", 0), TopicPartition("pat-b", 0)])
            await #expect(throws: KafkaClientError.self) { try await consumer.subscribe(pattern: "(") }
            await consumer.close()
        }
    }

    @Test func backgroundHeartbeatsKeepABusyMember() async throws {
        try await withBroker { b in
            try await produce(b, "hb", partitions: 1, count: 1)
            let consumer = try KafkaConsumer(properties: ["bootstrap.servers": b.bootstrap, "group.id": "hb-g",
                                                          "session.timeout.ms": "6000", "heartbeat.interval.ms": "500"])
            try await consumer.subscribe(["hb"])
            let generation = await consumer.group?.generationId
            // Busy for longer than the session timeout without polling.
            try await Task.sleep(for: .seconds(8))
            let admin = try KafkaAdmin(bootstrapServers: [b.bootstrap])
            #expect(try await admin.describeGroup("hb-g").members.count == 1)
            await admin.close()
            _ = try await consumer.poll(timeout: .milliseconds(100))
            #expect(await consumer.group?.generationId == generation)
            #expect(await consumer.assignment == [TopicPartition("hb", 0)])
            await consumer.close()
        }
    }
}
