import KafkaProtocol
import Synchronization
import Testing

@testable import KafkaClient

@Suite(.serialized) struct ProduceConsumeTests {
    @Test(arguments: CompressionCodec.allCases)
    func producedRecordsComeBackWithEveryCodec(codec: CompressionCodec) async throws {
        try await withBroker { b in
            let admin = try KafkaAdmin(bootstrapServers: [b.bootstrap])
            try await admin.createTopics([.init(name: "codec", partitions: 1, replicationFactor: 1)])
            var config = ProducerConfig(bootstrapServers: [b.bootstrap])
            config.compression = codec
            let producer = try KafkaProducer(config: config)
            var last: RecordMetadata?
            for i in 0..<100 {
                try await producer.send(ProducerRecord(
                    topic: "codec", key: Array("k\(i)".utf8), value: Array("value-\(i)".utf8),
                    headers: [("h", Array("\(i)".utf8))])) { _ in }
            }
            last = try await producer.send(ProducerRecord(topic: "codec", value: Array("last".utf8)))
            await producer.close()
            #expect(last?.offset == 100)

            var cconfig = ConsumerConfig(bootstrapServers: [b.bootstrap])
            cconfig.autoOffsetReset = .earliest
            let consumer = try KafkaConsumer(config: cconfig)
            await consumer.assign([TopicPartition("codec", 0)])
            var got: [ConsumerRecord] = []
            while got.count < 101 { got += try await consumer.poll(timeout: .seconds(2)) }
            await consumer.close()
            #expect(got.map(\.offset) == Array(0...100))
            #expect(got[7].key == Array("k7".utf8))
            #expect(got[7].value == Array("value-7".utf8))
            #expect(got[7].headers.first?.key == "h")
            #expect(got[100].key == nil)
            await admin.close()
        }
    }

    /// Listener reports come a run at a time with the run's first offset; callbacks between them keep their own
    /// offsets; `pollFetched` hands out the same records in place, at most `maxRecords`, and `poll` goes on after them.
    @Test func deliveryListenerRunsAndFetchedRecordsInPlace() async throws {
        final class Reports: DeliveryListener {
            let offsets = Mutex<[Int: Int64]>([:])
            let callbackOffset = Mutex<Int64>(-2)
            func delivered(topic: String, partition: Int32, tags: [Int], result: Result<Int64, KafkaClientError>) {
                guard case .success(let first) = result else { return }
                offsets.withLock { for (i, tag) in tags.enumerated() { $0[tag] = first + Int64(i) } }
            }
        }
        try await withBroker { b in
            let producer = try KafkaProducer(properties: ["bootstrap.servers": b.bootstrap, "linger.ms": "50"])
            let reports = Reports()
            for i in 0..<30 {
                let record = ProducerRecord(topic: "runs", partition: 0, key: i % 3 == 0 ? [UInt8(i)] : nil, value: Array("v\(i)".utf8))
                if i == 10 {
                    try await producer.send(record) { r in reports.callbackOffset.withLock { $0 = (try? r.get())?.offset ?? -1 } }
                } else {
                    try await producer.send(record, tag: 100 + i, listener: reports)
                }
            }
            await producer.close()
            let offsets = reports.offsets.withLock { $0 }
            #expect(offsets.count == 29)
            #expect(offsets.allSatisfy { $0.value == Int64($0.key - 100) })
            #expect(reports.callbackOffset.withLock { $0 } == 10)

            let consumer = try KafkaConsumer(properties: ["bootstrap.servers": b.bootstrap, "auto.offset.reset": "earliest"])
            await consumer.assign([TopicPartition("runs", 0)])
            var fetched: [FetchedRecords] = []
            while fetched.isEmpty { fetched = try await consumer.pollFetched(timeout: .seconds(2), maxRecords: 12) }
            #expect(fetched.reduce(0) { $0 + $1.count } == 12)
            let firstRun = fetched.flatMap { run in run.records.map { run.batch.offset(of: $0) } }
            #expect(firstRun == Array(0..<12))
            let seventh = fetched.flatMap(\.records)[6]
            #expect(seventh.key.map { Array($0.readableBytesView) } == [6])
            #expect(seventh.value.map { Array($0.readableBytesView) } == Array("v6".utf8))
            var rest: [ConsumerRecord] = []
            while rest.count < 18 { rest += try await consumer.poll(timeout: .seconds(2)) }
            #expect(rest.map(\.offset) == Array(12..<30))
            #expect(rest[0].value == Array("v12".utf8) && rest[0].key == [12])
            await consumer.close()
        }
    }

    @Test func keyedRecordsGoWhereJavaWouldPutThem() async throws {
        try await withBroker { b in
            let admin = try KafkaAdmin(bootstrapServers: [b.bootstrap])
            try await admin.createTopics([.init(name: "keyed", partitions: 6, replicationFactor: 1)])
            let producer = try KafkaProducer(config: ProducerConfig(bootstrapServers: [b.bootstrap]))
            for key in ["a", "b", "foobar", "21", "order-17", ""] {
                let m = try await producer.send(ProducerRecord(topic: "keyed", key: Array(key.utf8), value: [1]))
                #expect(m.partition == toPositive(murmur2(Array(key.utf8))) % 6, "key '\(key)'")
            }
            await producer.close()
            await admin.close()
        }
    }

    @Test func seekToBeginningEndAndOffsets() async throws {
        try await withBroker { b in
            let producer = try KafkaProducer(properties: ["bootstrap.servers": b.bootstrap, "acks": "1", "linger.ms": "0"])
            for i in 0..<10 { _ = try await producer.send(ProducerRecord(topic: "auto", partition: 0, value: [UInt8(i)])) }
            await producer.close()
            let consumer = try KafkaConsumer(properties: ["bootstrap.servers": b.bootstrap])
            let tp = TopicPartition("auto", 0)
            await consumer.assign([tp])
            try await consumer.seekToEnd()
            #expect(try await consumer.position(tp) == 10)
            try await consumer.seekToBeginning()
            #expect(try await consumer.position(tp) == 0)
            await consumer.seek(tp, to: 7)
            let records = try await consumer.poll(timeout: .seconds(2))
            #expect(records.map(\.offset) == [7, 8, 9])
            #expect(records.first?.value == [7])
            await consumer.close()
        }
    }

    @Test func acksZeroAndIdempotentProducers() async throws {
        try await withBroker { b in
            let fire = try KafkaProducer(properties: ["bootstrap.servers": b.bootstrap, "acks": "0"])
            let m = try await fire.send(ProducerRecord(topic: "a0", partition: 0, value: [1]))
            #expect(m.offset == -1)
            await fire.close()

            let idem = try KafkaProducer(properties: ["bootstrap.servers": b.bootstrap, "enable.idempotence": "true"])
            for _ in 0..<500 { try await idem.send(ProducerRecord(topic: "idem", partition: 0, value: [2])) { _ in } }
            let last = try await idem.send(ProducerRecord(topic: "idem", partition: 0, value: [3]))
            #expect(last.offset == 500)
            await idem.close()
        }
    }

    @Test func unreachableBrokerErrorNamesTheAddress() async throws {
        do {
            _ = try await KafkaConnection.connect(host: "127.0.0.1", port: 1)
            Issue.record("connected to port 1")
        } catch let e as KafkaClientError {
            #expect(e.kind == .connectionFailed)
            #expect(e.message == "cannot connect to 127.0.0.1:1: connection refused")
        }
    }

    @Test func handshakeNegotiatesVersions() async throws {
        try await withBroker { b in
            let c = try await KafkaConnection.connect(host: "127.0.0.1", port: b.port)
            #expect(c.supports(.produce))
            #expect(try c.version(for: .fetch, clientRange: ClientApiVersions.range(FetchRequest.self)) == 12)
            #expect(try c.version(for: .metadata, clientRange: 0...12) == 12)
            #expect(throws: KafkaClientError.self) { try c.version(for: .produce, clientRange: 20...21) }  // newer than any broker
            // Older ApiVersions too: v0 has no client software fields.
            let v0 = try await c.send(ApiVersionsRequest(), version: 0)
            #expect(v0.errorCode == 0)
            await c.close()
        }
    }
}
