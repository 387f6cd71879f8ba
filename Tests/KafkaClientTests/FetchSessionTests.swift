import KafkaProtocol
import Testing

@testable import KafkaClient

private func entries(_ offsets: [Int32: Int64], topic: String = "t") -> [TopicPartition: FetchSession.Entry] {
    Dictionary(uniqueKeysWithValues: offsets.map { (TopicPartition(topic, $0.key), FetchSession.Entry(fetchOffset: $0.value, maxBytes: 1024)) })
}

@Test func fetchSessionSendsOnlyWhatChanged() {
    var s = FetchSession()
    let first = s.next(entries([0: 0, 1: 0, 2: 0, 3: 0]))
    #expect(first.sessionId == 0 && first.epoch == 0 && first.partitions.count == 4 && first.forgotten.isEmpty)
    do { let ok = s.received(errorCode: 0, sessionId: 42, for: first); #expect(ok) }

    // Only partition 1 advanced: one partition on the wire, in session 42 at epoch 1.
    let second = s.next(entries([0: 0, 1: 5, 2: 0, 3: 0]))
    #expect(second.sessionId == 42 && second.epoch == 1)
    #expect(second.partitions.map(\.0) == [TopicPartition("t", 1)] && second.partitions[0].1.fetchOffset == 5)
    do { let ok = s.received(errorCode: 0, sessionId: 42, for: second); #expect(ok) }

    // Nothing changed: an empty incremental fetch. Then partition 3 paused/unassigned: forgotten.
    let third = s.next(entries([0: 0, 1: 5, 2: 0, 3: 0]))
    #expect(third.epoch == 2 && third.partitions.isEmpty && third.forgotten.isEmpty)
    do { let ok = s.received(errorCode: 0, sessionId: 42, for: third); #expect(ok) }
    let fourth = s.next(entries([0: 0, 1: 5, 2: 0]))
    #expect(fourth.epoch == 3 && fourth.partitions.isEmpty && fourth.forgotten == [TopicPartition("t", 3)])
    do { let ok = s.received(errorCode: 0, sessionId: 42, for: fourth); #expect(ok) }

    // Resumed, and max bytes changed on another: both sent.
    var wanted = entries([0: 0, 1: 5, 2: 0, 3: 0])
    wanted[TopicPartition("t", 2)]?.maxBytes = 2048
    let fifth = s.next(wanted)
    #expect(fifth.partitions.map(\.0) == [TopicPartition("t", 2), TopicPartition("t", 3)])
    #expect(s.closeRequest == FetchSession.Plan(sessionId: 42, epoch: -1, partitions: [], forgotten: []))
}

@Test func fetchSessionErrorsStartAFullFetch() {
    var s = FetchSession()
    let wanted = entries([0: 0, 1: 0])
    do { let ok = s.received(errorCode: 0, sessionId: 7, for: s.next(wanted)); #expect(ok) }
    let inc = s.next(wanted)
    #expect(inc.epoch == 1 && inc.partitions.isEmpty)
    // INVALID_FETCH_SESSION_EPOCH: full fetch closing session 7 and opening another (id 7, epoch 0).
    do { let ok = s.received(errorCode: ErrorCode.invalidFetchSessionEpoch.rawValue, sessionId: 0, for: inc); #expect(!ok) }
    let full = s.next(wanted)
    #expect(full.sessionId == 7 && full.epoch == 0 && full.partitions.count == 2)
    do { let ok = s.received(errorCode: 0, sessionId: 8, for: full); #expect(ok) }
    // FETCH_SESSION_ID_NOT_FOUND: a brand-new session (id 0, epoch 0).
    do { let ok = s.received(errorCode: ErrorCode.fetchSessionIdNotFound.rawValue, sessionId: 0, for: s.next(wanted)); #expect(!ok) }
    let fresh = s.next(wanted)
    #expect(fresh.sessionId == 0 && fresh.epoch == 0 && fresh.partitions.count == 2)
    // A broker without sessions answers 0: every fetch stays full.
    do { let ok = s.received(errorCode: 0, sessionId: 0, for: fresh); #expect(ok) }
    do { let again = s.next(wanted); #expect(again.epoch == 0) }
    // A lost request: full fetch again, naming the old session so the broker drops it.
    do { let ok = s.received(errorCode: 0, sessionId: 9, for: s.next(wanted)); #expect(ok) }
    s.failed()
    let retry = s.next(wanted)
    #expect(retry.sessionId == 9 && retry.epoch == 0 && retry.partitions.count == 2)
}

@Test func fetchSessionEpochWrapsToOne() {
    #expect(FetchSession.epoch(after: 1) == 2)
    #expect(FetchSession.epoch(after: Int32.max) == 1)
}

@Suite(.serialized) struct FetchSessionBrokerTests {
    @Test func recordsKeepFlowingInAnIncrementalSession() async throws {
        try await withBroker { b in
            let admin = try KafkaAdmin(bootstrapServers: [b.bootstrap])
            try await admin.createTopics([.init(name: "sessions", partitions: 8, replicationFactor: 1)])
            await admin.close()
            let producer = try KafkaProducer(properties: ["bootstrap.servers": b.bootstrap, "linger.ms": "0"])
            let consumer = try KafkaConsumer(properties: ["bootstrap.servers": b.bootstrap, "auto.offset.reset": "earliest", "fetch.max.wait.ms": "50"])
            try await consumer.assign(topic: "sessions")
            var got: [ConsumerRecord] = []
            var incrementalCounts: [(sent: Int, answered: Int)] = []
            for round in 0..<40 {
                // One partition gets a record per round; the other seven stay idle.
                let tp = Int32(round % 2)
                _ = try await producer.send(ProducerRecord(topic: "sessions", partition: tp, value: Array("r\(round)".utf8)))
                let want = round + 1
                while got.count < want { got += try await consumer.poll(timeout: .seconds(2)) }
                if round >= 2, let c = await consumer.lastFetchPartitionCounts.values.first { incrementalCounts.append(c) }
            }
            #expect(got.count == 40)
            #expect(Set(got.map { String(decoding: $0.value ?? [], as: UTF8.self) }) == Set((0..<40).map { "r\($0)" }))
            // Once the session is open, no request carries all 8 partitions and no answer lists the idle ones.
            #expect(!incrementalCounts.isEmpty)
            #expect(incrementalCounts.allSatisfy { $0.sent <= 2 && $0.answered <= 2 })
            let session = await consumer.fetchSessions.values.first
            #expect(session.map { $0.sessionId != 0 && $0.nextEpoch > 10 } == true)

            // Pausing forgets a partition in the session; resuming brings it back at its position.
            await consumer.pause([TopicPartition("sessions", 0)])
            _ = try await consumer.poll(timeout: .milliseconds(100))
            #expect(await consumer.fetchSessions.values.first?.session[TopicPartition("sessions", 0)] == nil)
            _ = try await producer.send(ProducerRecord(topic: "sessions", partition: 0, value: Array("after".utf8)))
            await consumer.resume([TopicPartition("sessions", 0)])
            var more: [ConsumerRecord] = []
            while more.isEmpty { more += try await consumer.poll(timeout: .seconds(2)) }
            #expect(more.map(\.offset) == [20] && more.first?.value == Array("after".utf8))
            await producer.close()
            await consumer.close()
            #expect(await consumer.fetchSessions.isEmpty)
        }
    }
}
